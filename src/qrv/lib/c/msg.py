"""Typed I/O messages: pack (client side) and parse (resource-manager side).

Layouts are the structs of :mod:`qrv.spec.iomsg`; each message kind is a
frozen dataclass with ``pack()`` and ``parse(raw)``.  A message too short
for its header is rejected with EINVAL (``MsgBad``), never an exception
escaping a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.spec.iomsg import (
    _IO_XTYPE_MASK,
    _IO_XTYPE_NONE,
    _IO_XTYPE_OFFSET,
    EINVAL,
    IO_CLOSE,
    IO_CONNECT,
    IO_DEVCTL,
    IO_LSEEK,
    IO_MSG,
    IO_READ,
    IO_STAT,
    IO_SYNC,
    IO_WRITE,
    XTYPE_OFFSET,
    ConnectSubtype,
    FileType,
    IoType,
    oserror,
)

MAX_PATH = 1024


def _need(raw: bytes, size: int) -> None:
    if len(raw) < size:
        raise oserror(EINVAL, f"message of {len(raw)} bytes, header needs {size}")


@dataclass(frozen=True)
class IoOpen:
    """``struct _io_connect`` with subtype ``_IO_CONNECT_OPEN`` (or COMBINE for stat)."""

    path: str
    ioflag: int
    mode: int = 0
    handle: int = 0
    file_type: int = FileType.ANY
    subtype: int = ConnectSubtype.OPEN
    eflag: int = 0

    def pack(self) -> bytes:
        raw = self.path.encode() + b"\0"
        hdr = IO_CONNECT.pack(
            IoType.CONNECT,
            self.subtype,
            self.file_type & 0xFFFFFFFF,
            0,
            0,
            0,
            self.handle,
            self.ioflag,
            self.mode,
            0,
            0,
            0,
            len(raw),
            self.eflag,
            0,
            0,
        )
        return hdr + raw

    @classmethod
    def parse(cls, raw: bytes) -> IoOpen:
        _need(raw, IO_CONNECT.size)
        f = IO_CONNECT.unpack_from(raw)
        subtype, file_type, handle, ioflag, mode, path_len, eflag = (
            f[1],
            f[2],
            f[6],
            f[7],
            f[8],
            f[12],
            f[13],
        )
        if path_len > MAX_PATH:
            raise oserror(EINVAL, "path too long")
        path = raw[IO_CONNECT.size : IO_CONNECT.size + path_len].split(b"\0", 1)[0]
        return cls(path.decode(errors="replace"), ioflag, mode, handle, file_type, subtype, eflag)


@dataclass(frozen=True)
class IoRead:
    """``_io_read``; `offset` is set for ``_IO_XTYPE_OFFSET`` (pread)."""

    nbytes: int
    offset: int | None = None
    xtype: int = _IO_XTYPE_NONE

    def pack(self) -> bytes:
        if self.offset is None:
            return IO_READ.pack(IoType.READ, IO_READ.size, self.nbytes, _IO_XTYPE_NONE, 0)
        size = IO_READ.size + XTYPE_OFFSET.size
        hdr = IO_READ.pack(IoType.READ, size, self.nbytes, _IO_XTYPE_OFFSET, 0)
        return hdr + XTYPE_OFFSET.pack(self.offset)

    @classmethod
    def parse(cls, raw: bytes) -> IoRead:
        _need(raw, IO_READ.size)
        _t, _c, nbytes, xtype, _z = IO_READ.unpack_from(raw)
        if xtype & _IO_XTYPE_MASK == _IO_XTYPE_OFFSET:
            _need(raw, IO_READ.size + XTYPE_OFFSET.size)
            (off,) = XTYPE_OFFSET.unpack_from(raw, IO_READ.size)
            return cls(nbytes, off, xtype)
        return cls(nbytes, None, xtype)


@dataclass(frozen=True)
class IoWrite:
    """``_io_write`` + data; `offset` is set for ``_IO_XTYPE_OFFSET`` (pwrite)."""

    data: bytes
    offset: int | None = None
    xtype: int = _IO_XTYPE_NONE

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def header(self) -> bytes:
        if self.offset is None:
            return IO_WRITE.pack(IoType.WRITE, IO_WRITE.size, len(self.data), _IO_XTYPE_NONE, 0)
        size = IO_WRITE.size + XTYPE_OFFSET.size
        hdr = IO_WRITE.pack(IoType.WRITE, size, len(self.data), _IO_XTYPE_OFFSET, 0)
        return hdr + XTYPE_OFFSET.pack(self.offset)

    @classmethod
    def parse(cls, raw: bytes) -> IoWrite:
        _need(raw, IO_WRITE.size)
        _t, _c, nbytes, xtype, _z = IO_WRITE.unpack_from(raw)
        start, off = IO_WRITE.size, None
        if xtype & _IO_XTYPE_MASK == _IO_XTYPE_OFFSET:
            _need(raw, start + XTYPE_OFFSET.size)
            (off,) = XTYPE_OFFSET.unpack_from(raw, start)
            start += XTYPE_OFFSET.size
        return cls(raw[start : start + max(nbytes, 0)], off, xtype)


@dataclass(frozen=True)
class IoStat:
    def pack(self) -> bytes:
        return IO_STAT.pack(IoType.STAT, IO_STAT.size, 0)

    @classmethod
    def parse(cls, raw: bytes) -> IoStat:
        _need(raw, IO_STAT.size)
        return cls()


@dataclass(frozen=True)
class IoLseek:
    offset: int
    whence: int

    def pack(self) -> bytes:
        return IO_LSEEK.pack(IoType.LSEEK, IO_LSEEK.size, self.whence, 0, self.offset)

    @classmethod
    def parse(cls, raw: bytes) -> IoLseek:
        _need(raw, IO_LSEEK.size)
        _t, _c, whence, _z, offset = IO_LSEEK.unpack_from(raw)
        return cls(offset, whence)


@dataclass(frozen=True)
class IoDevctl:
    """``_io_devctl``: `nbytes` is the larger of the in and out data sizes."""

    dcmd: int
    nbytes: int
    data: bytes = b""

    def pack(self) -> bytes:
        hdr = IO_DEVCTL.pack(IoType.DEVCTL, IO_DEVCTL.size, _s32(self.dcmd), self.nbytes, 0)
        return hdr + self.data

    @classmethod
    def parse(cls, raw: bytes) -> IoDevctl:
        _need(raw, IO_DEVCTL.size)
        _t, _c, dcmd, nbytes, _z = IO_DEVCTL.unpack_from(raw)
        return cls(dcmd & 0xFFFFFFFF, nbytes, raw[IO_DEVCTL.size :])


@dataclass(frozen=True)
class IoMsg:
    """``_io_msg``: a manager-specific message (``mgrid``, ``subtype``) + payload."""

    mgrid: int
    subtype: int
    data: bytes = b""

    def pack(self) -> bytes:
        return IO_MSG.pack(IoType.MSG, IO_MSG.size, self.mgrid, self.subtype) + self.data

    @classmethod
    def parse(cls, raw: bytes) -> IoMsg:
        _need(raw, IO_MSG.size)
        _t, _c, mgrid, subtype = IO_MSG.unpack_from(raw)
        return cls(mgrid, subtype, raw[IO_MSG.size :])


@dataclass(frozen=True)
class IoSync:
    """``_io_sync``: `flag` is O_SYNC (fsync: data and metadata) or O_DSYNC (fdatasync)."""

    flag: int

    def pack(self) -> bytes:
        return IO_SYNC.pack(IoType.SYNC, IO_SYNC.size, self.flag)

    @classmethod
    def parse(cls, raw: bytes) -> IoSync:
        _need(raw, IO_SYNC.size)
        _t, _c, flag = IO_SYNC.unpack_from(raw)
        return cls(flag)


@dataclass(frozen=True)
class IoClose:
    def pack(self) -> bytes:
        return IO_CLOSE.pack(IoType.CLOSE, IO_CLOSE.size)


def _s32(value: int) -> int:
    """A u32 dcmd as the signed int the header field holds."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value

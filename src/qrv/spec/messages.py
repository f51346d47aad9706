"""Typed I/O messages: pack (client side) and decode (server side), validated.

Layouts are the structs of :mod:`qrv.spec.iomsg`; each message kind is a
frozen dataclass with ``pack()`` and ``parse(raw)``, and :func:`decode`
picks the kind by the message type.  Decoding checks what the message alone
can tell, so that a handler only ever sees a well-formed message:

* too short for its header, its ``_xtype_offset`` or the data its
  ``nbytes`` announces (of what the client sent): EBADMSG;
* a negative ``nbytes`` or offset, or a path that is not UTF-8: EINVAL;
* a path longer than :data:`PATH_MAX`: ENAMETOOLONG.

A connect message carries a second path after its own for link, symlink and
rename (``extra_type`` LINK, SYMLINK, RENAME; ``extra_len`` bytes right after
the path, NUL included): it is checked as the path is.

The errors are :class:`MessageError` (an OSError).  What a field means for a
given file (whence, xtype, dcmd, the subtype of a connect) is the handler's
to judge.  Packing checks the same ranges, so a client cannot send what a
server would refuse to decode.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qrv.spec.iomsg import (
    _IO_XTYPE_MASK,
    _IO_XTYPE_NONE,
    _IO_XTYPE_OFFSET,
    EBADMSG,
    EINVAL,
    ENAMETOOLONG,
    IO_CHMOD,
    IO_CHOWN,
    IO_CLOSE,
    IO_CONNECT,
    IO_DEVCTL,
    IO_LSEEK,
    IO_MSG,
    IO_READ,
    IO_SPACE,
    IO_STAT,
    IO_SYNC,
    IO_UTIME,
    IO_WRITE,
    MSG_TYPE,
    PATH_MAX,
    XTYPE_OFFSET,
    ConnectExtra,
    ConnectSubtype,
    FileType,
    IoType,
    MessageError,
)


def encode_path(path: str) -> bytes:
    """The bytes a connect message carries for `path` (its NUL not included)."""
    try:
        raw = path.encode()
    except UnicodeEncodeError:
        raise MessageError(EINVAL, f"path {path!r} has no UTF-8 spelling") from None
    if b"\0" in raw:
        raise MessageError(EINVAL, "path holds a NUL byte")
    if len(raw) + 1 > PATH_MAX:
        raise MessageError(ENAMETOOLONG, f"path of {len(raw)} bytes")
    return raw


PATH_EXTRAS = frozenset({ConnectExtra.LINK, ConnectExtra.SYMLINK, ConnectExtra.RENAME})
"""Extra types whose extra is a path (NUL-terminated, UTF-8)."""


def _text(raw: bytes, what: str) -> str:
    """The NUL-terminated UTF-8 text at the start of `raw` (EINVAL when it is not UTF-8)."""
    text = raw.split(b"\0", 1)[0]
    try:
        return text.decode()
    except UnicodeDecodeError:
        raise MessageError(EINVAL, f"{what} {text!r} is not UTF-8") from None


def _not_negative(value: int, what: str) -> int:
    if value < 0:
        raise MessageError(EINVAL, f"{what} {value} is negative")
    return value


def _offset(raw: bytes, xtype: int, at: int) -> int | None:
    """The ``_xtype_offset`` at `at` when `xtype` says there is one."""
    if xtype & _IO_XTYPE_MASK != _IO_XTYPE_OFFSET:
        return None
    (off,) = XTYPE_OFFSET.unpack_from(raw, at)
    return _not_negative(int(off), "offset")


@dataclass(frozen=True)
class IoOpen:
    """``struct _io_connect``: an open (subtype OPEN, or COMBINE for stat and the
    attribute calls), or unlink, rename, mknod, readlink, link by its subtype.

    `extra` is the second path of a link/symlink/rename (see ``extra_type``).
    """

    path: str
    ioflag: int
    mode: int = 0
    handle: int = 0
    file_type: int = FileType.ANY
    subtype: int = ConnectSubtype.OPEN
    eflag: int = 0
    extra_type: int = ConnectExtra.NONE
    extra: str = ""

    def pack(self) -> bytes:
        raw = encode_path(self.path) + b"\0"
        extra = encode_path(self.extra) + b"\0" if self.extra_type in PATH_EXTRAS else b""
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
            self.extra_type,
            len(extra),
        )
        return hdr + raw + extra

    def to_server(self, path: str, handle: int, file_type: int, extra: str) -> IoOpen:
        """This connect as one server gets it: `path` the remainder under its mount
        point, `handle` and `file_type` what it registered there, `extra` the second
        path at that server (``dataclasses.replace`` of those four fields, without its
        walk over every field on each open)."""
        return IoOpen(
            path,
            self.ioflag,
            self.mode,
            handle,
            file_type,
            self.subtype,
            self.eflag,
            self.extra_type,
            extra,
        )

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoOpen:
        del srcmsglen
        f = IO_CONNECT.unpack_from(raw)
        subtype, file_type, handle, ioflag, mode = f[1], f[2], f[6], f[7], f[8]
        path_len, eflag, extra_type, extra_len = f[12], f[13], f[14], f[15]
        if path_len > PATH_MAX:
            raise MessageError(ENAMETOOLONG, f"path of {path_len} bytes")
        end = IO_CONNECT.size + path_len
        if len(raw) < end:
            raise MessageError(EBADMSG, f"path of {path_len} bytes in a {len(raw)}-byte message")
        text = _text(raw[IO_CONNECT.size : end], "path")
        extra = ""
        if extra_type in PATH_EXTRAS:
            if extra_len > PATH_MAX:
                raise MessageError(ENAMETOOLONG, f"second path of {extra_len} bytes")
            if len(raw) < end + extra_len:
                raise MessageError(EBADMSG, f"second path of {extra_len} bytes cut short")
            extra = _text(raw[end : end + extra_len], "second path")
        return cls(text, ioflag, mode, handle, file_type, subtype, eflag, extra_type, extra)


IoConnect = IoOpen
"""Every connect message is one :class:`IoOpen` (QNX's ``struct _io_connect``)."""


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
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoRead:
        del srcmsglen
        _t, _c, nbytes, xtype, _z = IO_READ.unpack_from(raw)
        _not_negative(nbytes, "nbytes")
        return cls(nbytes, _offset(raw, xtype, IO_READ.size), xtype)


@dataclass(frozen=True)
class IoWrite:
    """``_io_write`` + data; `offset` is set for ``_IO_XTYPE_OFFSET`` (pwrite).

    `data` holds what the receive buffer held of the announced ``nbytes``
    (a handler reads the rest with ``resmgr_msgread``).
    """

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
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoWrite:
        """`srcmsglen`: how long the client's message was (default: all of `raw`)."""
        _t, _c, nbytes, xtype, _z = IO_WRITE.unpack_from(raw)
        _not_negative(nbytes, "nbytes")
        off = _offset(raw, xtype, IO_WRITE.size)
        start = IO_WRITE.size if off is None else IO_WRITE.size + XTYPE_OFFSET.size
        sent = len(raw) if srcmsglen is None else srcmsglen
        if sent < start + nbytes:
            raise MessageError(EBADMSG, f"{nbytes} bytes announced, {sent - start} sent")
        return cls(raw[start : start + nbytes], off, xtype)


@dataclass(frozen=True)
class IoStat:
    def pack(self) -> bytes:
        return IO_STAT.pack(IoType.STAT, IO_STAT.size, 0)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoStat:
        del srcmsglen
        IO_STAT.unpack_from(raw)
        return cls()


@dataclass(frozen=True)
class IoLseek:
    offset: int
    whence: int

    def pack(self) -> bytes:
        return IO_LSEEK.pack(IoType.LSEEK, IO_LSEEK.size, self.whence, 0, self.offset)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoLseek:
        del srcmsglen
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
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoDevctl:
        del srcmsglen
        _t, _c, dcmd, nbytes, _z = IO_DEVCTL.unpack_from(raw)
        _not_negative(nbytes, "nbytes")
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
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoMsg:
        del srcmsglen
        _t, _c, mgrid, subtype = IO_MSG.unpack_from(raw)
        return cls(mgrid, subtype, raw[IO_MSG.size :])


@dataclass(frozen=True)
class IoSync:
    """``_io_sync``: `flag` is O_SYNC (fsync: data and metadata) or O_DSYNC (fdatasync)."""

    flag: int

    def pack(self) -> bytes:
        return IO_SYNC.pack(IoType.SYNC, IO_SYNC.size, self.flag)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoSync:
        del srcmsglen
        _t, _c, flag = IO_SYNC.unpack_from(raw)
        return cls(flag)


@dataclass(frozen=True)
class IoClose:
    def pack(self) -> bytes:
        return IO_CLOSE.pack(IoType.CLOSE, IO_CLOSE.size)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoClose:
        del srcmsglen
        IO_CLOSE.unpack_from(raw)
        return cls()


@dataclass(frozen=True)
class IoChmod:
    """``_io_chmod``: the new permission bits of the open file."""

    mode: int

    def pack(self) -> bytes:
        return IO_CHMOD.pack(IoType.CHMOD, IO_CHMOD.size, self.mode)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoChmod:
        del srcmsglen
        _t, _c, mode = IO_CHMOD.unpack_from(raw)
        return cls(mode)


@dataclass(frozen=True)
class IoChown:
    """``_io_chown``: the new owner and group (-1: unchanged)."""

    uid: int
    gid: int

    def pack(self) -> bytes:
        return IO_CHOWN.pack(IoType.CHOWN, IO_CHOWN.size, self.uid, self.gid)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoChown:
        del srcmsglen
        _t, _c, uid, gid = IO_CHOWN.unpack_from(raw)
        if uid < -1 or gid < -1:
            raise MessageError(EINVAL, f"owner {uid}:{gid}")
        return cls(uid, gid)


@dataclass(frozen=True)
class IoUtime:
    """``_io_utime``: access and modification times, or ``now`` (cur_flag)."""

    atime: int = 0
    mtime: int = 0
    now: bool = False

    def pack(self) -> bytes:
        return IO_UTIME.pack(IoType.UTIME, IO_UTIME.size, int(self.now), self.atime, self.mtime)

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoUtime:
        del srcmsglen
        _t, _c, cur_flag, atime, mtime = IO_UTIME.unpack_from(raw)
        if not cur_flag:
            _not_negative(atime, "atime")
            _not_negative(mtime, "mtime")
        return cls(atime, mtime, bool(cur_flag))


@dataclass(frozen=True)
class IoSpace:
    """``_io_space``: F_ALLOCSP64 / F_FREESP64 of ``len`` bytes at ``start`` (from
    ``whence``); ``ftruncate`` is F_FREESP64 at its length with len 0."""

    subtype: int
    start: int
    len: int = 0
    whence: int = 0

    def pack(self) -> bytes:
        return IO_SPACE.pack(
            IoType.SPACE, IO_SPACE.size, self.subtype, self.whence, self.start, self.len
        )

    @classmethod
    def parse(cls, raw: bytes, srcmsglen: int | None = None) -> IoSpace:
        del srcmsglen
        _t, _c, subtype, whence, start, length = IO_SPACE.unpack_from(raw)
        _not_negative(length, "len")
        return cls(subtype, start, length, whence)


@dataclass(frozen=True)
class IoOther:
    """A message of a type no decoder here knows (its server answers ENOSYS)."""

    type: int


IoMessage = (
    IoOpen
    | IoRead
    | IoWrite
    | IoStat
    | IoLseek
    | IoDevctl
    | IoMsg
    | IoSync
    | IoClose
    | IoChmod
    | IoChown
    | IoUtime
    | IoSpace
    | IoOther
)

_DECODERS: dict[int, Callable[[bytes, int | None], IoMessage]] = {
    int(IoType.CONNECT): IoOpen.parse,
    int(IoType.READ): IoRead.parse,
    int(IoType.WRITE): IoWrite.parse,
    int(IoType.STAT): IoStat.parse,
    int(IoType.LSEEK): IoLseek.parse,
    int(IoType.DEVCTL): IoDevctl.parse,
    int(IoType.MSG): IoMsg.parse,
    int(IoType.SYNC): IoSync.parse,
    int(IoType.CLOSE): IoClose.parse,
    int(IoType.CHMOD): IoChmod.parse,
    int(IoType.CHOWN): IoChown.parse,
    int(IoType.UTIME): IoUtime.parse,
    int(IoType.SPACE): IoSpace.parse,
}


def decode(raw: bytes, srcmsglen: int | None = None) -> IoMessage:
    """The message in `raw` (of a client message `srcmsglen` bytes long), validated.

    MessageError (EBADMSG, EINVAL, ENAMETOOLONG) when it is malformed.
    """
    if len(raw) < MSG_TYPE.size:
        raise MessageError(EBADMSG, f"{len(raw)} bytes: no message type")
    parse = _DECODERS.get(mtype := raw[0] | raw[1] << 8)
    if parse is None:
        return IoOther(mtype)
    return parse(raw, srcmsglen)


def _s32(value: int) -> int:
    """A u32 dcmd as the signed int the header field holds (EINVAL beyond 32 bits)."""
    if not -(1 << 31) <= value <= 0xFFFFFFFF:
        raise MessageError(EINVAL, f"dcmd {value:#x} is wider than 32 bits")
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value

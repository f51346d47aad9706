"""QNX Neutrino I/O message formats, kernel constants and file-mode bits.

Sources (see reference/notes/qnx-programming-model.md): ``sys/neutrino.h``
(channel flags, pulse layout and codes), ``sys/iomsg.h`` (message types,
connect subtypes, message layouts), ``sys/resmgr.h`` (resmgr flags and
handler return codes), ``sys/ftype.h``, ``devctl.h`` (DCMD encoding),
``sys/stat.h`` and ``fcntl.h`` (QNX values of O_* flags).

Layouts are little-endian and packed as the QNX 64-bit ABI lays out these
structs, except :data:`STAT` (our own fixed layout, documented below) and
:class:`Pulse` (``sigval`` carried as 32 bits).  errno values are the host's
(:mod:`errno`); the modelled system is self-consistent.

Every layout is a :class:`Layout`: unpacking a buffer too short for it
raises :class:`MessageError` (EBADMSG) and packing a value its field cannot
hold raises :class:`MessageError` (EOVERFLOW).  A MessageError is an
OSError, so a server loop that answers OSError with ``MsgError`` answers a
malformed message, or a reply value out of range, with its errno and lives on.
"""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

EOK = 0
EBADMSG = errno.EBADMSG
EOVERFLOW = errno.EOVERFLOW
ENAMETOOLONG = errno.ENAMETOOLONG

OFF_MAX = (1 << 63) - 1
"""The largest file offset (``off_t`` is 64-bit signed)."""
NBYTES_MAX = (1 << 31) - 1
"""The largest byte count a read, write or devctl message carries (its ``nbytes`` is an int)."""
PATH_MAX = 1024
"""The longest path a connect message carries, its NUL included (QNX ``<limits.h>``)."""


class MessageError(OSError):
    """A message that is not what its type says (too short: EBADMSG; a field out of
    range: EINVAL, ENAMETOOLONG), or a reply value its field cannot hold (EOVERFLOW)."""

    def __init__(self, err: int, detail: str) -> None:
        super().__init__(err, os.strerror(err), detail)


class Layout(struct.Struct):
    """A message layout: a ``struct.Struct`` whose failures are :class:`MessageError`."""

    def pack(self, *values: Any) -> bytes:
        try:
            return super().pack(*values)
        except struct.error as exc:
            raise MessageError(EOVERFLOW, f"{self.format}: {exc}") from None

    def unpack_from(self, buffer: ReadableBuffer, offset: int = 0) -> tuple[Any, ...]:
        try:
            return super().unpack_from(buffer, offset)
        except struct.error:
            have = memoryview(buffer).nbytes - offset
            raise MessageError(EBADMSG, f"{have} bytes where {self.size} are needed") from None

    def unpack(self, buffer: ReadableBuffer) -> tuple[Any, ...]:
        have = memoryview(buffer).nbytes
        if have != self.size:
            raise MessageError(EBADMSG, f"{have} bytes where {self.size} are expected")
        return super().unpack(buffer)


# -- sys/neutrino.h ------------------------------------------------------------


class ChannelFlag(IntFlag):
    """``_NTO_CHF_*`` (neutrino.h)."""

    FIXED_PRIORITY = 0x1
    UNBLOCK = 0x2
    THREAD_DEATH = 0x4
    DISCONNECT = 0x8
    NET_MSG = 0x10
    SENDER_LEN = 0x20
    COID_DISCONNECT = 0x40
    REPLY_LEN = 0x80


_NTO_SIDE_CHANNEL = 0x40000000
"""A coid with this bit is a side channel, outside the fd space."""


class PulseCode(IntEnum):
    """Kernel pulse codes (negative) and the user range (neutrino.h)."""

    UNBLOCK = -32
    DISCONNECT = -33
    THREADDEATH = -34
    COIDDEATH = -35
    MINAVAIL = 0
    MAXAVAIL = 127


class ThreadState(IntEnum):
    """``STATE_*`` (sys/states.h); pidin prints the names."""

    DEAD = 0
    RUNNING = 1
    READY = 2
    STOPPED = 3
    SEND = 4
    RECEIVE = 5
    REPLY = 6
    STACK = 7
    WAITTHREAD = 8
    WAITPAGE = 9
    SIGSUSPEND = 10
    SIGWAITINFO = 11
    NANOSLEEP = 12
    MUTEX = 13
    CONDVAR = 14
    JOIN = 15
    INTR = 16


@dataclass(frozen=True)
class Pulse:
    """``struct _pulse {u16 type; u16 subtype; i8 code; u8 zero[3]; sigval value; i32 scoid}``.

    type = subtype = 0 for a pulse; ``value`` carried as a 32-bit int.
    """

    code: int
    value: int
    scoid: int

    FMT = Layout("<HHb3xii")

    def pack(self) -> bytes:
        return self.FMT.pack(0, 0, self.code, self.value, self.scoid)

    @classmethod
    def unpack(cls, data: bytes) -> Pulse:
        _type, _subtype, code, value, scoid = cls.FMT.unpack_from(data)
        return cls(code, value, scoid)


assert Pulse.FMT.size == 16

# -- sys/iomsg.h ---------------------------------------------------------------


class IoType(IntEnum):
    """Message types (``_IO_BASE`` = 0x100)."""

    CONNECT = 0x100
    READ = 0x101
    WRITE = 0x102
    RSVD_CLOSE_OCB = 0x103
    STAT = 0x104
    NOTIFY = 0x105
    DEVCTL = 0x106
    RSVD_UNBLOCK = 0x107
    PATHCONF = 0x108
    LSEEK = 0x109
    CHMOD = 0x10A
    CHOWN = 0x10B
    UTIME = 0x10C
    OPENFD = 0x10D
    FDINFO = 0x10E
    LOCK = 0x10F
    SPACE = 0x110
    SHUTDOWN = 0x111
    MMAP = 0x112
    MSG = 0x113
    RSVD = 0x114
    DUP = 0x115
    CLOSE = 0x116
    RSVD_LOCK_OCB = 0x117
    RSVD_UNLOCK_OCB = 0x118
    SYNC = 0x119


_IO_MAX = 0x1FF


class ConnectSubtype(IntEnum):
    """``_IO_CONNECT_*`` subtypes (iomsg.h L187-198)."""

    COMBINE = 0
    COMBINE_CLOSE = 1
    OPEN = 2
    UNLINK = 3
    RENAME = 4
    MKNOD = 5
    READLINK = 6
    LINK = 7
    RSVD_UNBLOCK = 8
    MOUNT = 9


class ConnectExtra(IntEnum):
    """``_IO_CONNECT_EXTRA_*``: what follows the path of a connect message."""

    NONE = 0
    LINK = 1  # link(): the existing file's path (qrv; QNX passes an open file)
    SYMLINK = 2  # symlink(): the link's target text
    MQUEUE = 3
    PHYSICAL = 4
    RESMGR_LINK = 5
    PROC_SYMLINK = 6
    RENAME = 7  # rename(): the source path
    MOUNT = 8
    MOUNT_OCB = 9
    TYPED_MEM = 10


_IO_FLAG_RD = 1
_IO_FLAG_WR = 2
_IO_FLAG_MASK = 3

_IO_XTYPE_NONE = 0
_IO_XTYPE_OFFSET = 3
_IO_XTYPE_MASK = 0xFF

_IOMGR_PCI = 0x0D
"""``mgrid`` of the PCI server's ``_IO_MSG`` messages (sys/iomgr.h)."""

# -- fcntl.h (QNX values) -----------------------------------------------------------

O_RDONLY = 0o0
O_WRONLY = 0o1
O_RDWR = 0o2
O_ACCMODE = 0o3
O_APPEND = 0x0008
O_DSYNC = 0x0010
O_SYNC = 0x0020
O_RSYNC = 0x0040
O_NONBLOCK = 0x0080
O_CREAT = 0x0100
O_TRUNC = 0x0200
O_EXCL = 0x0400
O_NOCTTY = 0x0800
O_NOFOLLOW = 0x00080000
"""Do not follow a symbolic link in the last component (lstat); qrv's value."""
O_SETFLAG = O_APPEND | O_NONBLOCK | O_DSYNC | O_SYNC | O_RSYNC
"""Flags DCMD_ALL_SETFLAGS may change (fcntl F_SETFL)."""

SEEK_SET = 0
SEEK_CUR = 1
SEEK_END = 2

F_ALLOCSP64 = 110
"""``_IO_SPACE`` subtype: allocate (extend the file to) ``start + len``; len 0: to ``start``."""
F_FREESP64 = 111
"""``_IO_SPACE`` subtype: free ``[start, start + len)``; len 0: set the size to ``start``."""


def ioflag_from_oflag(oflag: int) -> int:
    """``ioflag = oflag + 1`` on the access bits: RDONLY->RD, WRONLY->WR, RDWR->RD|WR."""
    return (oflag & ~O_ACCMODE) | ((oflag & O_ACCMODE) + 1)


def oflag_from_ioflag(ioflag: int) -> int:
    """Inverse of :func:`ioflag_from_oflag` (as ``iofunc_devctl`` computes GETFLAGS)."""
    return (ioflag & ~O_ACCMODE) | ((ioflag - 1) & O_ACCMODE)


# -- sys/stat.h ---------------------------------------------------------------

S_IFMT = 0o170000
S_IFIFO = 0o010000
S_IFCHR = 0o020000
S_IFDIR = 0o040000
S_IFNAM = 0o050000
S_IFBLK = 0o060000
S_IFREG = 0o100000
S_IFLNK = 0o120000
S_IFSOCK = 0o140000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000
"""The sticky bit: in a directory, an entry is removed or renamed only by its owner,
the directory's owner or root (POSIX XBD 4.3 "Directory Protection")."""
S_IRUSR, S_IWUSR, S_IXUSR = 0o400, 0o200, 0o100
S_IREAD, S_IWRITE, S_IEXEC = S_IRUSR, S_IWUSR, S_IXUSR


class FileType(IntEnum):
    """``_FTYPE_*`` (sys/ftype.h)."""

    ANY = 0
    FILE = 1
    LINK = 2
    SYMLINK = 3
    PIPE = 4
    SHMEM = 5
    MQUEUE = 6
    SOCKET = 7
    NAME = 12
    MATCHED = -1


# -- sys/resmgr.h ----------------------------------------------------------------


class ResmgrFlag(IntFlag):
    """``_RESMGR_FLAG_*`` (resmgr.h L244-253)."""

    BEFORE = 0x1
    AFTER = 0x2
    OPAQUE = 0x4
    FTYPEONLY = 0x8
    FTYPEALL = 0x10
    DIR = 0x100
    SELF = 0x200


_RESMGR_FLAG_MASK = 0x31F
_RESMGR_NOREPLY = 0x80000000
_RESMGR_DEFAULT = 0x80000001

# -- devctl.h -------------------------------------------------------------------

DEVDIR_NONE = 0x00000000
DEVDIR_TO = 0x80000000
DEVDIR_FROM = 0x40000000
DEVDIR_TOFROM = DEVDIR_TO | DEVDIR_FROM
_DCMD_ALL = 0x01


def dcmd(direction: int, cls: int, cmd: int, size: int) -> int:
    """``__DIOF/__DIOT/__DIOTF``: ``(size << 16) + (class << 8) + cmd + direction``."""
    return (size << 16) + (cls << 8) + cmd + direction


def dcmd_size(code: int) -> int:
    """The data size coded in a dcmd (bits 16..29)."""
    return (code >> 16) & 0x3FFF


_INT_SIZE = 4
DCMD_ALL_GETFLAGS = dcmd(DEVDIR_FROM, _DCMD_ALL, 1, _INT_SIZE)
DCMD_ALL_SETFLAGS = dcmd(DEVDIR_TO, _DCMD_ALL, 2, _INT_SIZE)
DCMD_ALL_GETMOUNTFLAGS = dcmd(DEVDIR_FROM, _DCMD_ALL, 3, _INT_SIZE)
_DCMD_FSYS = 0x02
assert DCMD_ALL_GETFLAGS == 0x40040101 and DCMD_ALL_SETFLAGS == 0x80040102

# -- message layouts ---------------------------------------------------------------

MSG_TYPE = Layout("<H")
"""Every message starts with its u16 type (pulses have type 0)."""

IO_CONNECT = Layout("<HHIHHIIIIHHHHBBH")
"""``struct _io_connect``: type, subtype, file_type, reply_max, entry_max, key,
handle, ioflag, mode, sflag, access, zero, path_len, eflag, extra_type,
extra_len; the NUL-terminated path follows."""
assert IO_CONNECT.size == 40

IO_READ = Layout("<HHiII")
"""``struct _io_read``: type, combine_len, nbytes, xtype, zero.  With
``_IO_XTYPE_OFFSET`` a ``struct _xtype_offset {i64 offset}`` follows."""
IO_WRITE = Layout("<HHiII")
"""``struct _io_write``: same header as read; the data follow (after the
xtype offset when ``_IO_XTYPE_OFFSET``)."""
XTYPE_OFFSET = Layout("<q")
IO_CLOSE = Layout("<HH")
IO_STAT = Layout("<HHI")
IO_LSEEK = Layout("<HHhHq")
"""``struct _io_lseek``: type, combine_len, whence, zero, offset.  Reply: u64 offset."""
LSEEK_REPLY = Layout("<q")
IO_DEVCTL = Layout("<HHiii")
"""``struct _io_devctl``: type, combine_len, dcmd, nbytes, zero; data follow."""
DEVCTL_REPLY = Layout("<Iiii")
"""``struct _io_devctl_reply``: zero, ret_val, nbytes, zero2; data follow."""
IO_SYNC = Layout("<HHI")
"""``struct _io_sync``: type, combine_len, flag (O_SYNC for fsync, O_DSYNC for fdatasync)."""
IO_MSG = Layout("<HHHH")
"""``struct _io_msg``: type, combine_len, mgrid, subtype; payload follows."""
assert IO_READ.size == 16 and IO_LSEEK.size == 16 and IO_DEVCTL.size == 16
assert DEVCTL_REPLY.size == 16 and IO_MSG.size == 8 and IO_STAT.size == 8

STAT = Layout("<QqIIiiqqqIIIIq")
"""Reply to ``_IO_STAT`` (qrv's fixed layout of ``struct stat``): ino, size,
dev, rdev, uid, gid, mtime, atime, ctime, mode, nlink, blksize, pad, blocks."""
assert STAT.size == 80

IO_CHMOD = Layout("<HHI")
"""``struct _io_chmod``: type, combine_len, mode (permission bits; the type bits are ignored)."""
IO_CHOWN = Layout("<HHii")
"""``struct _io_chown``: type, combine_len, uid, gid (-1 leaves that one as it is)."""
IO_UTIME = Layout("<HHiqq")
"""``struct _io_utime``: type, combine_len, cur_flag, actime, modtime (seconds);
``cur_flag`` != 0: both times are the server's now (``utime(path, NULL)``)."""
IO_SPACE = Layout("<HHHhqq")
"""``struct _io_space``: type, combine_len, subtype (F_ALLOCSP64/F_FREESP64), whence,
start, len.  Reply: :data:`SPACE_REPLY`, the file's new size."""
SPACE_REPLY = Layout("<q")
CONNECT_LINK_REPLY = Layout("<IIBBHIHH")
"""``struct _io_connect_link_reply``: reserved1, file_type, eflag, reserved2,
chroot_len, umask, nentries, path_len; the NUL-terminated path follows.
``readlink`` is answered with one (nentries 0) carrying the link's target."""
assert IO_CHMOD.size == 8 and IO_CHOWN.size == 12 and IO_UTIME.size == 24
assert IO_SPACE.size == 24 and CONNECT_LINK_REPLY.size == 20

STATVFS = Layout("<QQQQQQQQQ16sQQ")
"""``struct statvfs`` (the DCMD_FSYS_STATVFS reply; QNX's trailing filler left
out): bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid,
basetype[16], flag, namemax."""
assert STATVFS.size == 104
DCMD_FSYS_STATVFS = dcmd(DEVDIR_FROM, _DCMD_FSYS, 13, STATVFS.size)
ST_RDONLY = 0x1
"""``f_flag``: the filesystem is mounted read-only."""
ST_NOSUID = 0x2

DIRENT = Layout("<QqHH")
"""``struct dirent`` header: d_ino, d_offset, d_reclen, d_namelen; the
NUL-terminated name follows, the record padded to 8 bytes."""
DIRENT_ALIGN = 8


@dataclass(frozen=True)
class Stat:
    """``struct stat`` as carried by :data:`STAT`."""

    ino: int
    size: int
    dev: int
    rdev: int
    uid: int
    gid: int
    mtime: int
    atime: int
    ctime: int
    mode: int
    nlink: int
    blksize: int
    blocks: int

    def pack(self) -> bytes:
        return STAT.pack(
            self.ino,
            self.size,
            self.dev,
            self.rdev,
            self.uid,
            self.gid,
            self.mtime,
            self.atime,
            self.ctime,
            self.mode,
            self.nlink,
            self.blksize,
            0,
            self.blocks,
        )

    @classmethod
    def unpack(cls, data: bytes) -> Stat:
        ino, size, dev, rdev, uid, gid, mt, at, ct, mode, nlink, blksize, _pad, blocks = (
            STAT.unpack_from(data)
        )
        return cls(ino, size, dev, rdev, uid, gid, mt, at, ct, mode, nlink, blksize, blocks)


@dataclass(frozen=True)
class StatVfs:
    """``struct statvfs`` as carried by :data:`STATVFS` (sizes in ``frsize`` units)."""

    bsize: int
    frsize: int
    blocks: int
    bfree: int
    bavail: int
    files: int
    ffree: int
    favail: int
    fsid: int
    basetype: str
    flag: int
    namemax: int

    def pack(self) -> bytes:
        return STATVFS.pack(
            self.bsize,
            self.frsize,
            self.blocks,
            self.bfree,
            self.bavail,
            self.files,
            self.ffree,
            self.favail,
            self.fsid,
            self.basetype.encode()[:15],
            self.flag,
            self.namemax,
        )

    @classmethod
    def unpack(cls, data: bytes) -> StatVfs:
        bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, raw, flag, namemax = (
            STATVFS.unpack_from(data)
        )
        basetype = raw.split(b"\0", 1)[0].decode(errors="replace")
        return cls(
            bsize,
            frsize,
            blocks,
            bfree,
            bavail,
            files,
            ffree,
            favail,
            fsid,
            basetype,
            flag,
            namemax,
        )


def pack_dirent(ino: int, offset: int, name: str) -> bytes:
    """One dirent record, padded to :data:`DIRENT_ALIGN`."""
    raw = name.encode() + b"\0"
    reclen = -(-(DIRENT.size + len(raw)) // DIRENT_ALIGN) * DIRENT_ALIGN
    rec = DIRENT.pack(ino, offset, reclen, len(raw) - 1) + raw
    return rec.ljust(reclen, b"\0")


def unpack_dirents(data: bytes) -> list[str]:
    """Names of the dirent records in a directory read reply."""
    names: list[str] = []
    pos = 0
    while pos + DIRENT.size <= len(data):
        _ino, _off, reclen, namelen = DIRENT.unpack_from(data, pos)
        if reclen < DIRENT.size:
            break
        start = pos + DIRENT.size
        names.append(data[start : start + namelen].decode())
        pos += reclen
    return names


def strerror(err: int) -> str:
    """The message of an errno value (host errno numbering)."""
    return os.strerror(err)


def oserror(err: int, detail: str | None = None) -> OSError:
    """An OSError carrying errno `err` (and optionally a filename)."""
    if detail is None:
        return OSError(err, os.strerror(err))
    return OSError(err, os.strerror(err), detail)


# errno values used across the kernel and libc, re-exported for one import.
ESRCH = errno.ESRCH
EBADF = errno.EBADF
ENOENT = errno.ENOENT
EACCES = errno.EACCES
EPERM = errno.EPERM
EINVAL = errno.EINVAL
ENOSYS = errno.ENOSYS
EBUSY = errno.EBUSY
EEXIST = errno.EEXIST
EISDIR = errno.EISDIR
ENXIO = errno.ENXIO
EROFS = errno.EROFS
ENOSPC = errno.ENOSPC
ETIMEDOUT = errno.ETIMEDOUT
EDEADLK = errno.EDEADLK
"""What a kernel call that would block fails with in an ``InterruptAttach`` handler."""
EFAULT = errno.EFAULT
ENOTDIR = errno.ENOTDIR
ECHILD = errno.ECHILD
ENOMEM = errno.ENOMEM
EAGAIN = errno.EAGAIN
EIO = errno.EIO
ENODEV = errno.ENODEV
EPIPE = errno.EPIPE
ESPIPE = errno.ESPIPE
EXDEV = errno.EXDEV
ENOTEMPTY = errno.ENOTEMPTY
ELOOP = errno.ELOOP
EMLINK = errno.EMLINK

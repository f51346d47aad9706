"""POSIX calls that change the file tree or a file's attributes.

The name calls are connect messages (``_connect``) with a subtype, answered
with no connection kept: ``unlink`` and ``rmdir`` (``_IO_CONNECT_UNLINK``,
mode S_IFDIR for rmdir), ``mkdir`` (``_IO_CONNECT_MKNOD``, mode S_IFDIR |
perms without the process's umask bits), ``rename`` and ``link``
(``_IO_CONNECT_RENAME``/``_LINK`` sent for the new path, the old one as its
extra: the path manager keeps only a server owning both, EXDEV across
mounts), ``symlink`` (``_IO_CONNECT_LINK`` with
the target as a SYMLINK extra), ``readlink`` (``_IO_CONNECT_READLINK``,
answered with a ``_io_connect_link_reply`` and the target).

The attribute calls open the path without access (``_IO_CONNECT_COMBINE``,
as ``stat``), send one I/O message and close: ``chmod``/``fchmod``
(``_IO_CHMOD``), ``chown``/``fchown``/``lchown`` (``_IO_CHOWN``), ``utime``
(``_IO_UTIME``), ``truncate``/``ftruncate`` (``_IO_SPACE`` F_FREESP64 at the
length), ``statvfs``/``fstatvfs`` (devctl ``DCMD_FSYS_STATVFS``).  ``lstat``
is a stat whose open does not follow a symbolic link in the last component
(``O_NOFOLLOW``).  Errors are OSError with the server's errno.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from qrv.lib.c import ipc
from qrv.lib.c._sys import cur
from qrv.lib.c.msg import IoChmod, IoChown, IoOpen, IoSpace, IoUtime
from qrv.lib.c.posix import STDIO_FDS, close, connect_send, devctl, fstat
from qrv.lib.c.proc import creation_mode
from qrv.spec.iomsg import (
    CONNECT_LINK_REPLY,
    DCMD_FSYS_STATVFS,
    EINVAL,
    EOVERFLOW,
    F_FREESP64,
    O_NOFOLLOW,
    O_WRONLY,
    OFF_MAX,
    PATH_MAX,
    S_IFDIR,
    SEEK_SET,
    SPACE_REPLY,
    STATVFS,
    ConnectExtra,
    ConnectSubtype,
    Stat,
    StatVfs,
    ioflag_from_oflag,
    oserror,
)

__all__ = [
    "chmod",
    "chown",
    "fchmod",
    "fchown",
    "fstatvfs",
    "ftruncate",
    "lchown",
    "link",
    "lstat",
    "mkdir",
    "readlink",
    "rename",
    "rmdir",
    "statvfs",
    "symlink",
    "truncate",
    "unlink",
    "utime",
]

PERMS = 0o7777
ID_MAX = (1 << 31) - 1
T = TypeVar("T")


def _name_call(
    path: str, subtype: int, mode: int = 0, extra: tuple[int, str] | None = None, rbytes: int = 0
) -> bytes:
    """A connect that changes (or reads) a name; the reply.  No connection is kept."""
    extra_type, text = extra if extra is not None else (ConnectExtra.NONE, "")
    msg = IoOpen(path, 0, mode, subtype=subtype, extra_type=extra_type, extra=text)
    coid, reply = connect_send(path, msg, rbytes)
    ipc.ConnectDetach(coid)
    return reply


def _pair_call(old: str, new: str, subtype: int, extra_type: int) -> None:
    msg = IoOpen(new, 0, 0, subtype=subtype, extra_type=extra_type, extra=old)
    coid, _ = connect_send(new, msg, 0, other=old)
    ipc.ConnectDetach(coid)


def unlink(path: str) -> None:
    _name_call(path, ConnectSubtype.UNLINK)


def rmdir(path: str) -> None:
    _name_call(path, ConnectSubtype.UNLINK, S_IFDIR)


def mkdir(path: str, mode: int = 0o777) -> None:
    """The new directory's permissions are `mode` without the process's umask bits."""
    _name_call(path, ConnectSubtype.MKNOD, S_IFDIR | creation_mode(mode & PERMS))


def rename(old: str, new: str) -> None:
    _pair_call(old, new, ConnectSubtype.RENAME, ConnectExtra.RENAME)


def link(existing: str, new: str) -> None:
    _pair_call(existing, new, ConnectSubtype.LINK, ConnectExtra.LINK)


def symlink(target: str, path: str) -> None:
    _name_call(path, ConnectSubtype.LINK, extra=(ConnectExtra.SYMLINK, target))


def readlink(path: str) -> str:
    reply = _name_call(path, ConnectSubtype.READLINK, rbytes=CONNECT_LINK_REPLY.size + PATH_MAX)
    if len(reply) < CONNECT_LINK_REPLY.size:
        raise oserror(EINVAL, path)
    path_len = CONNECT_LINK_REPLY.unpack_from(reply)[7]
    raw = reply[CONNECT_LINK_REPLY.size : CONNECT_LINK_REPLY.size + path_len]
    return raw.split(b"\0", 1)[0].decode(errors="surrogateescape")


def _on_path(path: str, fn: Callable[[int], T], ioflag: int = 0) -> T:
    """`fn(fd)` on `path` opened without access (``_IO_CONNECT_COMBINE``)."""
    msg = IoOpen(path, ioflag, 0, subtype=ConnectSubtype.COMBINE)
    fd, _ = connect_send(path, msg)
    try:
        return fn(fd)
    finally:
        close(fd)


def _file_fd(fd: int) -> int:
    """The connection behind `fd`: a redirected standard stream's, else `fd` (EINVAL
    for a console stream, which has no file behind it)."""
    if fd not in STDIO_FDS:
        return fd
    stdio = cur().process.stdio
    stream = (stdio.stdin, stdio.stdout, stdio.stderr)[fd]
    opened = getattr(stream, "fd", None)
    if opened is None:
        raise oserror(EINVAL)
    real: int = opened()
    return real


def _id(value: int) -> int:
    if not -1 <= value <= ID_MAX:
        raise oserror(EINVAL)
    return value


def fchmod(fd: int, mode: int) -> None:
    ipc.MsgSend(_file_fd(fd), IoChmod(mode & PERMS).pack(), 0)


def chmod(path: str, mode: int) -> None:
    _on_path(path, lambda fd: fchmod(fd, mode))


def fchown(fd: int, uid: int, gid: int) -> None:
    ipc.MsgSend(_file_fd(fd), IoChown(_id(uid), _id(gid)).pack(), 0)


def chown(path: str, uid: int, gid: int) -> None:
    _on_path(path, lambda fd: fchown(fd, uid, gid))


def lchown(path: str, uid: int, gid: int) -> None:
    """chown of a symbolic link itself."""
    _on_path(path, lambda fd: fchown(fd, uid, gid), O_NOFOLLOW)


def utime(path: str, times: tuple[int, int] | None = None) -> None:
    """Set (access, modification) times; None: both to the server's now."""
    if times is None:
        msg = IoUtime(now=True)
    else:
        if min(times) < 0:
            raise oserror(EINVAL, path)
        msg = IoUtime(times[0], times[1])
    _on_path(path, lambda fd: ipc.MsgSend(fd, msg.pack(), 0))


def ftruncate(fd: int, length: int) -> None:
    """Set the size of the open file to `length` (holes when it grows)."""
    if length < 0:
        raise oserror(EINVAL)
    if length > OFF_MAX:
        raise oserror(EOVERFLOW)
    msg = IoSpace(F_FREESP64, length, 0, SEEK_SET)
    ipc.MsgSend(_file_fd(fd), msg.pack(), SPACE_REPLY.size)


def truncate(path: str, length: int) -> None:
    msg = IoOpen(path, ioflag_from_oflag(O_WRONLY), 0)
    fd, _ = connect_send(path, msg)
    try:
        ftruncate(fd, length)
    finally:
        close(fd)


def fstatvfs(fd: int) -> StatVfs:
    data = devctl(_file_fd(fd), DCMD_FSYS_STATVFS, b"", STATVFS.size)
    if len(data) < STATVFS.size:
        raise oserror(EINVAL)
    return StatVfs.unpack(data)


def statvfs(path: str) -> StatVfs:
    return _on_path(path, fstatvfs)


def lstat(path: str) -> Stat:
    """stat of a symbolic link itself (its target is not followed)."""
    return _on_path(path, fstat, O_NOFOLLOW)

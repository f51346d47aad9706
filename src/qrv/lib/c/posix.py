"""POSIX client calls: open/read/pread/write/pwrite/lseek/fstat/stat/close/devctl/readdir.

An fd is a connection id in the process's fd space (QNX: "client
connections map directly into file descriptors"); fds 0..2 are the
process's console streams.  ``open`` asks the path manager for the servers
of a path, longest prefix first, and sends each an ``_IO_CONNECT`` open
until one accepts; ENOSYS, ENOENT, ENXIO, ESRCH and EROFS fall through to
the next, any other error stops the walk (``_connect_ctrl.c``).

Arguments a message cannot carry fail as C's calls do, with -1/errno
(OSError), before anything is sent: flags or mode beyond 32 bits, a whence
beyond 16 bits, a byte count beyond :data:`NBYTES_MAX` or below 0: EINVAL;
an offset beyond ``off_t``: EOVERFLOW; a path with a NUL or no UTF-8
spelling: EINVAL, longer than ``PATH_MAX``: ENAMETOOLONG.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from qrv.kernel import KThread, current_or_none
from qrv.kernel.pathmgr import ResolveEntry
from qrv.lib.c import ipc
from qrv.lib.c._sys import K, cur
from qrv.lib.c.msg import (
    IoClose,
    IoDevctl,
    IoLseek,
    IoOpen,
    IoRead,
    IoStat,
    IoSync,
    IoWrite,
    encode_path,
)
from qrv.lib.c.proc import creation_mode
from qrv.spec.iomsg import (
    DEVCTL_REPLY,
    EBADF,
    EINVAL,
    ENOENT,
    ENOSYS,
    ENOTDIR,
    ENXIO,
    EOVERFLOW,
    EROFS,
    ESRCH,
    LSEEK_REPLY,
    NBYTES_MAX,
    O_CREAT,
    O_DSYNC,
    O_RDONLY,
    O_SYNC,
    OFF_MAX,
    S_IFCHR,
    S_IFDIR,
    S_IFMT,
    STAT,
    ConnectSubtype,
    Stat,
    dcmd_size,
    ioflag_from_oflag,
    oserror,
    unpack_dirents,
)

__all__ = [
    "Dir",
    "chdir",
    "close",
    "closedir",
    "devctl",
    "devctl_info",
    "fdatasync",
    "fstat",
    "fsync",
    "getcwd",
    "listdir",
    "lseek",
    "open",
    "opendir",
    "pread",
    "pwrite",
    "read",
    "readdir",
    "stat",
    "write",
]

U32_MAX = 0xFFFFFFFF
FALLTHROUGH = frozenset({ENOSYS, ENOENT, ENXIO, ESRCH, EROFS})
STDIO_FDS = (0, 1, 2)
DIR_READ = 4096
CONSOLE_MODE = S_IFCHR | 0o666


def _absolute(path: str) -> str:
    """`path` from the process's working directory (a host caller's is /)."""
    if path.startswith("/"):
        return path
    t = current_or_none()
    cwd = t.process.cwd if t is not None else "/"
    return cwd.rstrip("/") + "/" + path


def getcwd() -> str:
    return cur().process.cwd


def chdir(path: str) -> None:
    """Make `path` (a directory) the working directory: ENOENT, ENOTDIR as POSIX."""
    full = posixpath.normpath(_absolute(path))
    full = "/" + full.lstrip("/")
    if S_IFMT & stat(full).mode != S_IFDIR:
        raise oserror(ENOTDIR, path)
    cur().process.cwd = full


def _in(value: int, lo: int, hi: int, err: int) -> int:
    """`value` if lo <= value <= hi, else OSError(err)."""
    if not lo <= value <= hi:
        raise oserror(err)
    return value


def _count(nbytes: int) -> int:
    return _in(nbytes, 0, NBYTES_MAX, EINVAL)


def _offset(offset: int) -> int:
    if offset < 0:
        raise oserror(EINVAL)
    return _in(offset, 0, OFF_MAX, EOVERFLOW)


def _entries(t: KThread, full: str, other: str | None) -> list[tuple[ResolveEntry, str]]:
    """The servers to try for `full` (with `other`'s remainder at each, for a pair)."""
    if other is None:
        return [(e, "") for e in K(t).path_resolve(t, full)]
    return K(t).path_resolve_pair(t, full, _absolute(other))


def connect_send(
    path: str, msg: IoOpen, rbytes: int = 0, other: str | None = None
) -> tuple[int, bytes]:
    """Send the connect `msg` for `path` to its servers in turn (``_connect_ctrl.c``):
    (the new connection, the reply).  With `other` (link, rename) only servers that
    own both paths are tried, `msg.extra` becoming `other`'s path there (EXDEV: none)."""
    t = cur()
    full = _absolute(path)
    try:
        encode_path(full)
        entries = _entries(t, full, other)
    except OSError as exc:
        raise oserror(exc.errno or ENOENT, path) from None
    last = ENOENT
    for e, rest in entries:
        try:
            coid = ipc.ConnectAttach(0, e.pid, e.chid, 0, 0)
        except OSError as exc:
            last = exc.errno or ENOENT
            continue
        extra = rest if other is not None else msg.extra
        sent = msg.to_server(e.remainder, e.handle, e.file_type, extra)
        try:
            _status, reply = ipc.MsgSend(coid, sent.pack(), rbytes)
        except OSError as exc:
            ipc.ConnectDetach(coid)
            last = exc.errno or ENOENT
            if last in FALLTHROUGH:
                continue
            raise oserror(last, path) from None
        return coid, reply
    raise oserror(last, path)


def _connect(path: str, ioflag: int, mode: int, subtype: int) -> int:
    return connect_send(path, IoOpen(path, ioflag, mode, subtype=subtype))[0]


def open(path: str, flags: int = O_RDONLY, mode: int = 0) -> int:
    """Open `path` with QNX O_* `flags`; the new fd.  With O_CREAT the mode sent is
    `mode` without the process's umask bits (the mode a new file gets)."""
    _in(flags, 0, U32_MAX, EINVAL)
    _in(mode, 0, U32_MAX, EINVAL)
    if flags & O_CREAT:
        mode = creation_mode(mode)
    return _connect(path, ioflag_from_oflag(flags), mode, ConnectSubtype.OPEN)


def close(fd: int) -> None:
    if fd in STDIO_FDS:
        return
    try:
        ipc.MsgSend(fd, IoClose().pack(), 0)
    except OSError as exc:
        if exc.errno not in (EBADF, ESRCH):
            raise
    ipc.ConnectDetach(fd)


def read(fd: int, nbytes: int) -> bytes:
    """Up to `nbytes` from the fd's current offset."""
    _count(nbytes)
    if fd == 0:
        stream = cur().process.stdio.stdin
        reader = getattr(stream, "read1", stream.read)  # what is there, as read(2) on a tty
        data: bytes = reader(nbytes)
        return data or b""
    _status, data = ipc.MsgSend(fd, IoRead(nbytes).pack(), nbytes)
    return data


def pread(fd: int, nbytes: int, offset: int) -> bytes:
    """Up to `nbytes` at `offset`; the fd's offset is not used or moved."""
    _count(nbytes)
    _offset(offset)
    _status, data = ipc.MsgSend(fd, IoRead(nbytes, offset).pack(), nbytes)
    return data


def _console_write(fd: int, data: bytes) -> int:
    stdio = cur().process.stdio
    stream = stdio.stdout if fd == 1 else stdio.stderr
    stream.write(data)
    stream.flush()
    return len(data)


def write(fd: int, data: bytes) -> int:
    """Write at the fd's offset; the number of bytes the server took."""
    if fd in (1, 2):
        return _console_write(fd, data)
    _count(len(data))
    msg = IoWrite(bytes(data))
    status, _ = ipc.MsgSendv(fd, [msg.header(), msg.data], 0)
    return status


def pwrite(fd: int, data: bytes, offset: int) -> int:
    _count(len(data))
    _offset(offset)
    msg = IoWrite(bytes(data), offset)
    status, _ = ipc.MsgSendv(fd, [msg.header(), msg.data], 0)
    return status


def _sync(fd: int, flag: int) -> None:
    if fd in STDIO_FDS:
        if fd != 0:
            stdio = cur().process.stdio
            (stdio.stdout if fd == 1 else stdio.stderr).flush()
        return
    ipc.MsgSend(fd, IoSync(flag).pack(), 0)


def fsync(fd: int) -> None:
    """An ``_IO_SYNC`` with O_SYNC: the server makes the fd's data durable."""
    _sync(fd, O_SYNC)


def fdatasync(fd: int) -> None:
    """An ``_IO_SYNC`` with O_DSYNC (data only; for a block device the same as fsync)."""
    _sync(fd, O_DSYNC)


def lseek(fd: int, offset: int, whence: int) -> int:
    _in(whence, -(1 << 15), (1 << 15) - 1, EINVAL)
    _in(offset, -OFF_MAX - 1, OFF_MAX, EOVERFLOW)
    _status, data = ipc.MsgSend(fd, IoLseek(offset, whence).pack(), LSEEK_REPLY.size)
    if len(data) < LSEEK_REPLY.size:
        raise oserror(EINVAL)
    (new,) = LSEEK_REPLY.unpack(data)
    return int(new)


def fstat(fd: int) -> Stat:
    if fd in STDIO_FDS:
        stdio = cur().process.stdio
        stream = (stdio.stdin, stdio.stdout, stdio.stderr)[fd]
        redirected = getattr(stream, "fstat", None)  # an opened path (lib.c fdio)
        if redirected is not None:
            st: Stat = redirected()
            return st
        return Stat(0, 0, 0, 0, 0, 0, 0, 0, 0, CONSOLE_MODE, 1, 0, 0)
    _status, data = ipc.MsgSend(fd, IoStat().pack(), STAT.size)
    if len(data) < STAT.size:
        raise oserror(EINVAL)
    return Stat.unpack(data)


def stat(path: str) -> Stat:
    """Stat by name: a connect with no access bits (``_IO_CONNECT_COMBINE``), stat, close."""
    fd = _connect(path, 0, 0, ConnectSubtype.COMBINE)
    try:
        return fstat(fd)
    finally:
        close(fd)


def devctl_info(
    fd: int, dcmd: int, data: bytes = b"", nbytes: int | None = None
) -> tuple[int, bytes]:
    """``devctl()`` with the server's ``dev_info`` (ret_val): (ret_val, reply data)."""
    size = _count(max(len(data), dcmd_size(dcmd)) if nbytes is None else nbytes)
    _status, reply = ipc.MsgSend(fd, IoDevctl(dcmd, size, data).pack(), DEVCTL_REPLY.size + size)
    if len(reply) < DEVCTL_REPLY.size:
        return 0, b""
    _z, ret_val, _n, _z2 = DEVCTL_REPLY.unpack_from(reply)
    return ret_val, reply[DEVCTL_REPLY.size :]


def devctl(fd: int, dcmd: int, data: bytes = b"", nbytes: int | None = None) -> bytes:
    """Send a device control; the data the server returned."""
    return devctl_info(fd, dcmd, data, nbytes)[1]


@dataclass
class Dir:
    """``DIR``: an open directory and the names read but not yet returned."""

    fd: int
    pending: list[str] = field(default_factory=list)
    eof: bool = False


def opendir(path: str) -> Dir:
    return Dir(open(path, O_RDONLY))


def readdir(d: Dir) -> str | None:
    """The next name, or None at the end."""
    while not d.pending and not d.eof:
        data = read(d.fd, DIR_READ)
        names = unpack_dirents(data)
        if not names:
            d.eof = True
        d.pending.extend(names)
    return d.pending.pop(0) if d.pending else None


def closedir(d: Dir) -> None:
    close(d.fd)


def listdir(path: str) -> list[str]:
    d = opendir(path)
    try:
        names: list[str] = []
        while (name := readdir(d)) is not None:
            names.append(name)
        return names
    finally:
        closedir(d)

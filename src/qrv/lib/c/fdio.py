"""Redirected standard streams: fd 0, 1 or 2 of a process as an opened path (``dup2``).

A process's fds 0..2 are its console streams (:mod:`.stdio`).  A shell that
redirects them (``> /dev/null``, ``< file``, a pipe) opens the path in the
child, as a POSIX shell opens it between fork and exec, and makes the stream
an :class:`FdStream`: reads and writes on it are ``_IO_READ``/``_IO_WRITE``
messages over the connection.

Inheritance: a connection belongs to the process that opened it, and a
child inherits its parent's streams.  A stream used by another process
(the child of a redirected ``sh``) opens the same path again in that
process the first time it is used, with the same access and ``O_APPEND``
(never ``O_CREAT``/``O_TRUNC``/``O_EXCL``: the file was made by the first
open).  Each process's opens count as its own readers and writers, which is
what a pipe's EOF and EPIPE need; a process's connections close when it
exits.  Not modelled: a shared file offset between the processes (QNX's
``_IO_DUP``); each open has its own.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from qrv.lib.c import posix
from qrv.lib.c._sys import cur
from qrv.spec.iomsg import O_ACCMODE, O_APPEND, O_RDONLY, O_WRONLY, Stat

__all__ = ["FdStream", "dup_stream", "redirect", "restore", "save", "stdio_of"]

CHUNK = 65536
INHERITED = O_ACCMODE | O_APPEND
"""The flags a re-open in an inheriting process keeps."""


class FdStream(io.RawIOBase):
    """An opened path as a process's stdin/stdout/stderr."""

    def __init__(self, path: str, flags: int, fd: int) -> None:
        super().__init__()
        self.path = path
        self.flags = flags
        self._fds = {cur().process.pid: fd}
        self._buf = b""

    def fd(self) -> int:
        """This stream's fd in the calling process (opened there on first use)."""
        pid = cur().process.pid
        fd = self._fds.get(pid)
        if fd is None:
            fd = self._fds[pid] = posix.open(self.path, self.flags & INHERITED)
        return fd

    def close_here(self) -> None:
        """Close the calling process's fd of this stream (if it has one)."""
        fd = self._fds.pop(cur().process.pid, None)
        if fd is not None:
            posix.close(fd)

    def isatty(self) -> bool:
        return False

    def readable(self) -> bool:
        return self.flags & O_ACCMODE != O_WRONLY

    def writable(self) -> bool:
        return self.flags & O_ACCMODE != O_RDONLY

    def fstat(self) -> Stat:
        return posix.fstat(self.fd())

    def read1(self, size: int = -1) -> bytes:
        """What one read gives (b"" at end of file)."""
        if self._buf:
            n = len(self._buf) if size < 0 else size
            data, self._buf = self._buf[:n], self._buf[n:]
            return data
        return posix.read(self.fd(), CHUNK if size < 0 else min(size, CHUNK))

    def read(self, size: int | None = -1) -> bytes:
        want = -1 if size is None else size
        parts: list[bytes] = []
        got = 0
        while want < 0 or got < want:
            data = self.read1(-1 if want < 0 else want - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read1(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0 and (limit < 0 or nl < limit):
                data, self._buf = self._buf[: nl + 1], self._buf[nl + 1 :]
                return data
            if 0 <= limit <= len(self._buf):
                data, self._buf = self._buf[:limit], self._buf[limit:]
                return data
            more = posix.read(self.fd(), CHUNK)
            if not more:
                data, self._buf = self._buf, b""
                return data
            self._buf += more

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = bytes(data)
        done = 0
        fd = self.fd()
        while done < len(view):
            n = posix.write(fd, view[done : done + CHUNK])
            if n <= 0:
                break  # the server takes no more (a full device): a short write
            done += n
        return done

    def flush(self) -> None:
        pass


def _field(fd: int) -> str:
    return ("stdin", "stdout", "stderr")[fd]


def stdio_of(fd: int) -> object:
    """The stream behind fd 0, 1 or 2 of the calling process."""
    return getattr(cur().process.stdio, _field(fd))


def redirect(fd: int, path: str, flags: int, mode: int = 0o666) -> FdStream:
    """Open `path` and make it fd `fd` (0..2) of the calling process; OSError if it cannot."""
    opened = posix.open(path, flags, mode)
    stream = FdStream(path, flags, opened)
    _set(fd, stream)
    return stream


def dup_stream(fd: int, source: int) -> None:
    """``dup2(source, fd)`` for the standard streams (``2>&1``)."""
    _set(fd, stdio_of(source))


def restore(saved: object) -> None:
    """Put back the streams :func:`save` returned."""
    p = cur().process
    p.stdio = saved  # type: ignore[assignment]


def save() -> object:
    """The calling process's streams, to :func:`restore` later."""
    return cur().process.stdio


def _set(fd: int, stream: object) -> None:
    p = cur().process
    fields: dict[str, Any] = {_field(fd): stream}
    p.stdio = dataclasses.replace(p.stdio, **fields)

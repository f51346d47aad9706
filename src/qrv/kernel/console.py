"""The host console: fds 0, 1, 2 as interruptible binary streams (``qrv emu``'s stdio).

Why not ``sys.stdin.buffer`` and friends: processes run on daemon host
threads, and a thread blocked in ``BufferedReader.readline()`` (or in a
``BufferedWriter.write()`` to a full pipe) holds that object's lock.  When
the main thread then finishes (Ctrl-C, ``exit``), the interpreter flushes
``sys.std*`` at shutdown, cannot take the lock and aborts with "Fatal Python
error: _enter_buffered_busy".  Nothing can interrupt such a blocked call.

So the console streams go to the fds themselves, and never block in a
system call: they wait in ``select()`` in short slices (:data:`SLICE`) and,
between slices, look at

* the calling process: if it is being torn down (killed, or the kernel shuts
  down) the wait ends with :class:`~qrv.kernel.proc.ProcessKilled`, as every
  other kernel wait does;
* for input, the interrupt count: :meth:`ConsoleInput.interrupt` is what a
  terminal's SIGINT does to a shell that catches it — a read blocked at that
  moment fails with ``EINTR`` (``InterruptedError``) and the typed-ahead
  input is discarded, as the tty driver flushes its queue on ``^C``.

A read takes only what ``select()`` reported there; a write to a pipe or
terminal goes in pieces of at most ``PIPE_BUF`` bytes, each after
``select()`` reported room (a pipe then takes it at once; a terminal drains
by itself and flushes its output queue on ^C).  So no thread stays stuck
where the main thread cannot reach it, and the only locks a blocked
console call holds are these objects' own, never one the interpreter needs
at shutdown.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import select
import stat
import termios
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, BinaryIO

from qrv.kernel.proc import KThread, ProcessKilled, Stdio, current_or_none

if TYPE_CHECKING:  # the line editor is imported when an interactive shell reads a line
    from qrv.kernel.lineedit import Completer

SLICE = 0.05
"""Seconds between checks for teardown / interrupts while a console wait blocks."""
CHUNK = 65536
"""Most bytes one read of the input fd takes."""
WRITE_CHUNK = select.PIPE_BUF
"""Most bytes written per ready check to a pipe or terminal (taken without blocking)."""
EOF_ERRNOS = (errno.EIO, errno.EBADF)
"""A hung-up terminal (EIO) or a closed fd reads as end of file, as a shell takes it."""


def _modelled() -> KThread | None:
    """The calling modelled thread (on the CPU thread), or None on a host thread."""
    t = current_or_none()
    return t if t is not None and t.proxy is None else None


def _check_killed() -> None:
    """ProcessKilled if the caller is a thread of a process being torn down.

    On the CPU thread a console wait is host I/O inside a kernel call: it
    first runs what the host posted (a kill, an interrupt), which nothing
    else could while it waits.
    """
    t = current_or_none()
    if t is None:
        return
    if t.proxy is None:
        t.process.kernel.sched.poll_host()
    if t.process.dying:
        raise ProcessKilled


class _Gate:
    """A lock whose waiters still notice their process's teardown."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        while not self._lock.acquire(timeout=SLICE):
            _check_killed()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class _ConsoleFd(io.RawIOBase):
    """A console stream over one host file descriptor."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        try:
            return os.isatty(self.fd)
        except OSError:
            return False


class ConsoleInput(_ConsoleFd):
    """Host fd `fd` (0) as a process's stdin: ``readline``, ``read``, ``read1``, ``isatty``."""

    def __init__(self, fd: int = 0) -> None:
        super().__init__(fd)
        self._buf = b""
        self._eof = False
        self._gate = _Gate()
        self._interrupts = 0
        self._flush = False
        self._sched: Any = None
        """The scheduler of the kernel whose thread reads (modelled readers only)."""
        self._reader: threading.Thread | None = None
        self._want = threading.Event()
        self._got = False
        self._waiters: list[KThread] = []

    # -- the SIGINT side ------------------------------------------------------------------

    def interrupt(self) -> None:
        """A terminal ^C: a read blocked now fails with EINTR; typed-ahead input is dropped.

        Called from the main thread (or any host thread); takes no lock, so a
        signal handler's caller cannot deadlock on it.
        """
        self._flush = True
        self._interrupts += 1
        if self._sched is not None:
            self._sched.post(self._wake_readers)

    # -- io.RawIOBase / BinaryIO ----------------------------------------------------------

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        limit = -1 if size is None else size
        with self._enter():
            seen = self._interrupts
            while True:
                self._drop_if_flushed()
                nl = self._buf.find(b"\n")
                end = nl + 1 if nl >= 0 else (len(self._buf) if self._eof else -1)
                if 0 <= limit <= len(self._buf) and (end < 0 or end > limit):
                    end = limit
                if end >= 0:
                    return self._take(end)
                self._fill(seen)

    def read1(self, size: int = -1) -> bytes:
        """What is there (at least one byte unless at end of file), as read(2) on a tty."""
        with self._enter():
            seen = self._interrupts
            self._drop_if_flushed()
            if not self._buf and not self._eof:
                self._fill(seen)
            return self._take(len(self._buf) if size is None or size < 0 else size)

    def read(self, size: int | None = -1) -> bytes:
        with self._enter():
            seen = self._interrupts
            while True:
                self._drop_if_flushed()
                want = -1 if size is None else size
                if self._eof or 0 <= want <= len(self._buf):
                    return self._take(len(self._buf) if want < 0 else want)
                self._fill(seen)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read1(len(buffer))
        memoryview(buffer)[: len(data)] = data
        return len(data)

    # -- edit mode (QNX io-char's): a line edited in place ---------------------------------

    def edit_readline(
        self,
        prompt: str,
        history: list[str] | None = None,
        complete: Completer | None = None,
        echo: Callable[[bytes], None] | None = None,
    ) -> bytes:
        """One line edited on the terminal (:mod:`.lineedit`), b"" at ^D on an empty line.

        The terminal is put in raw mode (no canonical input, no echo; ^C
        still raises SIGINT) for the line and restored after it, so a
        command reading the console later gets ordinary lines.  The prompt
        and the echo go to `echo` (a shell passes its stderr, as bash does),
        else to the terminal itself.  Not a terminal: readline().
        """
        if not self.isatty():
            return self.readline()
        from qrv.kernel.lineedit import LineEditor  # only an interactive shell: not at boot

        editor = LineEditor(prompt, history, complete)
        show = echo or self._echo
        saved = _raw_mode(self.fd)
        try:
            show(prompt.encode())
            while True:
                data = self.read1(CHUNK)
                if not data:
                    return b""
                res = editor.feed(data)
                show(res.echo)
                if res.eof:
                    return b""
                if res.line is not None:
                    return res.line.encode() + b"\n"
        finally:
            _restore_mode(self.fd, saved)

    def _echo(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, data)

    # -- internals (called with the gate held) ----------------------------------------------

    def _enter(self) -> AbstractContextManager[None]:
        """The gate for host readers; a modelled reader needs none (one thread runs at a time)."""
        return self._gate if _modelled() is None else nullcontext()

    def _take(self, n: int) -> bytes:
        data, self._buf = self._buf[:n], self._buf[n:]
        if not self._buf:
            self._eof = False  # a terminal's EOF (^D) is not sticky: the next read waits again
        return data

    def _drop_if_flushed(self) -> None:
        if self._flush:
            self._flush = False
            self._buf = b""

    def _fill(self, seen: int) -> None:
        """Wait for input and append one read's worth; EINTR if interrupted since `seen`."""
        t = _modelled()
        if t is not None:
            self._kfill(t, seen)
            return
        while True:
            _check_killed()
            if self._interrupts != seen:
                _check_killed()  # a killed reader dies rather than seeing EINTR
                self._drop_if_flushed()
                raise InterruptedError(errno.EINTR, os.strerror(errno.EINTR))
            try:
                ready, _, _ = select.select([self.fd], [], [], SLICE)
            except (OSError, ValueError):
                ready = [self.fd]  # let os.read report the fd's state
            if ready:
                break
        try:
            data = os.read(self.fd, CHUNK)
        except OSError as exc:
            if exc.errno not in EOF_ERRNOS:
                raise
            data = b""
        if data:
            self._buf += data
        else:
            self._eof = True

    # -- a modelled reader: blocked in the kernel, a host thread reads the fd ---------------

    def _kfill(self, t: KThread, seen: int) -> None:
        """Block `t` until the reader thread brings one read's worth (or EOF, or ^C)."""
        sched = self._sched = t.process.kernel.sched
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._read_for_kernel, name="qrv-console-in", daemon=True
            )
            self._reader.start()
        self._got = False
        self._want.set()
        self._waiters.append(t)
        sched.external += 1
        try:
            while True:
                if t.process.dying:
                    raise ProcessKilled
                if self._interrupts != seen:
                    self._drop_if_flushed()
                    raise InterruptedError(errno.EINTR, os.strerror(errno.EINTR))
                if self._got:
                    return
                sched.block(t)
        finally:
            sched.external -= 1
            self._waiters.remove(t)

    def _read_for_kernel(self) -> None:
        """Host thread: when a modelled reader wants input, read the fd and post it."""
        while True:
            if not self._sched.alive:
                self._reader = None  # that kernel is gone; a later reader starts another
                return
            if not self._want.wait(SLICE):
                continue
            try:
                ready, _, _ = select.select([self.fd], [], [], SLICE)
            except (OSError, ValueError):
                ready = [self.fd]
            if not ready:
                continue
            try:
                data = os.read(self.fd, CHUNK)
            except OSError:
                data = b""  # a hung-up or unreadable console reads as end of file
            self._want.clear()
            self._sched.post(lambda data=data: self._arrive(data))

    def _arrive(self, data: bytes) -> None:
        """On the CPU thread: what the reader thread read."""
        if data:
            self._buf += data
        else:
            self._eof = True
        self._got = True
        self._wake_readers()

    def _wake_readers(self) -> None:
        for w in self._waiters:
            self._sched.make_ready(w)


class ConsoleOutput(_ConsoleFd):
    """Host fd `fd` (1 or 2) as a process's stdout/stderr; unbuffered (``flush`` is a no-op)."""

    def __init__(self, fd: int) -> None:
        super().__init__(fd)
        self._gate = _Gate()
        try:
            self._regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            self._regular = False

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(data).cast("B")
        with self._gate:
            done = 0
            while done < len(view):
                if self._regular:
                    done += os.write(self.fd, view[done:])  # a file never blocks for long
                    continue
                self._wait_writable()
                done += os.write(self.fd, view[done : done + WRITE_CHUNK])
            return done

    def flush(self) -> None:
        pass

    def _wait_writable(self) -> None:
        while True:
            try:
                _, ready, _ = select.select([], [self.fd], [], SLICE)
            except (OSError, ValueError):
                return  # let os.write report the fd's state
            if ready:
                return
            _check_killed()  # only while it would block: a dying process's last lines go out


TermAttrs = list[Any]


def _raw_mode(fd: int) -> TermAttrs | None:
    """Canonical input and echo off (ISIG stays: ^C is SIGINT); the old attributes."""
    try:
        old = termios.tcgetattr(fd)
    except (termios.error, OSError):
        return None
    lflag: int = old[3]
    cc: list[Any] = list(old[6])
    cc[termios.VMIN], cc[termios.VTIME] = 1, 0
    new: list[Any] = [*old[:3], lflag & ~(termios.ICANON | termios.ECHO | termios.IEXTEN)]
    new += [old[4], old[5], cc]
    with contextlib.suppress(termios.error, OSError):
        termios.tcsetattr(fd, termios.TCSANOW, new)
    return old


def _restore_mode(fd: int, old: TermAttrs | None) -> None:
    if old is not None:
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(fd, termios.TCSANOW, old)


def host_console() -> tuple[Stdio, ConsoleInput]:
    """The host's fds 0, 1, 2 as a kernel's stdio (and its stdin, for :meth:`interrupt`)."""
    stdin = ConsoleInput(0)
    stdio = Stdio(
        _as_binary(stdin),
        _as_binary(ConsoleOutput(1)),
        _as_binary(ConsoleOutput(2)),
    )
    return stdio, stdin


def _as_binary(stream: io.RawIOBase) -> BinaryIO:
    """The raw stream typed as the BinaryIO that Stdio carries (it has the methods used)."""
    return stream  # type: ignore[return-value]

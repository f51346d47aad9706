"""Small helpers shared by the userland programs (output and error lines).

Broken pipes: a POSIX program writing to a pipe whose reader has gone gets
SIGPIPE, whose default action ends it silently (a shell shows status
128 + 13 = 141).  Here the console write fails with ``EPIPE``; :func:`out`
and :func:`out_bytes` turn that into :class:`BrokenPipe`, and a program
whose ``main`` is wrapped in :func:`dies_of_sigpipe` then ends quietly with
:data:`EXIT_SIGPIPE` (the shell adds 128 to a negative, signal status).

Any other failed stdout write (a full disk, a closed descriptor) is
:class:`WriteError`; the same wrapper prints ``cmd: write error: strerror``
(as coreutils does) and the program ends with status 1.  A failed write of
an error line to stderr is dropped: there is nowhere left to report it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
from collections.abc import Callable

from qrv.lib.c import stdio
from qrv.spec.iomsg import S_IFDIR, S_IFMT, strerror

EXIT_FAILURE = 1
EXIT_USAGE = 2
SIGPIPE = 13
"""POSIX SIGPIPE (signal(7))."""
EXIT_SIGPIPE = -SIGPIPE
"""Status of a process ended by SIGPIPE (negative = signal, as the kernel's EXIT_* values)."""

Program = Callable[[list[str]], int]


class BrokenPipe(Exception):
    """stdout's reader went away (EPIPE); not an OSError, so file-error handlers let it pass."""


class WriteError(Exception):
    """stdout could not be written (not EPIPE); not an OSError: file-error handlers let it pass."""

    def __init__(self, err: int) -> None:
        super().__init__(strerror(err))
        self.errno = err


def is_broken_pipe(exc: OSError) -> bool:
    return exc.errno == errno.EPIPE


def is_dir(mode: int) -> bool:
    """``S_ISDIR(mode)``."""
    return mode & S_IFMT == S_IFDIR


def _write_stdout(data: bytes) -> None:
    stream = stdio.stdout()
    try:
        stream.write(data)
        stream.flush()
    except OSError as exc:
        if is_broken_pipe(exc):
            raise BrokenPipe from None
        raise WriteError(exc.errno or 0) from None


def out(text: str) -> None:
    """Text to stdout (:class:`BrokenPipe` when its reader is gone)."""
    _write_stdout(text.encode())


def out_bytes(data: bytes) -> None:
    """Bytes to stdout (:class:`BrokenPipe` when its reader is gone)."""
    _write_stdout(data)


def err(text: str) -> None:
    """One line to stderr (dropped if stderr cannot be written)."""
    with contextlib.suppress(OSError):
        stdio.eprintf(text + "\n")


def fail(cmd: str, path: str, exc: OSError) -> int:
    """Print ``cmd: path: strerror`` and return the failure status."""
    err(f"{cmd}: {path}: {strerror(exc.errno or 0)}")
    return EXIT_FAILURE


def dies_of_sigpipe(main: Program) -> Program:
    """`main`, ending quietly with :data:`EXIT_SIGPIPE` when stdout's pipe breaks, and
    with ``cmd: write error: strerror`` and status 1 when stdout cannot be written."""

    @functools.wraps(main)
    def wrapper(argv: list[str]) -> int:
        try:
            return main(argv)
        except BrokenPipe:
            return EXIT_SIGPIPE
        except WriteError as exc:
            err(f"{argv[0] if argv else main.__module__}: write error: {exc}")
            return EXIT_FAILURE

    return wrapper

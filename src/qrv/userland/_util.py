"""Small helpers shared by the userland programs (output and error lines).

Broken pipes: a POSIX program writing to a pipe whose reader has gone gets
SIGPIPE, whose default action ends it silently (a shell shows status
128 + 13 = 141).  Here the console write fails with ``EPIPE``; :func:`out`
and :func:`out_bytes` turn that into :class:`BrokenPipe`, and a program
whose ``main`` is wrapped in :func:`dies_of_sigpipe` then ends quietly with
:data:`EXIT_SIGPIPE` (the shell adds 128 to a negative, signal status).
"""

from __future__ import annotations

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
        raise


def out(text: str) -> None:
    """Text to stdout (:class:`BrokenPipe` when its reader is gone)."""
    _write_stdout(text.encode())


def out_bytes(data: bytes) -> None:
    """Bytes to stdout (:class:`BrokenPipe` when its reader is gone)."""
    _write_stdout(data)


def err(text: str) -> None:
    """One line to stderr."""
    stdio.eprintf(text + "\n")


def fail(cmd: str, path: str, exc: OSError) -> int:
    """Print ``cmd: path: strerror`` and return the failure status."""
    err(f"{cmd}: {path}: {strerror(exc.errno or 0)}")
    return EXIT_FAILURE


def dies_of_sigpipe(main: Program) -> Program:
    """`main`, ending quietly with :data:`EXIT_SIGPIPE` when stdout's pipe breaks."""

    @functools.wraps(main)
    def wrapper(argv: list[str]) -> int:
        try:
            return main(argv)
        except BrokenPipe:
            return EXIT_SIGPIPE

    return wrapper

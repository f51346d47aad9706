"""The calling process's console streams (fds 0, 1, 2)."""

from __future__ import annotations

from typing import BinaryIO

from qrv.lib.c._sys import cur

STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO = 0, 1, 2


def stdin() -> BinaryIO:
    return cur().process.stdio.stdin


def stdout() -> BinaryIO:
    return cur().process.stdio.stdout


def stderr() -> BinaryIO:
    return cur().process.stdio.stderr


def printf(text: str) -> None:
    """Write text to stdout (no newline added)."""
    out = stdout()
    out.write(text.encode())
    out.flush()


def eprintf(text: str) -> None:
    """Write text to stderr (no newline added)."""
    err = stderr()
    err.write(text.encode())
    err.flush()

"""What the host tools print on stdout, and how a failing stdout is recognised.

A stdout that cannot take the text (``> /dev/full``, a closed descriptor)
is :class:`qrv.errors.OutputError` (``qrv <cmd>: write error: ...``, status
2, printed by the CLI); a reader that has gone (``| head``) stays
BrokenPipeError, which the CLI ends quietly.

Tools print with :func:`print_out` (written and flushed at once) or plain
``print``/``sys.stdout.buffer.write``: :func:`marked_stdout` puts a layer
under the CLI's stdout whose failed writes are :class:`StdoutWriteError`
(an OSError with the write's errno), so the CLI tells a failed stdout from
any other OSError wherever the write happened.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from qrv.errors import OutputError

if TYPE_CHECKING:
    from typing_extensions import Buffer


STDOUT_FD = 1


class StdoutWriteError(OSError):
    """A write to the process's stdout failed (errno and strerror as the write's)."""


class _StdoutRaw(io.RawIOBase):
    """Descriptor `fd` as stdout: a failed write (other than EPIPE) is StdoutWriteError."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._discard = False

    def discard(self) -> None:
        """Take every later write without writing it (the CLI has reported the failure)."""
        self._discard = True

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Buffer) -> int:
        if self._discard:
            return len(memoryview(data))
        try:
            return os.write(self._fd, data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise StdoutWriteError(exc.errno, exc.strerror) from None


def _hold_closed_stdout() -> int:
    """Descriptor 1 was closed at start (``>&-``): put /dev/null there *read-only*, so no
    file the command opens becomes descriptor 1 and takes its output, and every write to
    it still fails with EBADF, as on the closed descriptor."""
    fd = os.open(os.devnull, os.O_RDONLY)
    if fd != STDOUT_FD:
        os.dup2(fd, STDOUT_FD)
        os.close(fd)
    return STDOUT_FD


@contextlib.contextmanager
def marked_stdout() -> Iterator[None]:
    """Within: ``sys.stdout`` writes through :class:`_StdoutRaw` (in place of the
    interpreter's own stdout only; a replaced one, e.g. a test's capture, is left alone)."""
    original = sys.__stdout__
    if sys.stdout is not original:
        yield
        return
    if original is None:
        raw = _StdoutRaw(_hold_closed_stdout())
        encoding, errors, line_buffering = "utf-8", "strict", False
    else:
        try:
            fd = original.fileno()
        except (OSError, ValueError):
            yield
            return
        original.flush()
        raw = _StdoutRaw(fd)
        encoding, errors = original.encoding, original.errors or "strict"
        line_buffering = original.line_buffering
    marked = io.TextIOWrapper(
        io.BufferedWriter(raw), encoding=encoding, errors=errors, line_buffering=line_buffering
    )
    sys.stdout = marked
    try:
        yield
    finally:
        sys.stdout = original
        with contextlib.suppress(OSError):
            marked.flush()
        raw.discard()  # what is left cannot be written: drop it quietly
        marked.detach()


def write_error(exc: OSError) -> OutputError:
    return OutputError(f"write error: {exc.strerror or exc}")


def print_out(text: str) -> None:
    """``text`` and a newline on stdout, flushed."""
    stream = sys.stdout
    if stream is None:  # the interpreter started with descriptor 1 closed (``>&-``)
        raise OutputError(f"write error: {os.strerror(errno.EBADF)}")
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise write_error(exc) from None

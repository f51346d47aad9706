"""What the host tools print on stdout, written and flushed at once.

A stdout that cannot take the text (``> /dev/full``, a closed descriptor)
is :class:`qrv.errors.OutputError` (``qrv <cmd>: write error: ...``, status
2, printed by the CLI); a reader that has gone (``| head``) stays
BrokenPipeError, which the CLI ends quietly.
"""

from __future__ import annotations

import errno
import os
import sys

from qrv.errors import OutputError


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
        raise OutputError(f"write error: {exc.strerror or exc}") from None

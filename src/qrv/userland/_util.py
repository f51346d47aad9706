"""Small helpers shared by the userland programs (output and error lines)."""

from __future__ import annotations

from qrv.lib.c import stdio
from qrv.spec.iomsg import strerror

EXIT_FAILURE = 1
EXIT_USAGE = 2


def out(text: str) -> None:
    """Text to stdout."""
    stdio.printf(text)


def out_bytes(data: bytes) -> None:
    stream = stdio.stdout()
    stream.write(data)
    stream.flush()


def err(text: str) -> None:
    """One line to stderr."""
    stdio.eprintf(text + "\n")


def fail(cmd: str, path: str, exc: OSError) -> int:
    """Print ``cmd: path: strerror`` and return the failure status."""
    err(f"{cmd}: {path}: {strerror(exc.errno or 0)}")
    return EXIT_FAILURE

"""put PATH WORD...: write the words (and a newline) to PATH in one write (docs/tutorial.md)."""

from __future__ import annotations

from qrv.lib.c import close, open, stdio, write
from qrv.spec.iomsg import O_WRONLY


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        stdio.eprintf("usage: put PATH WORD...\n")
        return 2
    path, text = argv[1], " ".join(argv[2:]) + "\n"
    try:
        fd = open(path, O_WRONLY)
        try:
            write(fd, text.encode())
        finally:
            close(fd)
    except OSError as exc:
        stdio.eprintf(f"put: {path}: {exc.strerror}\n")
        return 1
    return 0

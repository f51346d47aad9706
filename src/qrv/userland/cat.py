"""cat [FILE...]: copy files (or stdin) to stdout, byte for byte."""

from __future__ import annotations

from qrv.lib.c import close, open, read
from qrv.userland._util import EXIT_FAILURE, fail, out_bytes

CHUNK = 65536
STDIN = 0


def _copy(fd: int) -> None:
    while data := read(fd, CHUNK):
        out_bytes(data)


def main(argv: list[str]) -> int:
    status = 0
    paths = argv[1:] or ["-"]
    for path in paths:
        if path == "-":
            _copy(STDIN)
            continue
        try:
            fd = open(path)
        except OSError as exc:
            status = fail("cat", path, exc)
            continue
        try:
            _copy(fd)
        except OSError as exc:
            status = fail("cat", path, exc)
        finally:
            close(fd)
    return status if status == 0 else EXIT_FAILURE

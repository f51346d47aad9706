"""tail [-n N] [-c N] [FILE...]: the last N lines (default 10) or N bytes.

The input is read to its end keeping only the last N lines (or bytes).
With more than one file each gets a ``==> NAME <==`` header.
"""

from __future__ import annotations

from collections import deque

from qrv.userland._input import chunks, line_or_byte_filter, lines
from qrv.userland._util import dies_of_sigpipe, out_bytes

USAGE = "tail [-n LINES] [-c BYTES] [FILE...]"


def last_lines(fd: int, count: int) -> None:
    last: deque[bytes] = deque(maxlen=count)
    for line in lines(fd):
        if count:
            last.append(line)
    out_bytes(b"".join(last))


def last_bytes(fd: int, nbytes: int) -> None:
    keep = b""
    for data in chunks(fd):
        keep = (keep + data)[-nbytes:] if nbytes else b""
    out_bytes(keep)


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    return line_or_byte_filter("tail", USAGE, argv, last_lines, last_bytes)

"""head [-n N] [-c N] [FILE...]: the first N lines (default 10) or N bytes.

With more than one file each gets a ``==> NAME <==`` header (POSIX).  head
stops reading once it has what it prints: in a pipeline the writer then
gets EPIPE and ends quietly.
"""

from __future__ import annotations

from qrv.userland._input import chunks, line_or_byte_filter, lines
from qrv.userland._util import dies_of_sigpipe, out_bytes

USAGE = "head [-n LINES] [-c BYTES] [FILE...]"


def first_lines(fd: int, count: int) -> None:
    if count == 0:
        return
    for i, line in enumerate(lines(fd), 1):
        out_bytes(line)
        if i >= count:
            break


def first_bytes(fd: int, nbytes: int) -> None:
    left = nbytes
    for data in chunks(fd):
        if left <= 0:
            break
        out_bytes(data[:left])
        left -= len(data)


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    return line_or_byte_filter("head", USAGE, argv, first_lines, first_bytes)

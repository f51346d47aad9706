"""head [-n N] [-c N] [FILE...]: the first N lines (default 10) or N bytes.

With more than one file each gets a ``==> NAME <==`` header (POSIX).  head
stops reading once it has what it prints: in a pipeline the writer then
gets EPIPE and ends quietly.
"""

from __future__ import annotations

from qrv.userland._input import Headers, chunks, each_file, lines
from qrv.userland._opts import Usage, line_or_byte_count, usage_error
from qrv.userland._util import dies_of_sigpipe, out, out_bytes

USAGE = "head [-n LINES] [-c BYTES] [FILE...]"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        count, nbytes, paths = line_or_byte_count("head", argv[1:])
    except Usage as exc:
        return usage_error("head", USAGE, exc)
    headers = Headers(paths)

    def body(name: str, fd: int) -> None:
        out(headers.text(name))
        if nbytes is not None:
            left = nbytes
            for data in chunks(fd):
                if left <= 0:
                    break
                out_bytes(data[:left])
                left -= len(data)
            return
        if count == 0:
            return
        for i, line in enumerate(lines(fd), 1):
            out_bytes(line)
            if i >= count:
                break

    return each_file("head", paths, body)

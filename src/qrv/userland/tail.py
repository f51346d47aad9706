"""tail [-n N] [-c N] [FILE...]: the last N lines (default 10) or N bytes.

The input is read to its end keeping only the last N lines (or bytes).
With more than one file each gets a ``==> NAME <==`` header.
"""

from __future__ import annotations

from collections import deque

from qrv.userland._input import Headers, chunks, each_file, lines
from qrv.userland._opts import Usage, line_or_byte_count, usage_error
from qrv.userland._util import dies_of_sigpipe, out, out_bytes

USAGE = "tail [-n LINES] [-c BYTES] [FILE...]"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        count, nbytes, paths = line_or_byte_count("tail", argv[1:])
    except Usage as exc:
        return usage_error("tail", USAGE, exc)
    headers = Headers(paths)

    def body(name: str, fd: int) -> None:
        out(headers.text(name))
        if nbytes is not None:
            keep = b""
            for data in chunks(fd):
                keep = (keep + data)[-nbytes:] if nbytes else b""
            out_bytes(keep)
            return
        last: deque[bytes] = deque(maxlen=count)
        for line in lines(fd):
            if count:
                last.append(line)
        out_bytes(b"".join(last))

    return each_file("tail", paths, body)

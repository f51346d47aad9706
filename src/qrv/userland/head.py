"""head [-n N] [-c N] [FILE...]: the first N lines (default 10) or N bytes.

With more than one file each gets a ``==> NAME <==`` header (POSIX).  head
stops reading once it has what it prints: in a pipeline the writer then
gets EPIPE and ends quietly.
"""

from __future__ import annotations

from qrv.userland._input import chunks, each_file, lines
from qrv.userland._opts import Usage, number, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out, out_bytes

USAGE = "head [-n LINES] [-c BYTES] [FILE...]"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, paths = options("head", argv[1:], "n:c:")
        count = number(opts.get("-n", "10"), "line count")
        nbytes = number(opts["-c"], "byte count") if "-c" in opts else None
    except Usage as exc:
        return usage_error("head", USAGE, exc)
    first = [True]

    def body(name: str, fd: int) -> None:
        if len(paths) > 1:
            out(("" if first[0] else "\n") + f"==> {name} <==\n")
        first[0] = False
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

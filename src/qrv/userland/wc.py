"""wc [-clw] [FILE...]: newline, word and byte counts (POSIX ``wc``).

Without options all three, in the order lines, words, bytes; one line per
file and a ``total`` line when there is more than one.  No operand (or
``-``): stdin, shown without a name.
"""

from __future__ import annotations

from qrv.userland._input import chunks, each_file
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out

USAGE = "wc [-clw] [FILE...]"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, paths = options("wc", argv[1:], "clw")
    except Usage as exc:
        return usage_error("wc", USAGE, exc)
    show = [k for k in ("-l", "-w", "-c") if k in opts] or ["-l", "-w", "-c"]
    rows: list[tuple[list[int], str]] = []

    def count(name: str, fd: int) -> None:
        n_lines = n_words = n_bytes = 0
        in_word = False
        for data in chunks(fd):
            n_bytes += len(data)
            n_lines += data.count(b"\n")
            n_words += len(data.split())
            # a word cut by the chunk boundary was counted twice
            if in_word and data[:1] and not data[:1].isspace():
                n_words -= 1
            in_word = not data[-1:].isspace()
        rows.append(([n_lines, n_words, n_bytes], "" if name == "-" else name))

    status = each_file("wc", paths, count)
    if len(rows) > 1:
        totals = [sum(r[0][i] for r in rows) for i in range(3)]
        rows.append((totals, "total"))
    index = {"-l": 0, "-w": 1, "-c": 2}
    for values, name in rows:
        cells = " ".join(f"{values[index[k]]:7d}" for k in show)
        out(f"{cells} {name}".rstrip() + "\n")
    return status

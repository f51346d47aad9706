"""grep [-cFilnv] PATTERN [FILE...]: lines that match (fixed strings or a regular expression).

PATTERN is an extended regular expression (Python's ``re`` dialect covers
POSIX ERE's common part: ``. * + ? [] ^ $ | ()``) or, with ``-F``, a fixed
string.  ``-i`` ignores case, ``-v`` selects lines that do not match, ``-c``
prints counts, ``-n`` line numbers.  With more than one file each line is
prefixed with its file name.  Status 0 if a line was selected, 1 if none,
2 for an error (a bad pattern, an unreadable file), as POSIX says.
"""

from __future__ import annotations

import re

from qrv.userland._input import each_file, lines
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_USAGE, dies_of_sigpipe, err, out, out_bytes

USAGE = "grep [-cFilnv] PATTERN [FILE...]"
NO_MATCH = 1


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, rest = options("grep", argv[1:], "cFilnv")
        if not rest:
            raise Usage("no pattern")
    except Usage as exc:
        return usage_error("grep", USAGE, exc)
    pattern, paths = rest[0], rest[1:]
    text = re.escape(pattern) if "-F" in opts else pattern
    try:
        regex = re.compile(text.encode(), re.IGNORECASE if "-i" in opts else 0)
    except re.error as exc:
        err(f"grep: bad pattern '{pattern}': {exc}")
        return EXIT_USAGE
    invert = "-v" in opts
    selected = [0]

    def body(name: str, fd: int) -> None:
        prefix = f"{name}:".encode() if len(paths) > 1 else b""
        n = 0
        for number, line in enumerate(lines(fd), 1):
            if (regex.search(line.rstrip(b"\n")) is None) != invert:
                continue
            n += 1
            if "-c" not in opts:
                num = f"{number}:".encode() if "-n" in opts else b""
                out_bytes(prefix + num + line + (b"" if line.endswith(b"\n") else b"\n"))
        if "-c" in opts:
            out(f"{prefix.decode()}{n}\n")
        selected[0] += n

    status = each_file("grep", paths, body)
    if status:
        return EXIT_USAGE
    return 0 if selected[0] else NO_MATCH

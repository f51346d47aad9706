"""clear: clear the terminal (the ANSI home and erase-display sequences)."""

from __future__ import annotations

from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out

USAGE = "clear"
CLEAR = "\x1b[H\x1b[2J"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        _opts, rest = options("clear", argv[1:], "")
        if rest:
            raise Usage(f"unknown argument '{rest[0]}'")
    except Usage as exc:
        return usage_error("clear", USAGE, exc)
    out(CLEAR)
    return 0

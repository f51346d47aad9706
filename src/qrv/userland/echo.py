"""echo [-n] [ARG...]: write the arguments, separated by spaces."""

from __future__ import annotations

from qrv.userland._util import dies_of_sigpipe, out


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    args = argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    out(" ".join(args) + ("\n" if newline else ""))
    return 0

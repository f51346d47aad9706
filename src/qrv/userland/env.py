"""env: print the environment, one ``NAME=value`` a line, sorted (``export`` sets it)."""

from __future__ import annotations

from qrv.lib.c.proc import environ
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out

USAGE = "env"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        _opts, rest = options("env", argv[1:], "")
        if rest:
            raise Usage(f"unknown argument '{rest[0]}' (running a command is not supported)")
    except Usage as exc:
        return usage_error("env", USAGE, exc)
    out("".join(f"{k}={v}\n" for k, v in sorted(environ().items())))
    return 0

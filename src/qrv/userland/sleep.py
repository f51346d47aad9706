"""sleep SECONDS: wait that long on the system's clock (a decimal fraction is allowed)."""

from __future__ import annotations

import math

from qrv.lib.c import delay
from qrv.userland._opts import Usage, options, usage_error

USAGE = "sleep SECONDS"


def main(argv: list[str]) -> int:
    try:
        _opts, rest = options("sleep", argv[1:], "")
        if len(rest) != 1:
            raise Usage("one operand, the seconds" if rest else "missing operand")
        try:
            seconds = float(rest[0])
        except ValueError:
            seconds = -1.0
        if not math.isfinite(seconds) or seconds < 0:
            raise Usage(f"bad number of seconds '{rest[0]}'")
    except Usage as exc:
        return usage_error("sleep", USAGE, exc)
    delay(seconds)
    return 0

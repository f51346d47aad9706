"""sloginfo [-s SEVERITY]: print the system log (boot and driver messages), oldest first.

One line per entry: the time on the system's clock (seconds since boot),
the severity (slog2's: CRITICAL, ERROR, WARNING, NOTICE, INFO, ...), the
source and the text.  ``-s SEVERITY`` (a name or 0-7) keeps entries of that
severity or worse.
"""

from __future__ import annotations

from qrv.lib.c.slog import SEVERITIES, Severity, slog_entries
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out

USAGE = "sloginfo [-s SEVERITY]"


def _severity(text: str) -> Severity:
    if text.isdigit() and int(text) in SEVERITIES:
        return Severity(int(text))
    try:
        return Severity[text.upper()]
    except KeyError:
        raise Usage(f"unknown severity '{text}'") from None


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, rest = options("sloginfo", argv[1:], "s:")
        if rest:
            raise Usage(f"unknown argument '{rest[0]}'")
        worst = _severity(opts["-s"]) if "-s" in opts else Severity.DEBUG2
    except Usage as exc:
        return usage_error("sloginfo", USAGE, exc)
    lines = [
        f"{e.time:12.6f}  {e.severity.name:<8}  {e.source:<12}  {e.text}\n"
        for e in slog_entries()
        if e.severity <= worst
    ]
    out("".join(lines))
    return 0

"""pidin: one line per thread, QNX's default format ``%a %b %N %p %J %B``.

Columns (pidin_data.c): pid (8, right), tid (3), name (18), prio (4, with the
policy letter), STATE (11), Blocked (server pid for SEND/REPLY, chid for
RECEIVE).  Only the default listing is modelled: any option or format word
(QNX's ``-p``, ``mem``, ...) is a usage error.
"""

from __future__ import annotations

from qrv.lib.c import proc_snapshot
from qrv.userland._util import EXIT_USAGE, dies_of_sigpipe, err, out

HEADER = f"{'pid':>8} {'tid':>3} {'name':<18} {'prio':>4} {'STATE':<11} Blocked"
USAGE = "usage: pidin"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    if len(argv) > 1:
        arg = argv[1]
        kind = "option" if arg.startswith("-") else "argument"
        err(f"pidin: unknown {kind} '{arg}' ({USAGE})")
        return EXIT_USAGE
    lines = [HEADER]
    for p in proc_snapshot():
        for t in p.threads:
            prio = f"{t.prio}{t.policy}"
            row = f"{p.pid:>8} {t.tid:>3} {p.name:<18} {prio:>4} {t.state:<11} {t.blocked}"
            lines.append(row.rstrip())
    out("\n".join(lines) + "\n")
    return 0

"""pidin: one line per thread, QNX's default format ``%a %b %N %p %J %B``.

Columns (pidin_data.c): pid (8, right), tid (3), name (18), prio (4, with the
policy letter), STATE (11), Blocked (server pid for SEND/REPLY, chid for
RECEIVE).
"""

from __future__ import annotations

from qrv.lib.c import proc_snapshot
from qrv.userland._util import out

HEADER = f"{'pid':>8} {'tid':>3} {'name':<18} {'prio':>4} {'STATE':<11} Blocked"


def main(argv: list[str]) -> int:
    del argv
    lines = [HEADER]
    for p in proc_snapshot():
        for t in p.threads:
            prio = f"{t.prio}{t.policy}"
            row = f"{p.pid:>8} {t.tid:>3} {p.name:<18} {prio:>4} {t.state:<11} {t.blocked}"
            lines.append(row.rstrip())
    out("\n".join(lines) + "\n")
    return 0

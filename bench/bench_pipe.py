"""Pipe benchmark: bytes through the pipe server beside the same bytes read directly.

Runs ``cat /dev/big | cat > /dev/null`` (every byte goes through /dev/pipe:
a write message into the pipe server, a read message out of it) and, as the
same-run baseline, ``cat /dev/big > /dev/null`` (the same reads, no pipe),
on a kernel with a memfs device of :data:`SIZE` bytes.  Prints MiB/s of each
(median of :data:`REPEAT`).  Not part of the tests.
"""

from __future__ import annotations

import io
import statistics
import time

from tests.lib.c.memfs import BLOCK_RO, memfs

from qrv.kernel import Kernel, Stdio
from qrv.servers.pipe.main import main as pipe_main
from qrv.userland import sh

SIZE = 16 << 20
REPEAT = 3
MiB = 1 << 20


def timed(k: Kernel, line: str) -> float:
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    t0 = time.perf_counter()
    status = k.waitpid(k.spawn(sh.main, ["sh", "-c", line], stdio=stdio), 120)
    elapsed = time.perf_counter() - t0
    assert status == 0, stdio.stderr.getvalue()  # type: ignore[attr-defined]
    return elapsed


def main() -> None:
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()))
    try:
        k.wait_ready(k.spawn(memfs({"/dev/big": (BLOCK_RO, bytes(SIZE))}), ["memfs"]), None, 5)
        k.wait_ready(k.spawn(pipe_main, ["pipe"]), "/dev/pipe", 5)
        rows = [
            ("cat /dev/big | cat > /dev/null", "cat /dev/big | cat > /dev/null"),
            ("baseline: cat /dev/big > /dev/null", "cat /dev/big > /dev/null"),
        ]
        for label, line in rows:
            secs = statistics.median(timed(k, line) for _ in range(REPEAT))
            print(f"{label:<40} {SIZE / MiB / secs:8.1f} MiB/s")
    finally:
        k.shutdown()


if __name__ == "__main__":
    main()

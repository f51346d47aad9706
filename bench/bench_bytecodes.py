"""Python bytecodes executed per request, by layer: a figure the host's load cannot move.

On a host shared with other work the wall clock (and even CPU time) of one 4 KiB
read moves by tens of percent from run to run; the bytecodes it executes do not.
For three requests this prints the bytecodes (``sys.settrace`` opcode events) and
Python calls per request, split by the layer of the module that ran them ("python":
the standard library and the ``__init__`` methods dataclasses generate):

* a random 4 KiB ``pread`` of ``/dev/nvme0n1p1`` on the built-in board, devb-nvme
  with its interrupt service thread (the default) and polling (``-o poll``);
* an open + 4 KiB read + close of ``bench_ipc.py``'s page server (no hardware).

Beside them, the same-run baseline: one MsgSend/Receive/Reply round trip of
``bench_ipc.py``'s echo server, the kernel's share of any request.  (A host
``os.pread`` executes no bytecode at all.)  C work (``os.preadv``, greenlet
switches, copies) is not counted: compare speeds with ``bench_stack.py``.
Not part of the tests.

    python bench/bench_bytecodes.py [--requests N]
"""

from __future__ import annotations

import argparse
import io
import queue
import random
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import P1_SIZE, seed_image
from bench_ipc import echo_server, in_process, page_server
from bench_stack import RANDOM_SIZE
from qrv.emu import BOOT_PROGRAMS, BootProgram, BuiltinMachine, boot
from qrv.kernel import Kernel, Stdio
from qrv.lib.c import ConnectAttach, MsgSend, close, open, pread, read

WARMUP = 50
LAYERS = ("kernel", "hw", "drivers", "servers", "lib", "spec")


def layer(filename: str) -> str:
    """The layer of qrv a code object belongs to ("python" for the standard library)."""
    _, sep, rest = filename.partition("/qrv/")
    if not sep or "/" not in rest:
        return "python" if not sep else "qrv"
    top = rest.split("/", 1)[0]
    return top if top in LAYERS else "qrv"


class Counts:
    """Bytecodes and calls of what runs in this host thread while counting (every
    greenlet of the CPU thread: the client, the servers, the kernel, the model)."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()

    def _call(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        frame.f_trace_opcodes = True
        self.calls[layer(frame.f_code.co_filename)] += 1
        return self._opcode

    def _opcode(self, frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        if event == "opcode":
            self.ops[layer(frame.f_code.co_filename)] += 1
        return self._opcode

    def run(self, fn: Callable[[], object], n: int) -> Counts:
        sys.settrace(self._call)
        try:
            for _ in range(n):
                fn()
        finally:
            sys.settrace(None)
        return self

    def row(self, name: str, n: int) -> str:
        total = sum(self.ops.values()) / n
        parts = "  ".join(f"{k} {v / n:.0f}" for k, v in self.ops.most_common())
        return f"{name:<28}{total:>8.0f}{sum(self.calls.values()) / n:>7.0f}   {parts}"


def stack_reads(poll: bool, n: int) -> Counts:
    """Random 4 KiB preads of /dev/nvme0n1p1 on the built-in board, counted."""
    progs = [
        BootProgram(p.name, p.entry, [*p.argv, "-o", "poll"], p.waitfor, p.timeout)
        if poll and p.name == "devb-nvme"
        else p
        for p in BOOT_PROGRAMS
    ]
    with tempfile.TemporaryDirectory() as tmp:
        image = seed_image(Path(tmp) / "nvme.img", random_p1=True)
        machine = BuiltinMachine(image)
        stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
        kernel = Kernel(machine, stdio)
        try:
            boot(kernel, progs, stdio.stderr)

            def count() -> Counts:
                fd = open("/dev/nvme0n1p1")
                rng = random.Random(1)
                blocks = P1_SIZE // RANDOM_SIZE

                def one() -> None:
                    pread(fd, RANDOM_SIZE, rng.randrange(blocks) * RANDOM_SIZE)

                Counts().run(one, WARMUP)
                counts = Counts().run(one, n)
                close(fd)
                return counts

            return in_process(kernel, count)
        finally:
            kernel.shutdown()
            machine.close()


def ipc_requests(n: int) -> tuple[Counts, Counts]:
    """(open + 4 KiB read + close of /dev/page, one echo round trip), counted."""
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), sys.stderr.buffer))
    try:
        ready: queue.Queue[tuple[int, int]] = queue.Queue()
        k.spawn(echo_server(ready), ["echo"])
        pid, chid = ready.get(timeout=5)
        k.wait_ready(k.spawn(page_server, ["pagesrv"]), None, 5)

        def count() -> tuple[Counts, Counts]:
            def orc() -> None:
                fd = open("/dev/page")
                read(fd, RANDOM_SIZE)
                close(fd)

            coid = ConnectAttach(0, pid, chid)
            Counts().run(orc, WARMUP)
            return Counts().run(orc, n), Counts().run(lambda: MsgSend(coid, b"ping"), n)

        return in_process(k, count)
    finally:
        k.shutdown()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--requests", type=int, default=200, help="requests counted per workload")
    n = p.parse_args().requests
    orc, echo = ipc_requests(n)
    print(f"{'per request':<28}{'bytecodes':>8}{'calls':>7}   by layer")
    print(stack_reads(False, n).row("random 4 KiB read (IST)", n))
    print(stack_reads(True, n).row("random 4 KiB read (-o poll)", n))
    print(orc.row("open+read(4 KiB)+close", n))
    print(echo.row("baseline: IPC round trip", n))
    return 0


if __name__ == "__main__":
    sys.exit(main())

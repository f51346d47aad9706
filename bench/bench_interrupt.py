"""Interrupt delivery: NVMe 4 KiB reads per second completed by waiting for the interrupt
(InterruptAttachEvent + InterruptWait + InterruptUnmask, INTx through the PLIC) beside the
same-run baseline of the same reads completed by polling the CQ's phase tag, on the
built-in board (and QEMU with --qemu).  One process drives the controller over the bus.

    .venv/bin/python bench/bench_interrupt.py [--seconds S] [--qemu]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hw.machines import nvme_machine
from tests.hw.nvme.host import NvmeHost

from qrv.hw.bus import Machine
from qrv.kernel import Kernel, Stdio
from qrv.lib.c import interrupt as ic
from qrv.spec.nvme import Command, NvmOpcode

BLOCK = 4096
NVME_INTA = 34


def run(machine: Machine, seconds: float, use_irq: bool) -> float:
    k = Kernel(machine, Stdio(io.BytesIO(), io.BytesIO(), sys.stderr.buffer))  # crashes shown
    box: list[float] = []

    def main(argv: list[str]) -> int:
        h = NvmeHost(machine.bus, ecam_base=0x3000_0000, dma_base=0x8000_0000, dma_size=4 << 20)
        h.setup_pci()
        h.enable()
        h.create_io_queues(1, sq_size=64, cq_size=64, ien=True)
        buf = h.buffer(BLOCK)
        iid = ic.InterruptAttachEvent(NVME_INTA, ic.SIGEV_INTR_INIT()) if use_irq else 0
        wait: Callable[[], None]
        if use_irq:

            def wait() -> None:
                ic.InterruptWait(0, 5.0)
                ic.InterruptUnmask(NVME_INTA, iid)

        else:

            def wait() -> None:
                while h.peek(1) is None:
                    pass

        done = 0
        start = time.perf_counter()
        deadline = start + seconds
        while time.perf_counter() < deadline:
            h.submit(1, Command(NvmOpcode.READ, nsid=1, prp1=buf, cdw10=(done % 256) * 8, cdw12=7))
            wait()
            h.poll(1)
            done += 1
        box.append(done / (time.perf_counter() - start))
        return 0

    try:
        k.waitpid(k.spawn(main, ["bench"]), seconds + 30)
    finally:
        k.shutdown()
    return box[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--qemu", action="store_true", help="QEMU as well as the built-in board")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "disk.img"
        image.write_bytes(bytes(4 << 20))
        for kind in ["builtin", "qemu"] if args.qemu else ["builtin"]:
            for use_irq in (False, True):
                with nvme_machine(kind, image) as m:
                    rate = run(m, args.seconds, use_irq)
                how = "interrupt (INTx, InterruptWait)" if use_irq else "polling the phase tag"
                print(f"{kind:8} {how:32} {rate:10.0f} reads/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

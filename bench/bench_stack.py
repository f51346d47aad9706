"""Full-stack read throughput of /dev/nvme0n1p1, beside a same-run os.pread baseline.

Every read goes client -> MsgSend -> devb-nvme's resmgr -> NVMe Read SQE ->
doorbell -> controller (the built-in model, or QEMU over qtest) -> DMA ->
CQE -> MsgReply.  The baseline is os.pread of the same bytes of the image; the last column is the
stack's rate as a fraction of it (issue 16's goals are such fractions).

    python bench/bench_stack.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qrv.emu import BOOT_PROGRAMS, BuiltinMachine, boot
from qrv.hw.bus import Machine
from qrv.kernel import Kernel, Stdio
from qrv.lib.c.posix import close, open, pread
from qrv.tools.mkgpt import create_seed_image

KiB, MiB = 1 << 10, 1 << 20
P1_START = 34 * 512  # the seed's p1: LBA 34..32801
P1_SIZE = 16 * MiB
SEQ_SIZES = (4 * KiB, 64 * KiB, 1 * MiB)
RANDOM_SIZE = 4 * KiB


def timed(fn: Callable[[], int], seconds: float) -> tuple[int, int, float]:
    """Run fn (returns bytes moved) until `seconds` pass: (calls, bytes, elapsed)."""
    calls = moved = 0
    start = time.perf_counter()
    while True:
        moved += fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls, moved, elapsed


def sequential(read: Callable[[int, int], bytes], size: int) -> Callable[[], int]:
    pos = [0]

    def step() -> int:
        n = len(read(size, pos[0]))
        pos[0] = (pos[0] + size) % P1_SIZE
        return n

    return step


def random_reads(read: Callable[[int, int], bytes], rng: random.Random) -> Callable[[], int]:
    blocks = P1_SIZE // RANDOM_SIZE

    def step() -> int:
        return len(read(RANDOM_SIZE, rng.randrange(blocks) * RANDOM_SIZE))

    return step


def make_machine(name: str, image: Path) -> Machine:
    if name == "qemu":
        from qrv.hw.qemu import QemuMachine

        return QemuMachine(image)
    return BuiltinMachine(image)


def bench_machine(name: str, image: Path, seconds: float) -> None:
    machine = make_machine(name, image)
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    kernel = Kernel(machine, stdio)
    fd_img = os.open(image, os.O_RDONLY)

    def workload(argv: list[str]) -> int:
        """The client: a process of the system, as every program is."""
        fd = open("/dev/nvme0n1p1")
        try:

            def stack_read(n: int, off: int) -> bytes:
                return pread(fd, n, off)

            def raw_read(n: int, off: int) -> bytes:
                return os.pread(fd_img, n, P1_START + off)

            if stack_read(4096, 0) != raw_read(4096, 0):
                raise SystemExit("the stack and the image disagree: not benchmarking")
            print(f"\n== {name} machine: /dev/nvme0n1p1 vs os.pread of {image.name}")
            print(f"{'workload':<22}{'qrv stack':>16}{'os.pread':>16}{'qrv/host':>10}")
            for size in SEQ_SIZES:
                _, b1, t1 = timed(sequential(stack_read, size), seconds)
                _, b0, t0 = timed(sequential(raw_read, size), seconds / 4)
                s1, s0 = b1 / t1 / MiB, b0 / t0 / MiB
                label = f"seq read {size // KiB} KiB"
                print(f"{label:<22}{s1:>11.1f} MiB/s{s0:>11.1f} MiB/s{s1 / s0:>9.3f}x")
            c1, _, t1 = timed(random_reads(stack_read, random.Random(1)), seconds)
            c0, _, t0 = timed(random_reads(raw_read, random.Random(1)), seconds / 4)
            r1, r0 = c1 / t1, c0 / t0
            print(f"{'random read 4 KiB':<22}{r1:>12.0f} IOPS{r0:>12.0f} IOPS{r1 / r0:>9.3f}x")
        finally:
            close(fd)
        return 0

    try:
        boot(kernel, BOOT_PROGRAMS, stdio.stderr)  # type: ignore[arg-type]
        if kernel.waitpid(kernel.spawn(workload, ["bench"]), 600) != 0:
            raise SystemExit(stdio.stderr.getvalue().decode())  # type: ignore[attr-defined]
    finally:
        os.close(fd_img)
        kernel.shutdown()
        machine.close()


def machine_args(doc: str | None) -> tuple[list[str], float]:
    """``--machine`` and ``--seconds`` of a stack benchmark: the machines to run (QEMU
    left out, with a note, when it is not installed) and the time per workload."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    p.add_argument("--machine", choices=("builtin", "qemu", "both"), default="both")
    p.add_argument("--seconds", type=float, default=1.0, help="time per stack workload")
    args = p.parse_args()
    machines = ["builtin", "qemu"] if args.machine == "both" else [args.machine]
    if "qemu" in machines and shutil.which("qemu-system-riscv64") is None:
        print("qemu-system-riscv64 not installed (Debian qemu-system-misc): skipping QEMU")
        machines.remove("qemu")
    return machines, args.seconds


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "nvme.img"
        create_seed_image(image)
        with image.open("r+b") as f:
            os.pwrite(f.fileno(), os.urandom(P1_SIZE), P1_START)
        for name in machines:
            bench_machine(name, image, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

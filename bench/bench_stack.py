"""Full-stack read throughput of /dev/nvme0n1p1, beside a same-run os.pread baseline.

Every read goes client -> MsgSend -> devb-nvme's resmgr -> NVMe Read SQE ->
doorbell -> controller (the built-in model, or QEMU over qtest) -> DMA ->
CQE -> MsgReply.  The baseline is os.pread of the same bytes of the image; `qrv/host` is the
stack's rate as a fraction of it (issue 16's goals are such fractions).

On the built-in board the whole system (client, kernel, driver, model) runs on one host
thread, the kernel's CPU thread, as does the baseline here; `cpu` is the same fraction in
that thread's CPU time, which other processes on a loaded host disturb far less than the
wall clock (QEMU works in a process of its own: no `cpu` column there).

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
from typing import NamedTuple

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


class Run(NamedTuple):
    calls: int
    moved: int
    """Bytes."""
    elapsed: float
    """Wall-clock seconds."""
    cpu: float
    """CPU seconds of the calling host thread."""


def measure(fn: Callable[[], int], seconds: float) -> Run:
    """Run fn (returns bytes moved) until `seconds` pass."""
    calls = moved = 0
    cpu = time.thread_time()
    start = time.perf_counter()
    while True:
        moved += fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return Run(calls, moved, elapsed, time.thread_time() - cpu)


def timed(fn: Callable[[], int], seconds: float) -> tuple[int, int, float]:
    """Run fn (returns bytes moved) until `seconds` pass: (calls, bytes, elapsed)."""
    calls, moved, elapsed, _ = measure(fn, seconds)
    return calls, moved, elapsed


def cpu_ratio(stack: Run, host: Run, by_calls: bool = False) -> float:
    """The stack's rate per CPU second as a fraction of the host's."""
    if by_calls:
        return (stack.calls / stack.cpu) / (host.calls / host.cpu)
    return (stack.moved / stack.cpu) / (host.moved / host.cpu)


def header(base: str, cpu: bool) -> None:
    cols = f"{'workload':<22}{'qrv stack':>16}{base:>16}{'qrv/host':>10}"
    print(cols + (f"{'cpu':>8}" if cpu else ""))


def row(label: str, stack: float, base: float, unit: str, cpu: float | None) -> None:
    line = f"{label:<22}{stack:>11.1f} {unit}{base:>11.1f} {unit}{stack / base:>9.3f}x"
    print(line + (f"{cpu:>7.3f}x" if cpu is not None else ""))


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
    cpu = name == "builtin"  # the whole system runs on the kernel's CPU thread

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
            header("os.pread", cpu)
            for size in SEQ_SIZES:
                r1 = measure(sequential(stack_read, size), seconds)
                r0 = measure(sequential(raw_read, size), seconds / 4)
                s1, s0 = r1.moved / r1.elapsed / MiB, r0.moved / r0.elapsed / MiB
                row(
                    f"seq read {size // KiB} KiB",
                    s1,
                    s0,
                    "MiB/s",
                    cpu_ratio(r1, r0) if cpu else None,
                )
            r1 = measure(random_reads(stack_read, random.Random(1)), seconds)
            r0 = measure(random_reads(raw_read, random.Random(1)), seconds / 4)
            i1, i0 = r1.calls / r1.elapsed, r0.calls / r0.elapsed
            row("random read 4 KiB", i1, i0, " IOPS", cpu_ratio(r1, r0, True) if cpu else None)
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

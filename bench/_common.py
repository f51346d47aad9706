"""What the full-stack benchmarks share: the machines and their command line, the seed
image, a booted system with a client process in it, and the timing loop.

A benchmark's client is a process of the system, as every program is: it runs the
workload and its same-run host baseline, and prints the figures.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from qrv.emu import BOOT_PROGRAMS, BootProgram, BuiltinMachine, boot
from qrv.hw.bus import Machine
from qrv.kernel import Kernel, Stdio
from qrv.tools.mkgpt import create_seed_image

KiB, MiB = 1 << 10, 1 << 20
P1_START = 34 * 512  # the seed's p1: LBA 34..32801
P1_SIZE = 16 * MiB
CLIENT_TIMEOUT_S = 600.0


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
    """The table's head: the stack, the baseline `base`, their ratio (and `cpu`'s)."""
    cols = f"{'workload':<22}{'qrv stack':>16}{base:>16}{'qrv/host':>10}"
    print(cols + (f"{'cpu':>8}" if cpu else ""))


def row(label: str, stack: float, base: float, unit: str, cpu: float | None) -> None:
    line = f"{label:<22}{stack:>11.1f} {unit}{base:>11.1f} {unit}{stack / base:>9.3f}x"
    print(line + (f"{cpu:>7.3f}x" if cpu is not None else ""))


def compare(
    label: str,
    stack: Callable[[], int],
    host: Callable[[], int],
    seconds: float,
    *,
    cpu: bool,
    per_call: bool = False,
    host_seconds: float | None = None,
) -> None:
    """One row: `stack` run for `seconds` beside the baseline `host` (for a quarter of
    them unless `host_seconds`), each a step returning bytes moved; MiB/s, or with
    `per_call` operations per second (IOPS); with `cpu` the ratio in CPU time too."""
    r1 = measure(stack, seconds)
    r0 = measure(host, seconds / 4 if host_seconds is None else host_seconds)
    if per_call:
        rates, unit = (r1.calls / r1.elapsed, r0.calls / r0.elapsed), " IOPS"
    else:
        rates, unit = (r1.moved / r1.elapsed / MiB, r0.moved / r0.elapsed / MiB), "MiB/s"
    row(label, *rates, unit, cpu_ratio(r1, r0, per_call) if cpu else None)


def make_machine(name: str, image: Path, *, writable: bool = False) -> Machine:
    """The built-in board or QEMU (``name`` "qemu") on `image`."""
    if name == "qemu":
        from qrv.hw.qemu import QemuMachine

        return QemuMachine(image, read_only=not writable)
    return BuiltinMachine(image, writable=writable)


def machine_args(doc: str | None) -> tuple[list[str], float]:
    """``--machine`` and ``--seconds`` of a stack benchmark: the machines to run (QEMU
    left out, with a note, when it is not installed) and the time per workload."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    p.add_argument("--machine", choices=("builtin", "qemu", "both"), default="both")
    p.add_argument("--seconds", type=float, default=1.0, help="time per stack workload")
    args = p.parse_args()
    return machines_available(args.machine), args.seconds


def machines_available(choice: str) -> list[str]:
    """The machines of ``--machine`` `choice`, QEMU left out (with a note) if missing."""
    machines = ["builtin", "qemu"] if choice == "both" else [choice]
    if "qemu" in machines and shutil.which("qemu-system-riscv64") is None:
        print("qemu-system-riscv64 not installed (Debian qemu-system-misc): skipping QEMU")
        machines.remove("qemu")
    return machines


def seed_image(path: Path, *, random_p1: bool = False) -> Path:
    """The seed's 64 MiB image at `path`; with `random_p1`, p1 holds random bytes (so a
    read that returned the wrong block would not pass for a right one)."""
    create_seed_image(path)
    if random_p1:
        with path.open("r+b") as f:
            os.pwrite(f.fileno(), os.urandom(P1_SIZE), P1_START)
    return path


@dataclass
class System:
    """A booted system: its kernel and the boot programs' log (stderr)."""

    kernel: Kernel
    stderr: io.BytesIO

    @property
    def log(self) -> str:
        return self.stderr.getvalue().decode()

    def run(self, workload: Callable[[list[str]], int], timeout: float = CLIENT_TIMEOUT_S) -> None:
        """Run `workload` as a client process; SystemExit with the log if it fails."""
        if self.kernel.waitpid(self.kernel.spawn(workload, ["bench"]), timeout) != 0:
            raise SystemExit(self.log)


@contextmanager
def booted(
    name: str,
    image: Path,
    programs: Sequence[BootProgram] = BOOT_PROGRAMS,
    *,
    writable: bool = False,
) -> Iterator[System]:
    """Machine `name` on `image`, booted with `programs`; shut down on leaving."""
    machine = make_machine(name, image, writable=writable)
    stderr = io.BytesIO()
    kernel = Kernel(machine, Stdio(io.BytesIO(), io.BytesIO(), stderr))
    try:
        boot(kernel, list(programs), stderr)
        yield System(kernel, stderr)
    finally:
        kernel.shutdown()
        machine.close()

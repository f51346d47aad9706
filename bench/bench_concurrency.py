"""Concurrent random 4 KiB reads of /dev/nvme0n1p1 by 1, 4 and 16 client processes,
devb-nvme polling (``-o poll``) and with its interrupt service thread, on both
machines, beside os.pread of the same image from as many host threads.

Each client is a process of the system reading random 4 KiB blocks for the same
wall time; the figure is the reads completed by all clients per second.  One CPU
runs every modelled thread, so more clients measure how well the driver overlaps
requests (and, on QEMU, commands outstanding in QEMU), not parallel speed-up.

    python bench/bench_concurrency.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import io
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stack import P1_SIZE, P1_START, RANDOM_SIZE, machine_args, make_machine
from qrv.emu import BOOT_PROGRAMS, BootProgram, boot
from qrv.kernel import Kernel, Stdio
from qrv.lib.c.posix import close, open, pread
from qrv.tools.mkgpt import create_seed_image

CLIENTS = (1, 4, 16)
BLOCKS = P1_SIZE // RANDOM_SIZE


def programs(poll: bool) -> list[BootProgram]:
    return [
        BootProgram(p.name, p.entry, [*p.argv, "-o", "poll"], p.waitfor, p.timeout)
        if poll and p.name == "devb-nvme"
        else p
        for p in BOOT_PROGRAMS
    ]


def stack_rate(kernel: Kernel, clients: int, seconds: float) -> float:
    """Reads per second of `clients` processes reading random blocks for `seconds`."""
    counts = [0] * clients
    go = time.perf_counter() + 0.2  # every client starts at the same wall time

    def client(argv: list[str]) -> int:
        index = int(argv[1])
        rng = random.Random(index)
        fd = open("/dev/nvme0n1p1")
        try:
            while time.perf_counter() < go:
                pread(fd, RANDOM_SIZE, 0)
            stop = go + seconds
            while time.perf_counter() < stop:
                pread(fd, RANDOM_SIZE, rng.randrange(BLOCKS) * RANDOM_SIZE)
                counts[index] += 1
        finally:
            close(fd)
        return 0

    pids = [kernel.spawn(client, ["client", str(i)], name=f"client{i}") for i in range(clients)]
    for pid in pids:
        if kernel.waitpid(pid, seconds + 120) != 0:
            raise SystemExit("a client failed")
    return sum(counts) / seconds


def host_rate(image: Path, threads: int, seconds: float) -> float:
    counts = [0] * threads
    fd = os.open(image, os.O_RDONLY)
    stop = time.perf_counter() + seconds

    def reader(index: int) -> None:
        rng = random.Random(index)
        while time.perf_counter() < stop:
            os.pread(fd, RANDOM_SIZE, P1_START + rng.randrange(BLOCKS) * RANDOM_SIZE)
            counts[index] += 1

    workers = [threading.Thread(target=reader, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    os.close(fd)
    return sum(counts) / seconds


def bench(name: str, image: Path, seconds: float, poll: bool) -> None:
    machine = make_machine(name, image)
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    kernel = Kernel(machine, stdio)
    try:
        boot(kernel, programs(poll), stdio.stderr)  # type: ignore[arg-type]
        log = stdio.stderr.getvalue().decode()  # type: ignore[attr-defined]
        irq = [ln for ln in log.splitlines() if "interrupts on" in ln]
        how = "polling (-o poll)" if poll else (irq[0].split(": ", 1)[1] if irq else "polling")
        for clients in CLIENTS:
            rate = stack_rate(kernel, clients, seconds)
            base = host_rate(image, clients, seconds / 4)
            print(
                f"{name:8} {how:42} {clients:3} client(s) {rate:9.0f} reads/s   "
                f"os.pread x{clients:<3} {base:10.0f} reads/s  {base / rate:7.0f}x"
            )
    finally:
        kernel.shutdown()
        machine.close()


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "nvme.img"
        create_seed_image(image)
        with image.open("r+b") as f:
            os.pwrite(f.fileno(), os.urandom(P1_SIZE), P1_START)
        for name in machines:
            for poll in (True, False):
                bench(name, image, seconds, poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())

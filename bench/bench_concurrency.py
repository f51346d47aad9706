"""Concurrent random 4 KiB reads of /dev/nvme0n1p1 by 1, 4 and 16 client processes,
devb-nvme polling (``-o poll``) and with its interrupt service thread (on the
built-in board by MSI-X, and by INTx through the PLIC with ``-o intx``), on both
machines, beside os.pread of the same image from as many host threads.

Each client is a process of the system reading random 4 KiB blocks for the same
wall time; the figure is the reads completed by all clients per second.  One CPU
runs every modelled thread, so more clients measure how well the driver overlaps
requests (and, on QEMU, commands outstanding in QEMU), not parallel speed-up.

    python bench/bench_concurrency.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import P1_SIZE, P1_START, booted, machine_args, seed_image
from bench_stack import RANDOM_SIZE
from qrv.emu import BOOT_PROGRAMS, BootProgram
from qrv.kernel import Kernel
from qrv.lib.c.posix import close, open, pread

CLIENTS = (1, 4, 16)
BLOCKS = P1_SIZE // RANDOM_SIZE


def programs(option: str | None) -> list[BootProgram]:
    """The boot programs, devb-nvme with ``-o option`` if given."""
    return [
        BootProgram(p.name, p.entry, [*p.argv, "-o", option], p.waitfor, p.timeout)
        if option and p.name == "devb-nvme"
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


def bench(name: str, image: Path, seconds: float, option: str | None) -> None:
    with booted(name, image, programs(option)) as system:
        irq = [ln for ln in system.log.splitlines() if "interrupts on" in ln]
        how = irq[0].split(": ", 1)[1] if irq else "polling"
        how += f" (-o {option})" if option else ""
        for clients in CLIENTS:
            rate = stack_rate(system.kernel, clients, seconds)
            base = host_rate(image, clients, seconds / 4)
            print(
                f"{name:8} {how:42} {clients:3} client(s) {rate:9.0f} reads/s   "
                f"os.pread x{clients:<3} {base:10.0f} reads/s  {base / rate:7.0f}x"
            )


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        image = seed_image(Path(tmp) / "nvme.img", random_p1=True)
        for name in machines:
            # INTx is QEMU's interrupt already: -o intx matters on the board only
            for option in ("poll", None, "intx") if name == "builtin" else ("poll", None):
                bench(name, image, seconds, option)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Full-stack reads of /dev/nvme0n1p1 on QEMU: the latency of each read (percentiles)
beside os.pread's in the same run, and the qtest traffic per read.

bench_stack's rates are means, which a host busy with other work bends by its longest
stalls; each percentile here compares like with like (the stack's p50 with os.pread's
p50), so the ratios stay put when the host is loaded.  The traffic columns count
what the read costs on the qtest socket: round trips (a command and its reply, or a
wait for the replies owed to posted stores) and posted stores (doorbells, sent
without waiting, hw/qtest.py).

    python bench/bench_qemu_reads.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import P1_SIZE, P1_START, KiB, MiB, booted, seed_image
from qrv.hw.qemu import QemuMachine
from qrv.lib.c.posix import close, open, pread

PERCENTILES = (0.1, 0.5, 0.9)
WORKLOADS = (("random read 4 KiB", 4 * KiB, True), ("seq read 1 MiB", MiB, False))


def latencies(
    read: Callable[[int, int], bytes], size: int, rand: bool, seconds: float
) -> list[float]:
    """Seconds per read of `size` bytes (random aligned offsets or sequential in p1),
    sorted, for `seconds`."""
    rng = random.Random(1)
    out: list[float] = []
    pos = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        off = rng.randrange(P1_SIZE // size) * size if rand else pos
        pos = (pos + size) % P1_SIZE
        t0 = time.perf_counter()
        if len(read(size, off)) != size:
            raise SystemExit(f"a short read at {off}")
        out.append(time.perf_counter() - t0)
    return sorted(out)


def pct(values: list[float], q: float) -> float:
    return values[int(q * (len(values) - 1))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=2.0, help="time per stack workload")
    seconds = p.parse_args().seconds
    if shutil.which("qemu-system-riscv64") is None:
        print("qemu-system-riscv64 not installed (Debian qemu-system-misc): skipping")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        image = seed_image(Path(tmp) / "nvme.img", random_p1=True)
        fd_img = os.open(image, os.O_RDONLY)
        try:
            with booted("qemu", image) as system:
                machine = system.kernel.machine
                assert isinstance(machine, QemuMachine)
                client = machine.qemu_bus.client

                def workload(argv: list[str]) -> int:
                    fd = open("/dev/nvme0n1p1")
                    try:
                        head = "".join(f"{f'p{int(q * 100)} us':>10}" for q in PERCENTILES)
                        print(f"== QEMU ({machine.ram_note}): per read, stack / os.pread")
                        print(f"{'workload':<20}{'reads':>7}{head}   ratio p50  trips  posted")
                        for label, size, rand in WORKLOADS:
                            trips, posted = client.round_trips, client.posted
                            stack = latencies(lambda n, o: pread(fd, n, o), size, rand, seconds)
                            trips, posted = client.round_trips - trips, client.posted - posted
                            host = latencies(
                                lambda n, o: os.pread(fd_img, n, P1_START + o),
                                size,
                                rand,
                                seconds / 4,
                            )
                            cols = "".join(f"{pct(stack, q) * 1e6:>10.0f}" for q in PERCENTILES)
                            hcols = "".join(f"{pct(host, q) * 1e6:>10.1f}" for q in PERCENTILES)
                            ratio = pct(host, 0.5) / pct(stack, 0.5)
                            n = len(stack)
                            print(
                                f"{label:<20}{n:>7}{cols}{ratio:>12.3f}x"
                                f"{trips / n:>7.2f}{posted / n:>8.2f}"
                            )
                            print(f"{'  os.pread':<20}{len(host):>7}{hcols}")
                    finally:
                        close(fd)
                    return 0

                system.run(workload)
        finally:
            os.close(fd_img)
    return 0


if __name__ == "__main__":
    sys.exit(main())

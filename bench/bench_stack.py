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

import os
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import P1_SIZE, P1_START, KiB, MiB, booted, compare, header, machine_args, seed_image
from qrv.lib.c.posix import close, open, pread

SEQ_SIZES = (4 * KiB, 64 * KiB, 1 * MiB)
RANDOM_SIZE = 4 * KiB


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


def bench_machine(name: str, image: Path, seconds: float) -> None:
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
                stack, host = sequential(stack_read, size), sequential(raw_read, size)
                compare(f"seq read {size // KiB} KiB", stack, host, seconds, cpu=cpu)
            stack = random_reads(stack_read, random.Random(1))
            host = random_reads(raw_read, random.Random(1))
            compare("random read 4 KiB", stack, host, seconds, cpu=cpu, per_call=True)
        finally:
            close(fd)
        return 0

    try:
        with booted(name, image) as system:
            system.run(workload)
    finally:
        os.close(fd_img)


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        image = seed_image(Path(tmp) / "nvme.img", random_p1=True)
        for name in machines:
            bench_machine(name, image, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

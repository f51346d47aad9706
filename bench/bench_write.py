"""Full-stack write throughput of /dev/nvme0n1p1 (``rw``), beside same-run os.pwrite.

Every write goes client -> MsgSend (the data follow the header; past 64 KiB the
driver fetches them all with MsgRead) -> devb-nvme's resmgr -> NVMe Write SQE
through the bounce buffer -> doorbell -> controller (the built-in model with its
8 MiB volatile write cache, or QEMU over qtest) -> CQE -> MsgReply.  The
baseline is os.pwrite (and os.fsync) of the same sizes to a host file of the
same size, in the same run (`cpu`: the same fraction in CPU time, as in
bench_stack.py).  "write+fsync 4 KiB" is one 4 KiB pwrite followed by
fsync (an NVMe Flush, which on both machines ends in an fsync of the image).

    python bench/bench_write.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from _common import P1_SIZE, KiB, booted, compare, header, machine_args, seed_image
from bench_stack import SEQ_SIZES
from qrv.emu import boot_programs
from qrv.lib.c.posix import close, fsync, open, pread, pwrite
from qrv.spec.iomsg import O_RDWR

SYNC_SIZE = 4 * KiB

Writer = Callable[[bytes, int], int]


def sequential(
    write: Writer, size: int, after: Callable[[], None] | None = None
) -> Callable[[], int]:
    data = os.urandom(size)
    pos = [0]

    def step() -> int:
        n = write(data, pos[0])
        if after is not None:
            after()
        pos[0] = (pos[0] + size) % P1_SIZE
        return n

    return step


def bench_machine(name: str, image: Path, baseline: Path, seconds: float) -> None:
    fd_base = os.open(baseline, os.O_RDWR)
    cpu = name == "builtin"  # the whole system runs on the kernel's CPU thread

    def workload(argv: list[str]) -> int:
        """The client: a process of the system, as every program is."""
        fd = open("/dev/nvme0n1p1", O_RDWR)
        try:

            def stack_write(data: bytes, off: int) -> int:
                return pwrite(fd, data, off)

            def base_write(data: bytes, off: int) -> int:
                return os.pwrite(fd_base, data, off)

            probe = os.urandom(4096)
            stack_write(probe, 0)
            if pread(fd, 4096, 0) != probe:
                raise SystemExit("the stack does not read back its write: not benchmarking")
            print(f"\n== {name} machine: /dev/nvme0n1p1 vs os.pwrite of {baseline.name}")
            header("os.pwrite", cpu)
            for size in SEQ_SIZES:
                stack, host = sequential(stack_write, size), sequential(base_write, size)
                compare(f"seq write {size // KiB} KiB", stack, host, seconds, cpu=cpu)
            # fsync waits for the host's disk, which no thread's CPU time shows: wall only
            stack = sequential(stack_write, SYNC_SIZE, lambda: fsync(fd))
            host = sequential(base_write, SYNC_SIZE, lambda: os.fsync(fd_base))
            compare(
                "write+fsync 4 KiB", stack, host, seconds, cpu=False, per_call=True,
                host_seconds=seconds,
            )  # fmt: skip
        finally:
            close(fd)
        return 0

    try:
        with booted(name, image, boot_programs(True), writable=True) as system:
            system.run(workload)
    finally:
        os.close(fd_base)


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        for name in machines:
            image, baseline = Path(tmp) / "nvme.img", Path(tmp) / "baseline.img"
            seed_image(image)
            baseline.write_bytes(bytes(P1_SIZE))
            for path in (image, baseline):  # nothing left dirty from creating them
                fd = os.open(path, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
            bench_machine(name, image, baseline, seconds)
            image.unlink()
            baseline.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())

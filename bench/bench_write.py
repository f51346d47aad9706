"""Full-stack write throughput of /dev/nvme0n1p1 (``rw``), beside same-run os.pwrite.

Every write goes client -> MsgSend (the data follow the header; past 64 KiB the
driver fetches the rest with MsgRead) -> devb-nvme's resmgr -> NVMe Write SQE
through the bounce buffer -> doorbell -> controller (the built-in model with its
8 MiB volatile write cache, or QEMU over qtest) -> CQE -> MsgReply.  The
baseline is os.pwrite (and os.fsync) of the same sizes to a host file of the
same size, in the same run.  "write+fsync 4 KiB" is one 4 KiB pwrite followed by
fsync (an NVMe Flush, which on both machines ends in an fsync of the image).

    python bench/bench_write.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench_stack import P1_SIZE, SEQ_SIZES, KiB, MiB, machine_args, timed
from qrv.emu import BuiltinMachine, boot, boot_programs
from qrv.hw.bus import Machine
from qrv.kernel import Kernel, Stdio
from qrv.lib.c.posix import close, fsync, open, pread, pwrite
from qrv.spec.iomsg import O_RDWR
from qrv.tools.mkgpt import create_seed_image

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


def make_machine(name: str, image: Path) -> Machine:
    if name == "qemu":
        from qrv.hw.qemu import QemuMachine

        return QemuMachine(image, read_only=False)
    return BuiltinMachine(image, writable=True)


def row(label: str, stack: float, base: float, unit: str) -> None:
    print(f"{label:<22}{stack:>11.1f} {unit}{base:>11.1f} {unit}{stack / base:>9.3f}x")


def bench_machine(name: str, image: Path, baseline: Path, seconds: float) -> None:
    machine = make_machine(name, image)
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    kernel = Kernel(machine, stdio)
    fd_base = os.open(baseline, os.O_RDWR)
    try:
        boot(kernel, boot_programs(True), stdio.stderr)  # type: ignore[arg-type]
        with kernel.adopt("bench"):
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
                print(f"{'workload':<22}{'qrv stack':>16}{'os.pwrite':>16}{'qrv/host':>10}")
                for size in SEQ_SIZES:
                    _, b1, t1 = timed(sequential(stack_write, size), seconds)
                    _, b0, t0 = timed(sequential(base_write, size), seconds / 4)
                    row(f"seq write {size // KiB} KiB", b1 / t1 / MiB, b0 / t0 / MiB, "MiB/s")
                c1, _, t1 = timed(sequential(stack_write, SYNC_SIZE, lambda: fsync(fd)), seconds)
                c0, _, t0 = timed(
                    sequential(base_write, SYNC_SIZE, lambda: os.fsync(fd_base)), seconds
                )
                row("write+fsync 4 KiB", c1 / t1, c0 / t0, " IOPS")
            finally:
                close(fd)
    finally:
        os.close(fd_base)
        kernel.shutdown()
        machine.close()


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        for name in machines:
            image, baseline = Path(tmp) / "nvme.img", Path(tmp) / "baseline.img"
            create_seed_image(image)
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

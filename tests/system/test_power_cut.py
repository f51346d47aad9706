"""Power cuts through the whole stack: a scripted workload through devb-nvme (writes,
fsync, O_SYNC writes) on the built-in machine, cut after each of its writes in turn.
Afterwards every flushed or FUA block holds its new value and every other block its
old or a newer one, whole per LBA (checked on the image file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.lib.c.posix import close, fsync, open, pwrite
from qrv.spec.iomsg import O_RDWR, O_SYNC
from qrv.tools.mkgpt import create_seed_image
from tests.system.stack import booted, image_bytes

LBA = 512
BLOCK = 4096  # every write is one aligned 4 KiB NVMe Write
P1 = 34 * LBA
SPAN = 16  # 4 KiB blocks of p1 the workload touches
Step = tuple[str, int]  # ("write" | "sync-write", block) or ("fsync", 0)
WORKLOAD: list[Step] = [
    ("write", 0),
    ("write", 1),
    ("fsync", 0),
    ("write", 1),
    ("sync-write", 2),
    ("write", 3),
    ("write", 0),
    ("fsync", 0),
    ("write", 4),
    ("sync-write", 4),
    ("write", 5),
    ("write", 5),
]
WRITES = sum(1 for op, _ in WORKLOAD if op != "fsync")


def block_data(step: int, block: int) -> bytes:
    return b"".join(
        f"step{step:02d}blk{block:02d}lba{i}".encode().ljust(LBA, b"#") for i in range(BLOCK // LBA)
    )


def lbas(data: bytes) -> list[bytes]:
    return [data[i : i + LBA] for i in range(0, len(data), LBA)]


def run_cut(tmp_path: Path, cut_after: int) -> None:
    image = tmp_path / "nvme.img"
    create_seed_image(image)
    latest = lbas(image_bytes(image, P1, SPAN * BLOCK))
    allowed = [{v} for v in latest]
    machine = BuiltinMachine(image, writable=True, power_cut_after=cut_after, seed=cut_after)
    with booted(machine, writable=True) as st, st.kernel.adopt("client"):
        fd, sync_fd = open("/dev/nvme0n1p1", O_RDWR), open("/dev/nvme0n1p1", O_RDWR | O_SYNC)
        for step, (op, block) in enumerate(WORKLOAD):
            if op == "fsync":
                fsync(fd)
                allowed = [{v} for v in latest]
                continue
            data = block_data(step, block)
            assert pwrite(sync_fd if op == "sync-write" else fd, data, block * BLOCK) == BLOCK
            for i, lba in enumerate(lbas(data)):
                at = block * BLOCK // LBA + i
                latest[at] = lba
                allowed[at] = {lba} if op == "sync-write" else allowed[at] | {lba}
            if machine.power_cut is not None:
                break  # the device is gone: nothing more reaches it
        close(fd)
        close(sync_fd)  # (closing sends the device nothing)
        assert machine.power_cut is not None and machine.power_cut.writes == cut_after
    got = lbas(image_bytes(image, P1, SPAN * BLOCK))
    for at, value in enumerate(got):
        assert value in allowed[at], f"LBA {at} of p1 after a cut at write {cut_after}"


@pytest.mark.parametrize("cut_after", [1, 6, WRITES])
def test_power_cut_through_the_stack(tmp_path: Path, cut_after: int) -> None:
    run_cut(tmp_path, cut_after)


@pytest.mark.slow
@pytest.mark.parametrize("cut_after", range(1, WRITES + 1))
def test_power_cut_through_the_stack_at_every_write(tmp_path: Path, cut_after: int) -> None:
    run_cut(tmp_path, cut_after)

"""Byte-exact reads and writes of every size at every alignment through the whole stack
(client -> devb-nvme -> the controller's PRPs -> DMA), on the built-in board and on QEMU
with its RAM shared with qrv and without (DMA over qtest).

Sizes and offsets straddle LBAs, pages (PRP1 only, PRP1 + PRP2, a PRP list), the
driver's MDTS split and its batches of commands in flight (aligned writes too, whose
data go from the client's message straight into the bounce buffers); a read must be the image's
bytes, a write must read back and, after fsync, be in the image file."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.lib.c.posix import close, fsync, open, pread, pwrite
from qrv.spec.iomsg import O_RDWR
from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool
from tests.system.stack import booted, image_bytes

KiB = 1 << 10
MiB = 1 << 20
SIZES = (1, 511, 512, 513, 4095, 4096, 4097, 8192, 8193, 12 * KiB + 7, 64 * KiB + 1)
OFFSETS = (0, 1, 511, 512, 4095, 4096 * 3 + 17)
LARGE = (MiB + 513, 2 * MiB + 4096)  # past the 512 KiB MDTS: split in several commands
BATCHES = 4 * MiB + 4096 + 3  # nine commands: more than devb-nvme keeps in flight at once
ALIGNED_BATCHES = 4 * MiB + 4096
MACHINES = ("builtin", "qemu-shared", "qemu-qtest")
WRITES_AT, WRITTEN_SPAN = 16 * MiB, 16 * MiB


def make(name: str, image: Path) -> Machine:
    if name == "builtin":
        return BuiltinMachine(image, writable=True)
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    machine = QemuMachine(image, read_only=False, shared_ram=name == "qemu-shared")
    assert machine.shared_ram is (name == "qemu-shared")
    return machine


@pytest.mark.parametrize("name", MACHINES)
def test_reads_and_writes_of_every_shape_are_byte_exact(tmp_path: Path, name: str) -> None:
    image = tmp_path / "nvme.img"
    create_seed_image(image)
    rng = random.Random(name)
    with image.open("r+b") as f:  # bytes that differ everywhere: the reads' first 8 MiB,
        f.write(rng.randbytes(8 * MiB))  # and where the writes go (their neighbours too)
        os.pwrite(f.fileno(), rng.randbytes(WRITTEN_SPAN), WRITES_AT)
    expected = bytearray(image_bytes(image, WRITES_AT, WRITTEN_SPAN))
    shapes = [(size, offset) for size in SIZES for offset in OFFSETS]
    shapes += [(size, 4096 * 5 + 9) for size in (*LARGE, BATCHES)]
    # aligned and past the receive buffer: straight from the client's message into the
    # bounce buffers (MsgReadInto), in place or, over qtest, through the bus
    shapes += [(size, 4096 * 5) for size in (64 * KiB + 4096, MiB, ALIGNED_BATCHES)]
    with booted(make(name, image), writable=True) as stack, stack.kernel.adopt("client"):
        fd = open("/dev/nvme0n1", O_RDWR)
        try:
            for size, offset in shapes:
                got = pread(fd, size, offset)
                assert got == image_bytes(image, offset, size), f"read {size} at {offset}"
            written: list[tuple[int, bytes]] = []
            cursor = WRITES_AT  # past the bytes read above; each write in its own range
            for size, offset in shapes:
                where = cursor + offset
                cursor = (where + size) // 4096 * 4096 + 8192
                data = rng.randbytes(size)
                assert pwrite(fd, data, where) == size
                assert pread(fd, size, where) == data, f"write {size} at {where}"
                written.append((where, data))
                expected[where - WRITES_AT : where - WRITES_AT + size] = data
            assert cursor <= WRITES_AT + WRITTEN_SPAN
            fsync(fd)
        finally:
            close(fd)
    for where, data in written:
        assert image_bytes(image, where, len(data)) == data
    # and the bytes around them (an unaligned write's edge blocks) are what they were
    assert image_bytes(image, WRITES_AT, WRITTEN_SPAN) == expected

"""The write path on QEMU's NVMe device, differential against the built-in board: the
same workload through devb-nvme ``rw`` leaves byte-identical image files."""

from __future__ import annotations

import errno
import hashlib
import random
import shutil
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.lib.c.posix import close, devctl, fsync, open, pread, pwrite, write
from qrv.spec.blk import DCMD_BLK_DISCARD, DCMD_BLK_FLUSH, DCMD_BLK_ZERO, BlkRange
from qrv.spec.iomsg import O_RDONLY, O_RDWR, O_SYNC, O_WRONLY
from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool
from tests.system.stack import booted

pytestmark = pytest.mark.qemu

MiB = 1 << 20
P1 = (34 * 512, 32768 * 512)  # the seed's p1: byte offset, size


def workload(machine: Machine) -> bytes:
    """Writes of every shape through both kinds of node; what p1 reads back at the end."""
    rng = random.Random(1234)
    with booted(machine, writable=True) as stack, stack.kernel.adopt("client"):
        disk = open("/dev/nvme0n1", O_RDWR)
        p1 = open("/dev/nvme0n1p1", O_RDWR)
        sync = open("/dev/nvme0n1p2", O_WRONLY | O_SYNC)
        try:
            for _ in range(20):
                pwrite(p1, rng.randbytes(rng.randint(1, 200_000)), rng.randint(0, 15 * MiB))
            pwrite(disk, rng.randbytes(3 * MiB + 3), 40 * MiB + 1)  # MDTS splits, unaligned
            assert pwrite(p1, rng.randbytes(9000), P1[1] - 1000) == 1000  # clipped
            write(sync, rng.randbytes(70_000))
            fsync(p1)
            devctl(p1, DCMD_BLK_DISCARD, BlkRange(MiB, 64 * 512).pack())
            devctl(p1, DCMD_BLK_ZERO, BlkRange(2 * MiB, 300 * 512).pack())
            devctl(disk, DCMD_BLK_FLUSH)
            with pytest.raises(OSError) as err:
                pwrite(p1, b"x", P1[1])
            assert err.value.errno == errno.ENOSPC
            return pread(p1, P1[1], 0)
        finally:
            for fd in (disk, p1, sync):
                close(fd)


def test_the_same_writes_leave_identical_images(tmp_path: Path) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    builtin, qemu = tmp_path / "builtin.img", tmp_path / "qemu.img"
    create_seed_image(builtin)
    shutil.copyfile(builtin, qemu)
    fresh = builtin.read_bytes()
    seen_builtin = workload(BuiltinMachine(builtin, writable=True))
    seen_qemu = workload(QemuMachine(qemu, read_only=False))
    assert seen_builtin == seen_qemu
    assert builtin.read_bytes() == qemu.read_bytes()
    start, size = P1
    assert builtin.read_bytes()[start : start + size] == seen_builtin
    assert builtin.read_bytes() != fresh  # the workload did write


def test_qemu_without_rw_is_read_only_and_leaves_the_image(tmp_path: Path) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    img = tmp_path / "seed.img"
    create_seed_image(img)
    digest, mtime = hashlib.sha256(img.read_bytes()).digest(), img.stat().st_mtime_ns
    with booted(QemuMachine(img)) as stack, stack.kernel.adopt("client"):
        for flags in (O_WRONLY, O_RDWR):
            with pytest.raises(OSError) as err:
                open("/dev/nvme0n1p1", flags)
            assert err.value.errno == errno.EROFS
        fd = open("/dev/nvme0n1", O_RDONLY)
        fsync(fd)  # a Flush on a read-only drive is harmless
        close(fd)
    assert hashlib.sha256(img.read_bytes()).digest() == digest
    assert img.stat().st_mtime_ns == mtime

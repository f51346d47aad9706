"""mmap_phys / mmap_anon / mem_offset / munmap over a machine's physical bus."""

from __future__ import annotations

import errno

import pytest

from qrv.hw.bus import Region
from qrv.kernel import PAGE_SIZE, Kernel
from qrv.lib.c import mman
from tests.kernel.system import RAM_BASE, RAM_SIZE, Console, TinyMachine

MMIO_BASE = 0x1000_0000


class Regs:
    """A device recording every register access."""

    def __init__(self) -> None:
        self.log: list[tuple[str, int, int, int]] = []

    def mmio_read(self, offset: int, width: int) -> int:
        self.log.append(("r", offset, width, 0))
        return 0x1122334455667788 & ((1 << (8 * width)) - 1)

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        self.log.append(("w", offset, width, value))


def test_anon_mapping_is_zeroed_aligned_contiguous_ram(sysk) -> None:
    k, _ = sysk
    machine = k.machine
    assert isinstance(machine, TinyMachine)
    machine.ram.write(0, b"\xff" * (3 * PAGE_SIZE))  # stale data must not leak
    with k.adopt("drv"):
        m = mman.mmap_anon(PAGE_SIZE + 1)
        pa = mman.mem_offset(m)
        assert pa % PAGE_SIZE == 0 and RAM_BASE <= pa < RAM_BASE + RAM_SIZE
        assert m.read(0, PAGE_SIZE + 1) == bytes(PAGE_SIZE + 1)
        m.write32(PAGE_SIZE - 3, 0xA1B2C3D4)  # crosses a page: contiguous
        assert machine.ram.read(pa - RAM_BASE + PAGE_SIZE - 3, 4) == bytes.fromhex("d4c3b2a1")
        assert mman.mem_offset(m, 16) == pa + 16
        m2 = mman.mmap_anon(PAGE_SIZE)
        assert mman.mem_offset(m2) >= pa + 2 * PAGE_SIZE  # two pages used by m
        with pytest.raises(OSError) as ei:
            m.read64(PAGE_SIZE - 4)
        assert ei.value.errno == errno.EFAULT
        mman.munmap(m)
        with pytest.raises(OSError):
            m.read8(0)
        again = mman.mmap_anon(PAGE_SIZE)
        assert mman.mem_offset(again) == pa  # freed pages are reused first-fit


def test_phys_mapping_reaches_the_device(sysk) -> None:
    k, _ = sysk
    regs = Regs()
    k.machine.space.add(Region("regs", MMIO_BASE, 0x1000, mmio=regs))
    with k.adopt("drv"):
        bar = mman.mmap_phys(MMIO_BASE, 0x1000)
        assert bar.read32(0x1C) == 0x55667788
        bar.write64(0x28, 0xDEAD)
        bar.write8(0x3, 1)
        assert bar.read16(0x10) == 0x7788
    assert regs.log == [
        ("r", 0x1C, 4, 0),
        ("w", 0x28, 8, 0xDEAD),
        ("w", 0x3, 1, 1),
        ("r", 0x10, 2, 0),
    ]


def test_mappings_are_released_at_exit(sysk) -> None:
    k, _ = sysk
    free = k.mm.pages.free_pages
    pid = k.spawn(lambda argv: mman.mem_offset(mman.mmap_anon(8 * PAGE_SIZE)) and 0, ["leaky"])
    assert k.waitpid(pid, 5) == 0
    assert k.mm.pages.free_pages == free


def test_no_machine_no_memory() -> None:
    k = Kernel(None, Console().stdio())
    try:
        with k.adopt("x"), pytest.raises(OSError) as ei:
            mman.mmap_anon(PAGE_SIZE)
        assert ei.value.errno == errno.ENOMEM
    finally:
        k.shutdown()

"""DMA mappings in place: a driver's buffer is the machine's RAM itself where that RAM is
plain memory (no copy), and goes through the bus (so every access can be traced) where not."""

from __future__ import annotations

import errno
import io

import pytest

from qrv.hw.clock import VirtualClock
from qrv.kernel.mm import PAGE_SIZE, MemoryManager
from qrv.kernel.trace import Tracer
from tests.kernel.system import RAM_BASE, TinyMachine


def test_anon_mapping_lends_its_ram_in_place() -> None:
    machine = TinyMachine()
    m = MemoryManager(machine).map_anon(2 * PAGE_SIZE)
    view = m.view(PAGE_SIZE - 2, 4)
    assert view is not None and bytes(view) == bytes(4)
    view[:] = b"\x01\x02\x03\x04"  # a store through the view is the RAM (across a page)
    assert machine.ram.read(m.paddr - RAM_BASE + PAGE_SIZE - 2, 4) == b"\x01\x02\x03\x04"
    assert m.read(PAGE_SIZE - 2, 4) == b"\x01\x02\x03\x04"
    assert m.read16(PAGE_SIZE) == 0x0403
    machine.ram.write(m.paddr - RAM_BASE, b"dma!")  # what a device writes, the view shows
    whole = m.view(0, 4)
    assert whole is not None and bytes(whole) == b"dma!"
    m.write(8, b"driver")
    assert machine.ram.read(m.paddr - RAM_BASE + 8, 6) == b"driver"


def test_view_bounds_and_unmap_are_efault_and_einval() -> None:
    mm = MemoryManager(TinyMachine())
    m = mm.map_anon(PAGE_SIZE)
    for off, size in ((PAGE_SIZE - 1, 2), (-1, 1), (0, PAGE_SIZE + 1)):
        with pytest.raises(OSError) as err:
            m.view(off, size)
        assert err.value.errno == errno.EFAULT
    mm.unmap(m)
    with pytest.raises(OSError) as err:
        m.view(0, 1)
    assert err.value.errno == errno.EFAULT
    with pytest.raises(OSError):
        m.read16(0)


def test_traced_mappings_go_through_the_bus() -> None:
    out = io.StringIO()
    mm = MemoryManager(TinyMachine(), Tracer(out, VirtualClock(), lambda: "drv"))
    m = mm.map_anon(PAGE_SIZE)
    assert m.view(0, 16) is None
    m.write(0, b"traced")
    assert m.read(0, 6) == b"traced" and m.read16(0) == int.from_bytes(b"tr", "little")
    lines = out.getvalue().splitlines()
    assert any(f"write {m.paddr:#x}/6" in line for line in lines)
    assert any(f"load {m.paddr:#x}/2" in line for line in lines)

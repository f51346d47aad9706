"""The physical address space's defined results (issue 4): unmapped and unaligned access.

Reads of nothing return all-ones, as a PCI master abort does (PCI Local Bus 3.0
§3.3.3.1: the host bridge returns all 1s), stores to nothing are dropped, and both
are counted; an access straddling a region's end is split into naturally aligned
pieces, so load() and read() agree (qrv.hw.bus module docstring).
"""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.errors import BusError
from qrv.hw.bus import AddressSpace, Region
from qrv.hw.memory import GuestRam

RAM_BASE = 0x8000_0000
RAM_SIZE = 0x1000
RAM_END = RAM_BASE + RAM_SIZE
MMIO_BASE = RAM_END  # a device right after RAM: straddles reach it
MMIO_SIZE = 0x100
UNMAPPED = 0x1000_0000
WIDTHS = (1, 2, 4, 8)
ONES = {1: 0xFF, 2: 0xFFFF, 4: 0xFFFF_FFFF, 8: 0xFFFF_FFFF_FFFF_FFFF}


class ByteDevice:
    """MMIO registers backed by bytes; logs every access as (op, offset, width)."""

    def __init__(self, size: int) -> None:
        self.data = bytearray((0x40 + i) & 0xFF for i in range(size))
        self.accesses: list[tuple[str, int, int]] = []

    def mmio_read(self, offset: int, width: int) -> int:
        self.accesses.append(("r", offset, width))
        return int.from_bytes(self.data[offset : offset + width], "little")

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        self.accesses.append(("w", offset, width))
        self.data[offset : offset + width] = value.to_bytes(width, "little")


def make_space(with_device: bool = False) -> tuple[AddressSpace, GuestRam, ByteDevice]:
    space = AddressSpace()
    ram = GuestRam(RAM_SIZE)
    ram.write(0, bytes(range(256)) * (RAM_SIZE // 256))
    space.add(Region("ram", RAM_BASE, RAM_SIZE, ram=ram))
    dev = ByteDevice(MMIO_SIZE)
    if with_device:
        space.add(Region("dev", MMIO_BASE, MMIO_SIZE, mmio=dev))
    return space, ram, dev


# -- nothing there ---------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_unmapped_load_is_all_ones_and_counted(width: int) -> None:
    space, _, _ = make_space()
    for n, addr in enumerate((0, UNMAPPED, RAM_END, RAM_BASE - width), start=1):
        assert space.load(addr, width) == ONES[width]
        assert space.unclaimed == n


@pytest.mark.parametrize("width", WIDTHS)
def test_unmapped_store_is_dropped_and_counted(width: int) -> None:
    space, ram, _ = make_space()
    before = ram.read(0, RAM_SIZE)
    space.store(UNMAPPED, width, 0x1234)
    space.store(RAM_END, width, 0)
    assert space.unclaimed == 2
    assert ram.read(0, RAM_SIZE) == before
    assert space.load(UNMAPPED, width) == ONES[width]  # nothing was kept there


def test_unclaimed_accesses_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    space, _, _ = make_space()
    with caplog.at_level(logging.DEBUG, logger="qrv.hw.bus"):
        space.load(UNMAPPED, 4)
        space.store(UNMAPPED + 8, 2, 7)
    assert f"unclaimed load at {UNMAPPED:#x} (4 bytes)" in caplog.text
    assert f"unclaimed store at {UNMAPPED + 8:#x} (2 bytes)" in caplog.text


def test_bulk_read_of_nothing_is_all_ones_per_aligned_piece() -> None:
    space, _, _ = make_space()
    assert space.read(UNMAPPED + 1, 10) == b"\xff" * 10
    # [1, 11) splits into 1@1, 2@2, 4@4, 2@8, 1@10: five unclaimed loads
    assert space.unclaimed == 5
    space.write(UNMAPPED + 1, bytes(10))
    assert space.unclaimed == 10


@pytest.mark.parametrize("width", [0, 3, 5, 16, -1])
def test_bad_widths_are_errors_not_results(width: int) -> None:
    space, _, _ = make_space()
    with pytest.raises(BusError):
        space.load(RAM_BASE, width)
    with pytest.raises(BusError):
        space.store(RAM_BASE, width, 0)
    assert space.unclaimed == 0


# -- straddling a region's end -------------------------------------------------------------


def test_load_straddling_the_end_of_ram() -> None:
    space, ram, _ = make_space()
    tail = ram.read(RAM_SIZE - 2, 2)
    expected = int.from_bytes(tail + b"\xff\xff", "little")
    assert space.load(RAM_END - 2, 4) == expected
    assert space.unclaimed == 1  # only the piece past the end
    assert space.read(RAM_END - 2, 4) == tail + b"\xff\xff"
    assert space.unclaimed == 2
    # 8 bytes from 3 below the end: 1@-3 and 2@-2 in RAM, then 1@0, 2@+1... past it
    got = space.load(RAM_END - 3, 8)
    assert got.to_bytes(8, "little") == ram.read(RAM_SIZE - 3, 3) + b"\xff" * 5
    assert got == int.from_bytes(space.read(RAM_END - 3, 8), "little")


def test_load_straddling_the_start_of_ram() -> None:
    space, ram, _ = make_space()
    got = space.load(RAM_BASE - 1, 2)
    assert got.to_bytes(2, "little") == b"\xff" + ram.read(0, 1)
    assert space.unclaimed == 1


def test_store_straddling_the_end_of_ram_keeps_the_part_in_ram() -> None:
    space, ram, _ = make_space()
    space.store(RAM_END - 2, 4, 0xAABB_CCDD)
    assert ram.read(RAM_SIZE - 2, 2) == b"\xdd\xcc"
    assert space.unclaimed == 1
    space.write(RAM_END - 1, b"\x11\x22")
    assert ram.read(RAM_SIZE - 1, 1) == b"\x11"
    assert space.unclaimed == 2


def test_straddle_from_ram_into_a_device_gives_each_its_aligned_part() -> None:
    space, ram, dev = make_space(with_device=True)
    got = space.load(RAM_END - 2, 4)
    assert got.to_bytes(4, "little") == ram.read(RAM_SIZE - 2, 2) + bytes(dev.data[0:2])
    assert dev.accesses == [("r", 0, 2)]
    assert space.unclaimed == 0
    space.store(RAM_END - 1, 2, 0x5566)
    assert ram.read(RAM_SIZE - 1, 1) == b"\x66"
    assert dev.accesses[-1] == ("w", 0, 1) and dev.data[0] == 0x55


def test_access_inside_one_device_is_one_access_as_given() -> None:
    space, _, dev = make_space(with_device=True)
    space.load(MMIO_BASE + 4, 4)
    space.load(MMIO_BASE + 1, 4)  # unaligned but decoded by one region: passed through
    assert dev.accesses == [("r", 4, 4), ("r", 1, 4)]


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(min_value=-24, max_value=MMIO_SIZE + 24),
    width=st.sampled_from(WIDTHS),
    with_device=st.booleans(),
)
def test_load_agrees_with_read_around_region_ends(
    offset: int, width: int, with_device: bool
) -> None:
    """Near RAM's end (and a byte-backed device after it, or nothing): load == read."""
    space, _, _ = make_space(with_device)
    addr = RAM_END + offset
    assert space.load(addr, width) == int.from_bytes(space.read(addr, width), "little")


@settings(max_examples=200, deadline=None)
@given(
    offset=st.integers(min_value=-24, max_value=24),
    width=st.sampled_from(WIDTHS),
    value=st.integers(min_value=0, max_value=ONES[8]),
)
def test_store_agrees_with_write_around_the_end_of_ram(offset: int, width: int, value: int) -> None:
    value &= ONES[width]
    a, ram_a, _ = make_space()
    b, ram_b, _ = make_space()
    addr = RAM_END + offset
    a.store(addr, width, value)
    b.write(addr, value.to_bytes(width, "little"))
    assert ram_a.read(0, RAM_SIZE) == ram_b.read(0, RAM_SIZE)
    assert a.unclaimed == b.unclaimed


# -- building the space ----------------------------------------------------------------------


def test_regions_must_not_overlap_and_need_one_backing() -> None:
    space, ram, dev = make_space()
    with pytest.raises(BusError, match="overlaps"):
        space.add(Region("dup", RAM_END - 1, 16, mmio=dev))
    with pytest.raises(BusError, match="exactly one"):
        space.add(Region("both", UNMAPPED, 16, ram=ram, mmio=dev))
    with pytest.raises(BusError, match="exactly one"):
        space.add(Region("none", UNMAPPED, 16))

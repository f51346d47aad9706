"""Guest RAM in place: GuestRam.view, AddressSpace.ram_view and a PCI function's
dma_view (the same bus-master gate and RAM-only rule as every DMA)."""

from __future__ import annotations

import pytest

from qrv.errors import BusError
from qrv.hw.bus import AddressSpace, DirectRam, Region
from qrv.hw.memory import GuestRam
from qrv.hw.pcidev import DmaError
from qrv.spec.pci import Cfg, Command, ecam_offset
from tests.hw.test_pcie import ECAM, MMIO, RAM, make


def test_guest_ram_view_is_the_bytes_themselves() -> None:
    ram = GuestRam(0x2000)
    view = ram.view(0xFFE, 4)
    view[:] = b"wxyz"
    assert ram.read(0xFFE, 4) == b"wxyz"
    ram.write(0x1000, b"Q")
    assert bytes(view) == b"wxQz"
    for offset, size in ((-1, 1), (0x1FFF, 2), (0, 0x2001)):
        with pytest.raises(BusError):
            ram.view(offset, size)


def test_address_space_lends_ram_only() -> None:
    space, _ = make()
    assert isinstance(space, DirectRam)
    view = space.ram_view(RAM + 8, 8)
    assert view is not None
    view[:] = b"12345678"
    assert space.load(RAM + 8, 8) == int.from_bytes(b"12345678", "little")
    assert space.ram_view(RAM + 0x10000 - 4, 8) is None  # straddles the end of RAM
    assert space.ram_view(MMIO, 4) is None  # a device window
    assert space.ram_view(ECAM, 4) is None
    other = AddressSpace()
    assert other.ram_view(0, 1) is None


def test_dma_view_needs_bus_mastering_and_ram() -> None:
    space, fn = make()
    with pytest.raises(DmaError, match="bus mastering"):
        fn.dma_view(RAM, 4)
    space.store(ECAM + ecam_offset(0, 1, 0, Cfg.COMMAND), 2, Command.BUS_MASTER)
    view = fn.dma_view(RAM + 0x100, 3)
    assert view is not None
    view[:] = b"dev"
    assert space.read(RAM + 0x100, 3) == b"dev"
    with pytest.raises(DmaError, match="not system RAM"):
        fn.dma_view(MMIO, 4)
    space.add(Region("rom", 0x1000, 0x100, ram=_Rom()))
    assert fn.dma_view(0x1000, 4) is None  # RAM-like but not plain memory: copy instead


class _Rom:
    def read(self, offset: int, size: int) -> bytes:
        return bytes(size)

    def write(self, offset: int, data: bytes) -> None:
        del offset, data

"""The host bridge and a function's config space, checked against PCI 3.0 6.2."""

from __future__ import annotations

from qrv.hw.bus import AddressSpace, Region
from qrv.hw.memory import GuestRam
from qrv.hw.pcidev import BarKind, BarSpec, DmaError, PciFunction, PciIdentity
from qrv.hw.pcie import PcieHostBridge, Window
from qrv.spec.pci import Cfg, Command, ecam_offset

ECAM = 0x3000_0000
MMIO = 0x4000_0000
RAM = 0x8000_0000


class Scratch(PciFunction):
    def __init__(self) -> None:
        super().__init__(
            PciIdentity(0x1B36, 0x0010, 0x010802, revision=2),
            [BarSpec(0, 0x4000, BarKind.MEM64)],
        )
        self.regs: dict[int, int] = {}

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        return self.regs.get(offset, 0x1234)

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        self.regs[offset] = value


def make() -> tuple[AddressSpace, Scratch]:
    space = AddressSpace()
    space.add(Region("ram", RAM, 0x10000, ram=GuestRam(0x10000)))
    bridge = PcieHostBridge(space, ECAM, 0x1000_0000)
    bridge.add_window(Window("mmio", MMIO, MMIO, 0x4000_0000, BarKind.MEM32))
    fn = Scratch()
    bridge.plug(fn, dev=1)
    return space, fn


def test_absent_function_reads_all_ones() -> None:
    space, _ = make()
    assert space.load(ECAM + ecam_offset(0, 2, 0), 2) == 0xFFFF
    assert space.load(ECAM + ecam_offset(0, 1, 0), 4) == 0x0010_1B36


def test_bar_sizing_and_decode_gated_by_command() -> None:
    space, fn = make()
    bar0 = ECAM + ecam_offset(0, 1, 0, Cfg.BAR0)
    assert space.load(bar0, 4) == 0x4  # 64-bit memory BAR, nothing assigned
    space.store(bar0, 4, 0xFFFF_FFFF)
    space.store(bar0 + 4, 4, 0xFFFF_FFFF)
    size_mask = space.load(bar0, 4) | space.load(bar0 + 4, 4) << 32
    assert (~(size_mask & ~0xF) + 1) & 0xFFFF_FFFF_FFFF_FFFF == 0x4000
    space.store(bar0, 4, MMIO)
    space.store(bar0 + 4, 4, 0)
    assert space.load(MMIO, 4) == 0xFFFF_FFFF  # memory decode still off
    space.store(ECAM + ecam_offset(0, 1, 0, Cfg.COMMAND), 2, Command.MEMORY_SPACE)
    assert space.load(MMIO + 8, 4) == 0x1234
    space.store(MMIO + 8, 4, 7)
    assert fn.regs[8] == 7


def test_read_only_fields_and_dma_gating() -> None:
    space, fn = make()
    space.store(ECAM + ecam_offset(0, 1, 0, Cfg.VENDOR_ID), 4, 0)
    assert fn.identity.vendor_id == space.load(ECAM + ecam_offset(0, 1, 0), 2)
    try:
        fn.dma_read(RAM, 4)
    except DmaError:
        pass
    else:
        raise AssertionError("DMA must fail with bus mastering off")
    space.store(ECAM + ecam_offset(0, 1, 0, Cfg.COMMAND), 2, Command.BUS_MASTER)
    fn.dma_write(RAM + 16, b"abcd")
    assert space.read(RAM + 16, 4) == b"abcd"

"""The host bridge and a function's config space, checked against PCI 3.0 6.2."""

from __future__ import annotations

from qrv.hw.bus import AddressSpace, Region
from qrv.hw.memory import GuestRam
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import BarKind, BarSpec, DmaError, PciFunction, PciIdentity
from qrv.hw.pcie import PcieHostBridge, Window
from qrv.spec.pci import Cfg, Command, Type1, ecam_offset

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


def test_decode_follows_bar_moves_and_command_changes() -> None:
    """Every access decodes against the BARs and COMMAND as they are now (PCI 3.0 6.2.2,
    6.2.5.1), however often the same address was hit before the change."""
    space, fn = make()
    cfg = ECAM + ecam_offset(0, 1, 0)
    moved = MMIO + 0x10_0000
    space.store(cfg + Cfg.BAR0, 4, MMIO)
    space.store(cfg + Cfg.COMMAND, 2, Command.MEMORY_SPACE)
    for _ in range(3):
        assert space.load(MMIO + 8, 4) == 0x1234
    space.store(cfg + Cfg.BAR0, 4, moved)  # the BAR moves: the old address no longer decodes
    assert space.load(MMIO + 8, 4) == 0xFFFF_FFFF
    assert space.load(moved + 8, 4) == 0x1234
    space.store(cfg + Cfg.COMMAND, 2, 0)  # memory decode off
    assert space.load(moved + 8, 4) == 0xFFFF_FFFF
    space.store(moved + 8, 4, 5)
    assert 8 not in fn.regs
    fn.config_write(Cfg.COMMAND, 2, Command.MEMORY_SPACE)  # not through ECAM: same rule
    space.store(moved + 8, 4, 5)
    assert fn.regs[8] == 5


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


def test_bridge_routes_config_mmio_and_dma_as_programmed() -> None:
    """PCI-to-PCI Bridge Spec 1.2: bus numbers route type-0 cycles; base/limit and the
    command register gate forwarding; the bridge's bus-master bit gates upstream DMA."""
    space = AddressSpace()
    space.add(Region("ram", RAM, 0x10000, ram=GuestRam(0x10000)))
    host = PcieHostBridge(space, ECAM, 0x1000_0000)
    host.add_window(Window("mmio", MMIO, MMIO, 0x4000_0000, BarKind.MEM32))
    bridge = PciBridge(PciIdentity(0x1B36, 0x0001, 0x060400))
    child = Scratch()
    bridge.plug(child, dev=0)
    host.plug(bridge, dev=2)
    br = ECAM + ecam_offset(0, 2, 0)
    child_cfg = ECAM + ecam_offset(1, 0, 0)
    assert space.load(child_cfg, 2) == 0xFFFF  # no bus numbers yet: nothing answers
    space.store(br + Type1.SECONDARY_BUS, 1, 1)
    space.store(br + Type1.SUBORDINATE_BUS, 1, 1)
    assert space.load(child_cfg, 4) == 0x0010_1B36
    space.store(child_cfg + Cfg.BAR0, 4, MMIO + 0x10_0000)
    space.store(child_cfg + Cfg.BAR0 + 4, 4, 0)
    space.store(child_cfg + Cfg.COMMAND, 2, Command.MEMORY_SPACE | Command.BUS_MASTER)
    assert space.load(MMIO + 0x10_0008, 4) == 0xFFFF_FFFF  # bridge window closed
    space.store(br + Type1.MEMORY_BASE, 2, (MMIO + 0x10_0000) >> 16)
    space.store(br + Type1.MEMORY_LIMIT, 2, (MMIO + 0x10_0000) >> 16)
    assert space.load(MMIO + 0x10_0008, 4) == 0xFFFF_FFFF  # bridge memory decode off
    space.store(br + Cfg.COMMAND, 2, Command.MEMORY_SPACE)
    assert space.load(MMIO + 0x10_0008, 4) == 0x1234
    try:
        child.dma_write(RAM, b"x")
    except DmaError:
        pass
    else:
        raise AssertionError("upstream DMA must need the bridge's bus-master bit")
    space.store(br + Cfg.COMMAND, 2, Command.MEMORY_SPACE | Command.BUS_MASTER)
    child.dma_write(RAM, b"x")
    assert space.read(RAM, 1) == b"x"

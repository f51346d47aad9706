"""Bus enumeration: every bus/device/function once, bridges numbered, BARs sized.

* Function 0 of every device is probed; functions 1-7 only when function 0's
  header has the multi-function bit (PCI 3.0 6.2.1, Header Type).
* A type-1 header (PCI-to-PCI bridge) gets primary = its bus, secondary = the
  next free bus number, subordinate = 0xFF while its subtree is scanned, then
  the highest bus number found (depth first, PCI-to-PCI Bridge Spec 1.2 ch. 3).
* BARs are sized with memory and I/O decode off (write all-ones, read the mask
  back, restore; PCI 3.0 6.2.5.1); a 64-bit BAR is sized as a pair.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum

from qrv.servers.pci.config import ConfigAccess
from qrv.spec.pci import (
    BAR_COUNT_TYPE0,
    BAR_COUNT_TYPE1,
    BAR_IO,
    BAR_IO_ADDR_MASK,
    BAR_MEM_ADDR_MASK,
    BAR_MEM_PREFETCH,
    BAR_MEM_TYPE_64,
    BAR_MEM_TYPE_MASK,
    HEADER_MULTIFUNCTION,
    HEADER_TYPE_MASK,
    MAX_DEVICE,
    MAX_FUNCTION,
    VENDOR_NONE,
    Cfg,
    Command,
    HeaderType,
    Type1,
)
from qrv.spec.pci_msg import PCI_BDF, PCI_BUS

log = logging.getLogger(__name__)

DWORD_ONES = 0xFFFF_FFFF
IO16_MASK = 0xFFFF
UPPER16 = 0xFFFF_0000
MAX_BUS_NUMBER = 0xFF


class BarType(Enum):
    IO = "io"
    MEM32 = "mem32"
    MEM64 = "mem64"


@dataclass
class Bar:
    """One implemented BAR: its sizing result and (after assignment) its addresses."""

    index: int
    type: BarType
    size: int
    prefetchable: bool = False
    pci_addr: int = 0
    cpu_addr: int = 0
    assigned: bool = False

    @property
    def is_io(self) -> bool:
        return self.type is BarType.IO


@dataclass(eq=False)
class PciNode:
    """A function found at enumeration."""

    bdf: int
    vid: int
    did: int
    revid: int
    ccode: int
    header_type: int
    multifunction: bool
    pin: int
    bars: list[Bar] = field(default_factory=list)
    parent: PciNode | None = None  # the bridge above it (None: the root bus)
    secondary: int = -1  # bridges only
    subordinate: int = -1
    children: list[PciNode] = field(default_factory=list)
    irq: int = -1

    @property
    def is_bridge(self) -> bool:
        return self.header_type == HeaderType.BRIDGE


def size_bars(cfg: ConfigAccess, bdf: int, count: int) -> list[Bar]:
    """Size the BARs of one function with its decode disabled; registers are restored."""
    cmd = cfg.read(bdf, Cfg.COMMAND, 2)
    cfg.write(bdf, Cfg.COMMAND, 2, cmd & ~(Command.MEMORY_SPACE | Command.IO_SPACE))
    bars: list[Bar] = []
    index = 0
    while index < count:
        off = Cfg.BAR0 + 4 * index
        orig = cfg.read(bdf, off, 4)
        cfg.write(bdf, off, 4, DWORD_ONES)
        mask = cfg.read(bdf, off, 4)
        cfg.write(bdf, off, 4, orig)
        if mask in (0, DWORD_ONES):  # unimplemented (or nothing answered)
            index += 1
            continue
        if mask & BAR_IO:
            addr_mask = mask & BAR_IO_ADDR_MASK & DWORD_ONES
            if not addr_mask & UPPER16:  # a 16-bit I/O decoder
                addr_mask |= UPPER16
            bars.append(Bar(index, BarType.IO, (~addr_mask & DWORD_ONES) + 1))
            index += 1
            continue
        prefetch = bool(mask & BAR_MEM_PREFETCH)
        if mask & BAR_MEM_TYPE_MASK == BAR_MEM_TYPE_64 and index + 1 < count:
            orig_hi = cfg.read(bdf, off + 4, 4)
            cfg.write(bdf, off + 4, 4, DWORD_ONES)
            mask_hi = cfg.read(bdf, off + 4, 4)
            cfg.write(bdf, off + 4, 4, orig_hi)
            full = mask_hi << 32 | (mask & BAR_MEM_ADDR_MASK & DWORD_ONES)
            size = (~full & ((1 << 64) - 1)) + 1
            bars.append(Bar(index, BarType.MEM64, size, prefetch))
            index += 2
            continue
        size = (~(mask & BAR_MEM_ADDR_MASK) & DWORD_ONES) + 1
        bars.append(Bar(index, BarType.MEM32, size, prefetch))
        index += 1
    cfg.write(bdf, Cfg.COMMAND, 2, cmd)
    return bars


class Enumerator:
    """Depth-first scan from the root bus, numbering bridges as it goes."""

    def __init__(self, cfg: ConfigAccess, first_bus: int = 0, last_bus: int = MAX_BUS_NUMBER):
        self.cfg = cfg
        self.first_bus = first_bus
        self.last_bus = last_bus
        self.next_bus = first_bus + 1
        self.nodes: list[PciNode] = []

    def run(self) -> list[PciNode]:
        self._scan_bus(self.first_bus, None)
        return self.nodes

    def _probe(self, bdf: int, parent: PciNode | None) -> PciNode | None:
        cfg = self.cfg
        vid = cfg.read(bdf, Cfg.VENDOR_ID, 2)
        if vid == VENDOR_NONE:
            return None
        hdr = cfg.read(bdf, Cfg.HEADER_TYPE, 1)
        class_rev = cfg.read(bdf, Cfg.REVISION_ID, 4)
        node = PciNode(
            bdf=bdf,
            vid=vid,
            did=cfg.read(bdf, Cfg.DEVICE_ID, 2),
            revid=class_rev & 0xFF,
            ccode=class_rev >> 8,
            header_type=hdr & HEADER_TYPE_MASK,
            multifunction=bool(hdr & HEADER_MULTIFUNCTION),
            pin=cfg.read(bdf, Cfg.INTERRUPT_PIN, 1),
            parent=parent,
        )
        count = BAR_COUNT_TYPE1 if node.is_bridge else BAR_COUNT_TYPE0
        if node.header_type in (HeaderType.NORMAL, HeaderType.BRIDGE):
            node.bars = size_bars(cfg, bdf, count)
        self.nodes.append(node)
        if parent is not None:
            parent.children.append(node)
        return node

    def _scan_bus(self, bus: int, parent: PciNode | None) -> int:
        """Scan one bus; return the highest bus number below it."""
        highest = bus
        for dev in range(MAX_DEVICE):
            fn0 = self._probe(PCI_BDF(bus, dev, 0), parent)
            if fn0 is None:
                continue
            funcs = [fn0]
            if fn0.multifunction:
                for fn in range(1, MAX_FUNCTION):
                    node = self._probe(PCI_BDF(bus, dev, fn), parent)
                    if node is not None:
                        funcs.append(node)
            for node in funcs:
                if node.is_bridge:
                    highest = max(highest, self._scan_bridge(node))
        return highest

    def _scan_bridge(self, bridge: PciNode) -> int:
        bus = PCI_BUS(bridge.bdf)
        if self.next_bus > self.last_bus:
            log.warning("no bus number left for the bridge at bus %d", bus)
            return bus
        secondary = self.next_bus
        self.next_bus += 1
        cfg = self.cfg
        cfg.write(bridge.bdf, Type1.PRIMARY_BUS, 1, bus)
        cfg.write(bridge.bdf, Type1.SECONDARY_BUS, 1, secondary)
        cfg.write(bridge.bdf, Type1.SUBORDINATE_BUS, 1, self.last_bus)
        subordinate = self._scan_bus(secondary, bridge)
        cfg.write(bridge.bdf, Type1.SUBORDINATE_BUS, 1, subordinate)
        bridge.secondary, bridge.subordinate = secondary, subordinate
        return subordinate

"""BAR assignment from the host-bridge windows published in hwinfo.

Policy (SPEC.md 3.3; the windows are whatever the ``pci_window`` tags say):

1. I/O BARs go to the I/O window, from PCI address 0x1000 up (below is the
   legacy ISA range, and a BAR of 0 reads as "unassigned").
2. 32-bit memory BARs go to a memory window below 4 GiB (a prefetchable BAR
   prefers a prefetchable window there).
3. 64-bit memory BARs go to the 32-bit memory window first (where firmware
   and Linux put them on QEMU virt, so both machines show the same
   addresses), and to the 64-bit window once the 32-bit one is full.  A
   prefetchable 64-bit BAR prefers a prefetchable window.
4. In each window, requests are placed largest alignment first, each aligned
   to its size (natural alignment, PCI 3.0 6.2.5.1), first fit in the
   window's free intervals: no byte is handed out twice, so no two BARs
   overlap and all lie inside their window.
5. Behind a PCI-to-PCI bridge, the subtree's memory BARs form one block
   (1 MiB aligned) and its I/O BARs another (4 KiB aligned), placed like a
   BAR in the 32-bit memory / I/O window; the bridge's memory and I/O
   base/limit registers are set to the blocks, its prefetchable window is
   closed (prefetchable BARs may sit in a non-prefetchable window), and its
   forwarding (memory, I/O, bus master) is enabled.
6. A BAR that fits nowhere stays unassigned (0) and is logged; attaching with
   its ``PCI_INIT_BASEn`` fails with ``PCI_ERR_ASPACE_NOT_AVAIL``.

Decode stays off until a driver attaches (qrv.servers.pci.devices).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from qrv.servers.pci.config import ConfigAccess
from qrv.servers.pci.enumerate import Bar, BarType, PciNode
from qrv.spec.pci import (
    BAR_IO_ADDR_MASK,
    BAR_MEM_ADDR_MASK,
    BRIDGE_IO_GRANULE,
    BRIDGE_IO_REG_MASK,
    BRIDGE_IO_SHIFT,
    BRIDGE_MEM_GRANULE,
    BRIDGE_MEM_REG_MASK,
    BRIDGE_MEM_SHIFT,
    Cfg,
    Command,
    Type1,
)
from qrv.spec.pci_msg import PCI_BDF

log = logging.getLogger(__name__)

IO_FLOOR = 0x1000
FOUR_GIB = 1 << 32
DWORD_MASK = 0xFFFF_FFFF
CLOSED_BASE_MEM = 0xFFF0  # base > limit: the window forwards nothing
CLOSED_BASE_IO = 0xF0


@dataclass(frozen=True)
class HostWindow:
    """A host-bridge window (from a ``pci_window`` hwinfo tag)."""

    cpu_addr: int
    pci_addr: int
    size: int
    io: bool
    prefetchable: bool = False

    @property
    def below_4g(self) -> bool:
        return self.pci_addr + self.size <= FOUR_GIB

    def to_cpu(self, pci_addr: int) -> int:
        return pci_addr - self.pci_addr + self.cpu_addr


class _Cursor:
    """First-fit allocator over a window's free intervals (PCI addresses)."""

    def __init__(self, window: HostWindow) -> None:
        self.window = window
        start = max(window.pci_addr, IO_FLOOR) if window.io else window.pci_addr
        self.free: list[tuple[int, int]] = [(start, window.pci_addr + window.size)]

    def take(self, size: int, align: int) -> int | None:
        for i, (lo, hi) in enumerate(self.free):
            start = -(-lo // align) * align
            if start + size > hi:
                continue
            pieces = [(lo, start), (start + size, hi)]
            self.free[i : i + 1] = [(a, b) for a, b in pieces if b > a]
            return start
        return None


@dataclass
class Request:
    """A BAR, or a bridge's block holding its subtree's requests at fixed offsets."""

    size: int
    align: int
    bar: Bar | None = None
    owner: PciNode | None = None
    bridge: PciNode | None = None
    members: list[tuple[int, Request]] = field(default_factory=list)


def _align_up(value: int, to: int) -> int:
    return -(-value // to) * to


def _requests(nodes: list[PciNode], io: bool) -> list[Request]:
    out: list[Request] = []
    for node in nodes:
        for bar in node.bars:
            if bar.is_io == io:
                out.append(Request(bar.size, bar.size, bar=bar, owner=node))
        if node.is_bridge:
            block = _block(node, io)
            if block is not None:
                out.append(block)
    return out


def _block(bridge: PciNode, io: bool) -> Request | None:
    granule = BRIDGE_IO_GRANULE if io else BRIDGE_MEM_GRANULE
    inner = sorted(_requests(bridge.children, io), key=lambda r: (-r.align, -r.size))
    if not inner:
        return None
    offset = 0
    members: list[tuple[int, Request]] = []
    for req in inner:
        offset = _align_up(offset, req.align)
        members.append((offset, req))
        offset += req.size
    align = max(granule, inner[0].align)
    return Request(_align_up(offset, granule), align, bridge=bridge, members=members)


def _candidates(req: Request, windows: list[HostWindow]) -> list[HostWindow]:
    bar = req.bar
    if bar is None or bar.is_io:
        io = bar is not None
        if bar is None:  # a bridge block: its kind is that of its members
            io = _block_is_io(req)
        return [w for w in windows if w.io == io and (io or w.below_4g)]
    mem = [w for w in windows if not w.io]
    low = [w for w in mem if w.below_4g]
    high = [w for w in mem if not w.below_4g]
    order = low + high if bar.type is BarType.MEM64 else low
    if not bar.prefetchable:  # a non-prefetchable BAR never sits in a prefetchable window
        return [w for w in order if not w.prefetchable]
    return sorted(order, key=lambda w: not w.prefetchable)  # stable: low windows first


def _block_is_io(req: Request) -> bool:
    for _, member in req.members:
        if member.bar is not None:
            return member.bar.is_io
        return _block_is_io(member)
    return False


class Assigner:
    """Assigns every BAR of an enumerated bus and programs the registers."""

    def __init__(self, cfg: ConfigAccess, windows: list[HostWindow]) -> None:
        self.cfg = cfg
        self.windows = windows
        self.cursors = {w: _Cursor(w) for w in windows}

    def run(self, roots: list[PciNode]) -> None:
        for io in (True, False):
            reqs = sorted(_requests(roots, io), key=lambda r: (-r.align, -r.size))
            for req in reqs:
                self._place_top(req)

    def _place_top(self, req: Request) -> None:
        for window in _candidates(req, self.windows):
            addr = self.cursors[window].take(req.size, req.align)
            if addr is not None:
                self._place(req, addr, window)
                return
        what = f"BAR{req.bar.index}" if req.bar is not None else "bridge window"
        node = req.owner or req.bridge
        bdf = node.bdf if node is not None else PCI_BDF(0, 0, 0)
        log.warning("no room for %s (%#x bytes) of %04x", what, req.size, bdf)

    def _place(self, req: Request, addr: int, window: HostWindow) -> None:
        if req.bar is not None and req.owner is not None:
            bar = req.bar
            bar.pci_addr, bar.cpu_addr, bar.assigned = addr, window.to_cpu(addr), True
            off = Cfg.BAR0 + 4 * bar.index
            flag_bits = ~BAR_IO_ADDR_MASK if bar.is_io else ~BAR_MEM_ADDR_MASK
            low = self.cfg.read(req.owner.bdf, off, 4) & flag_bits
            self.cfg.write(req.owner.bdf, off, 4, (addr & DWORD_MASK & ~flag_bits) | low)
            if bar.type is BarType.MEM64:
                self.cfg.write(req.owner.bdf, off + 4, 4, addr >> 32)
            return
        for offset, member in req.members:
            self._place(member, addr + offset, window)
        if req.bridge is not None:
            self._program_bridge(req.bridge, addr, addr + req.size - 1, window.io)

    def _program_bridge(self, bridge: PciNode, base: int, limit: int, io: bool) -> None:
        cfg, bdf = self.cfg, bridge.bdf
        if io:
            cfg.write(bdf, Type1.IO_BASE, 1, (base >> BRIDGE_IO_SHIFT) & BRIDGE_IO_REG_MASK)
            cfg.write(bdf, Type1.IO_LIMIT, 1, (limit >> BRIDGE_IO_SHIFT) & BRIDGE_IO_REG_MASK)
            cfg.write(bdf, Type1.IO_BASE_UPPER16, 2, base >> 16)
            cfg.write(bdf, Type1.IO_LIMIT_UPPER16, 2, limit >> 16)
            enable = Command.IO_SPACE
        else:
            cfg.write(bdf, Type1.MEMORY_BASE, 2, (base >> BRIDGE_MEM_SHIFT) & BRIDGE_MEM_REG_MASK)
            cfg.write(bdf, Type1.MEMORY_LIMIT, 2, (limit >> BRIDGE_MEM_SHIFT) & BRIDGE_MEM_REG_MASK)
            enable = Command.MEMORY_SPACE
        cmd = cfg.read(bdf, Cfg.COMMAND, 2)
        cfg.write(bdf, Cfg.COMMAND, 2, cmd | enable | Command.BUS_MASTER)


def close_bridge_windows(cfg: ConfigAccess, bridges: list[PciNode]) -> None:
    """Start every bridge with all forwarding windows closed (base above limit)."""
    for bridge in bridges:
        cfg.write(bridge.bdf, Type1.IO_BASE, 1, CLOSED_BASE_IO)
        cfg.write(bridge.bdf, Type1.IO_LIMIT, 1, 0)
        cfg.write(bridge.bdf, Type1.MEMORY_BASE, 2, CLOSED_BASE_MEM)
        cfg.write(bridge.bdf, Type1.MEMORY_LIMIT, 2, 0)
        cfg.write(bridge.bdf, Type1.PREF_MEMORY_BASE, 2, CLOSED_BASE_MEM)
        cfg.write(bridge.bdf, Type1.PREF_MEMORY_LIMIT, 2, 0)

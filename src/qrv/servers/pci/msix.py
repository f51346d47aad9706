"""MSI-X for owners (QNX 8.0 ``pci_device_cfg_cap_enable``/``_disable`` on capability 0x11,
``cap_msix_mask_irq_entry``/``cap_msix_unmask_irq_entry``; PCI 3.0 6.8.2).

Enabling gives the function `nirq` vectors (1..table size): the server takes one MSI
identity per vector from the machine's MSI target (the ``imsics`` device in hwinfo),
programs the table entries (Message Address = the target's ``seteipnum_le``, Message
Data = the identity, unmasked; the entries beyond `nirq` masked) while the function
mask is set, then clears it, sets Command.INTX_DISABLE and memory decode, and from then
on ``pci_device_read_irq`` answers the vectors' interrupt numbers (``0x100 + identity``).
Disabling (or the owner detaching, or dying) masks every entry, clears the enable,
gives the identities back and lets INTx through again.

Refusals: ``CAP_ENOTSUP`` (no such capability, or not MSI-X), ``CAP_NIRQ`` (`nirq`
outside 1..table size), ``MSIX_ENABLED`` (already enabled), ``MSI_ENABLED`` (plain MSI is
on), ``IRQ_NOT_AVAIL`` (no MSI target on this machine, or too few identities left),
``ASPACE_NOT_AVAIL`` (the table's BAR is not assigned), ``EINVAL`` (an entry outside the
enabled vectors for mask/unmask, or MSI-X not enabled by this handle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from qrv.servers.pci.config import ConfigAccess
from qrv.servers.pci.enumerate import PciNode
from qrv.spec.interrupt import MSI_IDS, msi_intr
from qrv.spec.pci import (
    CAP_LIST_START,
    MSIX_CONTROL,
    MSIX_ENABLE,
    MSIX_ENTRY_SIZE,
    MSIX_FUNCTION_MASK,
    MSIX_TABLE,
    MSIX_TABLE_SIZE_MASK,
    CapId,
    Cfg,
    Command,
    Status,
)
from qrv.spec.pci_msg import PciErr

ENTRY_ADDR_LO, ENTRY_ADDR_HI, ENTRY_DATA, ENTRY_CONTROL = 0, 4, 8, 12
VECTOR_MASKED = 1
BIR_MASK = 0x7
MSI_CONTROL = 2
MSI_ENABLE = 1
CAP_WALK_LIMIT = 48


class TableWindow(Protocol):
    """What the server needs of a mapping of the MSI-X table (``mmap_phys``)."""

    def write32(self, off: int, value: int) -> None: ...

    def read32(self, off: int) -> int: ...


MapPhys = Callable[[int, int], TableWindow]


@dataclass
class MsixGrant:
    """MSI-X enabled on a node by one owner handle."""

    handle: int
    node: PciNode
    cap: int
    eiids: list[int]
    table: TableWindow
    size: int


@dataclass
class MsixManager:
    """The machine's MSI identities and the grants made from them."""

    cfg: ConfigAccess
    target: int | None
    """Physical address of the MSI target's ``seteipnum_le`` (None: no MSI on this machine)."""
    map_phys: MapPhys
    free: list[int] = field(default_factory=lambda: list(range(1, MSI_IDS + 1)))
    grants: dict[int, MsixGrant] = field(default_factory=dict)
    """By node bdf."""

    def find_cap(self, bdf: int, capid: int) -> int:
        """Config offset of capability `capid`, or 0."""
        if not self.cfg.read(bdf, Cfg.STATUS, 2) & Status.CAP_LIST:
            return 0
        ptr = self.cfg.read(bdf, Cfg.CAPABILITIES_PTR, 1) & ~3
        for _ in range(CAP_WALK_LIMIT):
            if ptr < CAP_LIST_START:
                return 0
            if self.cfg.read(bdf, ptr, 1) == capid:
                return ptr
            ptr = self.cfg.read(bdf, ptr + 1, 1) & ~3
        return 0

    def vectors(self, node: PciNode) -> list[int] | None:
        """The interrupt numbers of `node`'s MSI-X vectors, or None when not enabled."""
        grant = self.grants.get(node.bdf)
        return None if grant is None else [msi_intr(e) for e in grant.eiids]

    def enable(self, handle: int, node: PciNode, capid: int, nirq: int) -> tuple[PciErr, list[int]]:
        if capid != CapId.MSIX:
            return PciErr.CAP_ENOTSUP, []
        cap = self.find_cap(node.bdf, CapId.MSIX)
        if not cap:
            return PciErr.CAP_ENOTSUP, []
        bdf = node.bdf
        control = self.cfg.read(bdf, cap + MSIX_CONTROL, 2)
        size = (control & MSIX_TABLE_SIZE_MASK) + 1
        if bdf in self.grants or control & MSIX_ENABLE:
            return PciErr.MSIX_ENABLED, []
        msi = self.find_cap(bdf, CapId.MSI)
        if msi and self.cfg.read(bdf, msi + MSI_CONTROL, 2) & MSI_ENABLE:
            return PciErr.MSI_ENABLED, []
        if not 1 <= nirq <= size:
            return PciErr.CAP_NIRQ, []
        if self.target is None or len(self.free) < nirq:
            return PciErr.IRQ_NOT_AVAIL, []
        where = self.cfg.read(bdf, cap + MSIX_TABLE, 4)
        bar = next((b for b in node.bars if b.index == where & BIR_MASK), None)
        if bar is None or not bar.assigned or bar.is_io:
            return PciErr.ASPACE_NOT_AVAIL, []
        table = self.map_phys(bar.cpu_addr + (where & ~BIR_MASK), size * MSIX_ENTRY_SIZE)
        eiids, self.free = self.free[:nirq], self.free[nirq:]
        cmd = self.cfg.read(bdf, Cfg.COMMAND, 2)
        self.cfg.write(bdf, Cfg.COMMAND, 2, cmd | Command.MEMORY_SPACE)
        self.cfg.write(bdf, cap + MSIX_CONTROL, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK)
        for i in range(size):
            base = i * MSIX_ENTRY_SIZE
            if i < nirq:
                table.write32(base + ENTRY_ADDR_LO, self.target & 0xFFFF_FFFF)
                table.write32(base + ENTRY_ADDR_HI, self.target >> 32)
                table.write32(base + ENTRY_DATA, eiids[i])
                table.write32(base + ENTRY_CONTROL, 0)
            else:
                table.write32(base + ENTRY_CONTROL, VECTOR_MASKED)
        self.cfg.write(bdf, cap + MSIX_CONTROL, 2, MSIX_ENABLE)
        cmd = self.cfg.read(bdf, Cfg.COMMAND, 2)
        self.cfg.write(bdf, Cfg.COMMAND, 2, cmd | Command.INTX_DISABLE)
        self.grants[bdf] = MsixGrant(handle, node, cap, eiids, table, size)
        return PciErr.OK, [msi_intr(e) for e in eiids]

    def enable_all(self, handle: int, node: PciNode) -> PciErr:
        """MSI-X with every table entry, if the function and the machine have it."""
        cap = self.find_cap(node.bdf, CapId.MSIX)
        if not cap:
            return PciErr.CAP_ENOTSUP
        size = (self.cfg.read(node.bdf, cap + MSIX_CONTROL, 2) & MSIX_TABLE_SIZE_MASK) + 1
        return self.enable(handle, node, CapId.MSIX, size)[0]

    def grant_of(self, handle: int, node: PciNode) -> MsixGrant | None:
        grant = self.grants.get(node.bdf)
        return grant if grant is not None and grant.handle == handle else None

    def disable(self, handle: int, node: PciNode, capid: int) -> PciErr:
        if capid != CapId.MSIX or not self.find_cap(node.bdf, CapId.MSIX):
            return PciErr.CAP_ENOTSUP
        grant = self.grant_of(handle, node)
        if grant is None:
            return PciErr.EINVAL
        self.release(grant)
        return PciErr.OK

    def release(self, grant: MsixGrant) -> None:
        bdf = grant.node.bdf
        self.cfg.write(bdf, grant.cap + MSIX_CONTROL, 2, MSIX_ENABLE | MSIX_FUNCTION_MASK)
        for i in range(grant.size):
            grant.table.write32(i * MSIX_ENTRY_SIZE + ENTRY_CONTROL, VECTOR_MASKED)
        self.cfg.write(bdf, grant.cap + MSIX_CONTROL, 2, 0)
        cmd = self.cfg.read(bdf, Cfg.COMMAND, 2)
        self.cfg.write(bdf, Cfg.COMMAND, 2, cmd & ~Command.INTX_DISABLE)
        self.free = sorted(self.free + grant.eiids)
        del self.grants[bdf]

    def release_handle(self, handle: int) -> None:
        """An owner handle goes away: what it enabled goes with it."""
        for grant in [g for g in self.grants.values() if g.handle == handle]:
            self.release(grant)

    def mask(self, handle: int, node: PciNode, entry: int, masked: bool) -> PciErr:
        grant = self.grant_of(handle, node)
        if grant is None or not 0 <= entry < len(grant.eiids):
            return PciErr.EINVAL
        grant.table.write32(entry * MSIX_ENTRY_SIZE + ENTRY_CONTROL, int(masked))
        return PciErr.OK

"""The server's device table: finds, config access, attach/detach with ownership.

Ownership follows QNX 8 ``pci_attachFlags_t`` (pci/pci.h, qnx-programming-model.md 3a):

* SHARED attachers may read anything and write config space except the
  registers the server owns; EXCLUSIVE implies OWNER and bars every other
  attach; OWNER gives access to address-space and IRQ information
  (``read_ba``/``read_irq``) and config writes; a second OWNER is refused
  unless the first owner attach set MULTI and the new one does too.
* Refusals: ``PCI_ERR_ATTACH_EXCLUSIVE`` (already exclusively held),
  ``PCI_ERR_ATTACH_SHARED`` (exclusive asked, others attached),
  ``PCI_ERR_ATTACH_OWNED`` (owner asked, already owned), ``PCI_ERR_EINVAL``
  (MULTI with EXCLUSIVE or without OWNER, unknown bits), ``PCI_ERR_ENODEV``.
* The QNX 6 init bits (``PCI_INIT_BASE0..5``, ``PCI_MASTER_ENABLE``,
  ``PCI_INIT_IRQ``, ``PCI_USE_MSIX``), as the seed's driver passes them, imply
  OWNER; at attach the server enables the decode (memory or I/O) of each requested
  BAR and bus mastering, and with ``PCI_USE_MSIX`` MSI-X with every table entry when
  the machine has an MSI target (INTx otherwise: ``read_irq`` tells which).
* Config writes need an owner handle of the calling client
  (``PCI_ERR_NOT_OWNER``); BARs, bridge bus numbers and windows are the
  server's unless the attach had FULL_CONFIG_ACCESS (``PCI_ERR_CFG_ACCESS``).
* MSI-X (servers/pci/msix.py) is enabled, disabled and its entries masked by an
  owner; ``read_irq`` then answers its vectors instead of the INTx line, and a
  detach (or the client's death) disables what the handle enabled.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from qrv.servers.pci.config import ConfigAccess
from qrv.servers.pci.enumerate import BarType, PciNode
from qrv.servers.pci.msix import MsixManager
from qrv.spec.pci import CONFIG_SPACE_SIZE, Cfg, Command, Type1
from qrv.spec.pci_msg import (
    PCI_BDF_NONE,
    PCI_DEV,
    PCI_DID_ANY,
    PCI_FUNC,
    PCI_VID_ANY,
    AsAttr,
    AsType,
    PciAttachFlags,
    PciErr,
    ccode_matches,
)

A = PciAttachFlags
KNOWN_FLAGS = (
    A.EXCLUSIVE
    | A.OWNER
    | A.MULTI
    | A.DETACH_DISCONNECT
    | A.FULL_CONFIG_ACCESS
    | A.INIT_BASE0
    | A.INIT_BASE1
    | A.INIT_BASE2
    | A.INIT_BASE3
    | A.INIT_BASE4
    | A.INIT_BASE5
    | A.MASTER_ENABLE
    | A.INIT_IRQ
    | A.USE_MSIX
)
LEGACY_INIT = KNOWN_FLAGS & ~(
    A.EXCLUSIVE | A.OWNER | A.MULTI | A.DETACH_DISCONNECT | A.FULL_CONFIG_ACCESS
)
WIDTHS = (1, 2, 4, 8)
NUM_PINS = 4
SERVER_REGS_TYPE0 = (Cfg.BAR0, Cfg.CARDBUS_CIS)  # [start, end): the six BARs
SERVER_REGS_TYPE1 = (Cfg.BAR0, Type1.IO_LIMIT_UPPER16 + 2)  # BARs, bus numbers, windows
INTMAP_DEVICE_SHIFT = 11
INTMAP_FUNC_SHIFT = 8


@dataclass
class Attachment:
    handle: int
    node: PciNode
    flags: PciAttachFlags
    client: Hashable
    pid: int = -1

    @property
    def owner(self) -> bool:
        return bool(self.flags & (A.OWNER | A.EXCLUSIVE))


@dataclass(frozen=True)
class IntMapEntry:
    """What the server needs of a ``pci_intmap`` hwinfo tag."""

    mask_hi: int
    mask_pin: int
    child_hi: int
    child_pin: int
    irq: int


@dataclass(frozen=True)
class BaRecord:
    """A ``pci_ba_t``."""

    addr: int
    size: int
    type: AsType
    attr: AsAttr
    bar_num: int


def route_irq(node: PciNode, intmap: list[IntMapEntry], fallback: int) -> int:
    """INTx of `node` at the host bridge: swizzle through bridges (PCI-to-PCI Bridge
    Spec 1.2, 9.1), then look the root slot/pin up in the interrupt-map."""
    if not 1 <= node.pin <= NUM_PINS:
        return -1
    pin, at = node.pin, node
    while at.parent is not None:
        pin = (pin - 1 + PCI_DEV(at.bdf)) % NUM_PINS + 1
        at = at.parent
    hi = PCI_DEV(at.bdf) << INTMAP_DEVICE_SHIFT | PCI_FUNC(at.bdf) << INTMAP_FUNC_SHIFT
    for entry in intmap:
        if hi & entry.mask_hi == entry.child_hi and pin & entry.mask_pin == entry.child_pin:
            return entry.irq
    return fallback


class DeviceTable:
    def __init__(
        self, cfg: ConfigAccess, nodes: list[PciNode], msix: MsixManager | None = None
    ) -> None:
        self.cfg = cfg
        self.msix = msix
        self.nodes = nodes
        self.by_bdf = {n.bdf: n for n in nodes}
        self.attachments: dict[int, Attachment] = {}
        self._next_handle = 1

    # -- queries anyone may make --------------------------------------------------------

    def find(self, index: int, vid: int, did: int, ccode: int) -> int:
        """The bdf of the index-th match (wildcards as pci_device_find), or PCI_BDF_NONE."""
        seen = 0
        for node in self.nodes:
            if vid not in (PCI_VID_ANY, node.vid) or did not in (PCI_DID_ANY, node.did):
                continue
            if not ccode_matches(ccode, node.ccode):
                continue
            if seen == index:
                return node.bdf
            seen += 1
        return PCI_BDF_NONE

    def cfg_read(self, bdf: int, off: int, width: int) -> tuple[PciErr, int]:
        if bdf not in self.by_bdf:
            return PciErr.ENODEV, 0
        if not _valid_access(off, width):
            return PciErr.EINVAL, 0
        return PciErr.OK, self.cfg.read(bdf, off, width)

    def resources(self, node: PciNode, unassigned: bool = False) -> list[BaRecord]:
        """The function's BARs as pci_ba_t (CPU addresses); unassigned ones (addr 0) on request."""
        cmd = self.cfg.read(node.bdf, Cfg.COMMAND, 2)
        out = []
        for bar in node.bars:
            if not bar.assigned and not unassigned:
                continue
            if bar.is_io:
                kind, attr = AsType.IO, AsAttr.B32
                on = cmd & Command.IO_SPACE
            else:
                kind = AsType.MEM
                attr = AsAttr.B64 if bar.type is BarType.MEM64 else AsAttr.B32
                attr |= AsAttr.PREFETCH if bar.prefetchable else AsAttr.NONE
                on = cmd & Command.MEMORY_SPACE
            attr |= AsAttr(bar.size.bit_length() - 1) & AsAttr.ALIGN
            attr |= AsAttr.ENABLED if on and bar.assigned else AsAttr.NONE
            out.append(BaRecord(bar.cpu_addr, bar.size, kind, attr, bar.index))
        return out

    # -- attach / detach ----------------------------------------------------------------

    def owners(self, bdf: int) -> list[int] | None:
        """The pids holding an owner attach of `bdf`, in attach order (None: no such device)."""
        node = self.by_bdf.get(bdf)
        if node is None:
            return None
        return [a.pid for a in self.attachments.values() if a.node is node and a.owner]

    def attach(
        self, client: Hashable, bdf: int, raw_flags: int, pid: int = -1
    ) -> tuple[PciErr, int]:
        node = self.by_bdf.get(bdf)
        if node is None:
            return PciErr.ENODEV, 0
        if raw_flags & ~int(KNOWN_FLAGS):
            return PciErr.EINVAL, 0
        flags = A(raw_flags)
        if flags & LEGACY_INIT:
            flags |= A.OWNER
        if flags & A.MULTI and (flags & A.EXCLUSIVE or not flags & A.OWNER):
            return PciErr.EINVAL, 0
        present = [a for a in self.attachments.values() if a.node is node]
        if any(a.flags & A.EXCLUSIVE for a in present):
            return PciErr.ATTACH_EXCLUSIVE, 0
        if flags & A.EXCLUSIVE and present:
            return PciErr.ATTACH_SHARED, 0
        owners = [a for a in present if a.owner]
        if flags & A.OWNER and owners and not (owners[0].flags & flags & A.MULTI):
            return PciErr.ATTACH_OWNED, 0
        err = self._init(node, flags)
        if err is not PciErr.OK:
            return err, 0
        handle = self._next_handle
        self._next_handle += 1
        self.attachments[handle] = Attachment(handle, node, flags, client, pid)
        if flags & A.USE_MSIX and self.msix is not None:
            self.msix.enable_all(handle, node)  # "use MSI-X if available": else INTx stays
        return PciErr.OK, handle

    def _init(self, node: PciNode, flags: PciAttachFlags) -> PciErr:
        """Enable what the legacy init bits ask for (decode of each BAR, bus mastering)."""
        enable = Command(0)
        for bar_num in range(6):
            if not flags & (A.INIT_BASE0 << bar_num):
                continue
            bar = next((b for b in node.bars if b.index == bar_num), None)
            if bar is None:
                return PciErr.ASPACE_INVALID
            if not bar.assigned:
                return PciErr.ASPACE_NOT_AVAIL
            enable |= Command.IO_SPACE if bar.is_io else Command.MEMORY_SPACE
        if flags & A.MASTER_ENABLE:
            enable |= Command.BUS_MASTER
        if enable:
            cmd = self.cfg.read(node.bdf, Cfg.COMMAND, 2)
            self.cfg.write(node.bdf, Cfg.COMMAND, 2, cmd | enable)
        return PciErr.OK

    def handle_of(self, client: Hashable, handle: int) -> Attachment | None:
        att = self.attachments.get(handle)
        return att if att is not None and att.client == client else None

    def detach(self, client: Hashable, handle: int) -> PciErr:
        if self.handle_of(client, handle) is None:
            return PciErr.EINVAL
        self._drop(handle)
        return PciErr.OK

    def detach_all(self, client: Hashable) -> int:
        mine = [h for h, a in self.attachments.items() if a.client == client]
        for handle in mine:
            self._drop(handle)
        return len(mine)

    def _drop(self, handle: int) -> None:
        del self.attachments[handle]
        if self.msix is not None:
            self.msix.release_handle(handle)

    # -- owner-only operations -----------------------------------------------------------

    def owner(self, client: Hashable, handle: int) -> tuple[PciErr, Attachment | None]:
        att = self.handle_of(client, handle)
        if att is None:
            return PciErr.EINVAL, None
        if not att.owner:
            return PciErr.NOT_OWNER, None
        return PciErr.OK, att

    def cfg_write(
        self, client: Hashable, handle: int, off: int, width: int, value: int
    ) -> tuple[PciErr, int]:
        err, att = self.owner(client, handle)
        if att is None:
            return err, 0
        if not _valid_access(off, width):
            return PciErr.EINVAL, 0
        start, end = SERVER_REGS_TYPE1 if att.node.is_bridge else SERVER_REGS_TYPE0
        if off < end and off + width > start and not att.flags & A.FULL_CONFIG_ACCESS:
            return PciErr.CFG_ACCESS, 0
        self.cfg.write(att.node.bdf, off, width, value & ((1 << (8 * width)) - 1))
        return PciErr.OK, self.cfg.read(att.node.bdf, off, width)

    def read_ba(self, client: Hashable, handle: int) -> tuple[PciErr, list[BaRecord]]:
        err, att = self.owner(client, handle)
        return (err, []) if att is None else (PciErr.OK, self.resources(att.node))

    def read_irq(self, client: Hashable, handle: int) -> tuple[PciErr, list[int]]:
        err, att = self.owner(client, handle)
        if att is None:
            return err, []
        vectors = None if self.msix is None else self.msix.vectors(att.node)
        if vectors is not None:
            return PciErr.OK, vectors
        return PciErr.OK, ([att.node.irq] if att.node.irq >= 0 else [])

    def cap_enable(
        self, client: Hashable, handle: int, capid: int, nirq: int
    ) -> tuple[PciErr, list[int]]:
        err, att = self.owner(client, handle)
        if att is None:
            return err, []
        if self.msix is None:
            return PciErr.CAP_ENOTSUP, []
        return self.msix.enable(handle, att.node, capid, nirq)

    def cap_disable(self, client: Hashable, handle: int, capid: int) -> PciErr:
        err, att = self.owner(client, handle)
        if att is None:
            return err
        if self.msix is None:
            return PciErr.CAP_ENOTSUP
        return self.msix.disable(handle, att.node, capid)

    def msix_mask(self, client: Hashable, handle: int, entry: int, masked: bool) -> PciErr:
        err, att = self.owner(client, handle)
        if att is None:
            return err
        if self.msix is None:
            return PciErr.EINVAL
        return self.msix.mask(handle, att.node, entry, masked)


def _valid_access(off: int, width: int) -> bool:
    return width in WIDTHS and off >= 0 and off % width == 0 and off + width <= CONFIG_SPACE_SIZE

"""MSI-X through pci-server, with QNX 8.0's names (``<pci/pci.h>``, ``<pci/cap_msix.h>``).

A capability is read by bdf into a :class:`PciCap` (``pci_cap_t``); an owner enables
it with ``pci_device_cfg_cap_enable`` after choosing how many vectors it wants
(``cap_msix_set_nirq``; default: every table entry).  The server programs the table
(each vector's message goes to the machine's MSI target) and from then on
``pci_device_read_irq`` answers the vectors' interrupt numbers, to attach with
``InterruptAttachEvent``.  ``cap_msix_mask_irq_entry``/``..._unmask_...`` set an
entry's mask bit.  Errors are ``pci_err_t`` values (servers/pci/msix.py lists them).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.pci.api import PciDevHdl, pci_capabilities, pci_device_cfg_rd16
from qrv.lib.pci.transport import transact
from qrv.spec.pci import MSIX_CONTROL, MSIX_TABLE_SIZE_MASK, CapId
from qrv.spec.pci_msg import (
    CAP_REQUEST,
    COUNT,
    IRQ,
    MSIX_MASK_REQUEST,
    IomPci,
    PciErr,
    pci_bdf_t,
    pci_err_t,
    pci_irq_t,
)

pci_reqType_e_MANDATORY = 0
pci_reqType_e_ADVISORY = 1
CAP_ALL = -1


@dataclass
class PciCap:
    """``pci_cap_t``: a capability of one function (id, config offset) and its settings."""

    bdf: int
    capid: int
    offset: int
    table_size: int = 0
    nirq: int = CAP_ALL
    irqs: list[int] = field(default_factory=list)


pci_cap_t = PciCap


def pci_device_read_cap(bdf: pci_bdf_t, idx: int) -> tuple[pci_err_t, PciCap | None]:
    """The capability at index `idx` of `bdf`'s list (see ``pci_device_find_capid``)."""
    err, caps = pci_capabilities(bdf)
    if err is not PciErr.OK:
        return err, None
    if not 0 <= idx < len(caps):
        return PciErr.ENOENT, None
    offset, capid = caps[idx]
    cap = PciCap(bdf, capid, offset)
    if capid == CapId.MSIX:
        err, control = pci_device_cfg_rd16(bdf, offset + MSIX_CONTROL)
        if err is not PciErr.OK:
            return err, None
        cap.table_size = (control & MSIX_TABLE_SIZE_MASK) + 1
    return PciErr.OK, cap


def cap_msix_get_nirq(cap: PciCap) -> int:
    """How many vectors the function's MSI-X table has (0: not an MSI-X capability)."""
    return cap.table_size


def cap_msix_set_nirq(bdf: pci_bdf_t, cap: PciCap, nirq: int) -> pci_err_t:
    """Ask for `nirq` vectors (1..table size) at the next enable."""
    if cap.capid != CapId.MSIX or cap.bdf != bdf:
        return PciErr.EINVAL
    if not 1 <= nirq <= cap.table_size:
        return PciErr.CAP_NIRQ
    cap.nirq = nirq
    return PciErr.OK


def _irqs(body: bytes) -> list[pci_irq_t]:
    if len(body) < COUNT.size:
        return []
    (count,) = COUNT.unpack_from(body)
    count = min(count, (len(body) - COUNT.size) // IRQ.size)
    return [IRQ.unpack_from(body, COUNT.size + IRQ.size * i)[0] for i in range(count)]


def pci_device_cfg_cap_enable(hdl: PciDevHdl, req: int, cap: PciCap) -> pci_err_t:
    """Enable the capability (MSI-X) for an owned device; its vectors land in ``cap.irqs``."""
    if req not in (pci_reqType_e_MANDATORY, pci_reqType_e_ADVISORY) or cap.bdf != hdl.bdf:
        return PciErr.EINVAL
    nirq = cap.table_size if cap.nirq == CAP_ALL else cap.nirq
    err, body = transact(IomPci.CAP_ENABLE, CAP_REQUEST.pack(hdl.handle, cap.capid, nirq))
    if err is PciErr.OK:
        cap.irqs = _irqs(body)
    return err


def pci_device_cfg_cap_disable(hdl: PciDevHdl, req: int, cap: PciCap) -> pci_err_t:
    """Disable it again: INTx is the device's interrupt once more."""
    if req not in (pci_reqType_e_MANDATORY, pci_reqType_e_ADVISORY) or cap.bdf != hdl.bdf:
        return PciErr.EINVAL
    err, _ = transact(IomPci.CAP_DISABLE, CAP_REQUEST.pack(hdl.handle, cap.capid, 0))
    if err is PciErr.OK:
        cap.irqs = []
    return err


def _mask(hdl: PciDevHdl, cap: PciCap, entry: int, masked: bool) -> pci_err_t:
    if cap.capid != CapId.MSIX or not 0 <= entry < max(cap.table_size, 1):
        return PciErr.EINVAL
    err, _ = transact(IomPci.MSIX_MASK, MSIX_MASK_REQUEST.pack(hdl.handle, entry, int(masked)))
    return err


def cap_msix_mask_irq_entry(hdl: PciDevHdl, cap: PciCap, entry: int) -> pci_err_t:
    """Set the mask bit of table entry `entry` (its messages wait in the PBA)."""
    return _mask(hdl, cap, entry, True)


def cap_msix_unmask_irq_entry(hdl: PciDevHdl, cap: PciCap, entry: int) -> pci_err_t:
    """Clear it (a pending message goes out)."""
    return _mask(hdl, cap, entry, False)

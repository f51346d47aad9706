"""The /dev/pci resource manager: one handler per IOM_PCI subtype, one dispatch table.

Every request is an ``_IO_MSG`` (``mgrid = _IOMGR_PCI``) on an open of
/dev/pci; the OCB of that open is the client's identity for attachments, so
closing it (or the client dying, which makes the resmgr layer close its
OCBs) detaches everything the client attached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from qrv.lib.c.iofunc import IofuncOcb, iofunc_close_ocb_default
from qrv.lib.c.msg import IoMsg
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext
from qrv.servers.pci.devices import DeviceTable
from qrv.spec.iomsg import _IOMGR_PCI, ENOSYS
from qrv.spec.pci_msg import (
    ATTACH,
    BA,
    BDF,
    CAP_REQUEST,
    CONFIG_READ,
    CONFIG_WIDTHS,
    CONFIG_WRITE,
    COUNT,
    FIND,
    HANDLE,
    IRQ,
    MSIX_MASK_REQUEST,
    PID,
    REPLY_HDR,
    VALUE,
    IomPci,
    PciErr,
)

log = logging.getLogger(__name__)

Handler = Callable[[IofuncOcb, IomPci, bytes], tuple[PciErr, bytes]]


def reply(err: PciErr, payload: bytes = b"") -> bytes:
    return REPLY_HDR.pack(int(err), len(payload)) + payload


class PciServer:
    """Handlers over a :class:`DeviceTable`; ``stats`` counts requests by subtype."""

    def __init__(self, table: DeviceTable) -> None:
        self.table = table
        self.stats: dict[IomPci, int] = dict.fromkeys(IomPci, 0)
        self.handlers: dict[IomPci, Handler] = {
            IomPci.FIND_DEVICE: self.find,
            IomPci.FIND_CLASS: self.find,
            IomPci.READ_CONFIG_BYTE: self.read_config,
            IomPci.READ_CONFIG_WORD: self.read_config,
            IomPci.READ_CONFIG_DWORD: self.read_config,
            IomPci.READ_CONFIG_QWORD: self.read_config,
            IomPci.WRITE_CONFIG_HANDLE: self.write_config,
            IomPci.ATTACH_DEVICE: self.attach,
            IomPci.DETACH_DEVICE: self.detach,
            IomPci.READ_BA: self.read_ba,
            IomPci.MAP_IRQ: self.read_irq,
            IomPci.DEVICE_INFO: self.device_info,
            IomPci.DEVICE_OWNERS: self.device_owners,
            IomPci.CAP_ENABLE: self.cap_enable,
            IomPci.CAP_DISABLE: self.cap_disable,
            IomPci.MSIX_MASK: self.msix_mask,
        }
        self.sender_pid = -1  # the pid of the message being handled (for attach)

    # -- resmgr slots ------------------------------------------------------------------------

    def io_msg(self, ctp: ResmgrContext, msg: IoMsg, ocb: IofuncOcb) -> HandlerResult:
        if msg.mgrid != _IOMGR_PCI:
            return ENOSYS
        try:
            subtype = IomPci(msg.subtype)
        except ValueError:
            log.info("unknown IOM_PCI subtype %d", msg.subtype)
            return reply(PciErr.ENOTSUP)
        self.stats[subtype] += 1
        self.sender_pid = ctp.info.pid if ctp.info is not None else -1
        err, payload = self.handlers[subtype](ocb, subtype, msg.data)
        return reply(err, payload)

    def close_ocb(self, ctp: ResmgrContext, ocb: IofuncOcb) -> HandlerResult:
        dropped = self.table.detach_all(ocb)
        if dropped:
            log.info("client closed /dev/pci: %d attachment(s) released", dropped)
        return iofunc_close_ocb_default(ctp, ocb)

    # -- handlers ---------------------------------------------------------------------------

    def find(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < FIND.size:
            return PciErr.EINVAL, b""
        index, vid, did, ccode = FIND.unpack_from(data)
        return PciErr.OK, BDF.pack(self.table.find(index, vid, did, ccode))

    def read_config(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < CONFIG_READ.size:
            return PciErr.EINVAL, b""
        bdf, off = CONFIG_READ.unpack_from(data)
        err, value = self.table.cfg_read(bdf, off, CONFIG_WIDTHS[subtype])
        return err, VALUE.pack(value) if err is PciErr.OK else b""

    def write_config(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < CONFIG_WRITE.size:
            return PciErr.EINVAL, b""
        handle, off, width, value = CONFIG_WRITE.unpack_from(data)
        err, readback = self.table.cfg_write(ocb, handle, off, width, value)
        return err, VALUE.pack(readback) if err is PciErr.OK else b""

    def attach(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < ATTACH.size:
            return PciErr.EINVAL, b""
        bdf, flags = ATTACH.unpack_from(data)
        err, handle = self.table.attach(ocb, bdf, flags, self.sender_pid)
        return err, HANDLE.pack(handle) if err is PciErr.OK else b""

    def _handle(self, data: bytes) -> int | None:
        return int(HANDLE.unpack_from(data)[0]) if len(data) >= HANDLE.size else None

    def detach(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        handle = self._handle(data)
        return (PciErr.EINVAL if handle is None else self.table.detach(ocb, handle)), b""

    def read_ba(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        handle = self._handle(data)
        if handle is None:
            return PciErr.EINVAL, b""
        err, bas = self.table.read_ba(ocb, handle)
        body = COUNT.pack(len(bas)) + b"".join(
            BA.pack(b.addr, b.size, int(b.type), int(b.attr), b.bar_num) for b in bas
        )
        return err, body if err is PciErr.OK else b""

    def read_irq(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        handle = self._handle(data)
        if handle is None:
            return PciErr.EINVAL, b""
        err, irqs = self.table.read_irq(ocb, handle)
        body = COUNT.pack(len(irqs)) + b"".join(IRQ.pack(i) for i in irqs)
        return err, body if err is PciErr.OK else b""

    def cap_enable(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < CAP_REQUEST.size:
            return PciErr.EINVAL, b""
        handle, capid, nirq = CAP_REQUEST.unpack_from(data)
        err, irqs = self.table.cap_enable(ocb, handle, capid, nirq)
        body = COUNT.pack(len(irqs)) + b"".join(IRQ.pack(i) for i in irqs)
        return err, body if err is PciErr.OK else b""

    def cap_disable(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < CAP_REQUEST.size:
            return PciErr.EINVAL, b""
        handle, capid, _nirq = CAP_REQUEST.unpack_from(data)
        return self.table.cap_disable(ocb, handle, capid), b""

    def msix_mask(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        if len(data) < MSIX_MASK_REQUEST.size:
            return PciErr.EINVAL, b""
        handle, entry, masked = MSIX_MASK_REQUEST.unpack_from(data)
        if masked not in (0, 1):
            return PciErr.EINVAL, b""
        return self.table.msix_mask(ocb, handle, entry, bool(masked)), b""

    def device_info(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        """qrv extension for listing tools: a function's assigned resources and IRQ, by bdf."""
        if len(data) < BDF.size:
            return PciErr.EINVAL, b""
        node = self.table.by_bdf.get(BDF.unpack_from(data)[0])
        if node is None:
            return PciErr.ENODEV, b""
        bas = self.table.resources(node, unassigned=True)
        body = IRQ.pack(node.irq) + COUNT.pack(len(bas))
        body += b"".join(BA.pack(b.addr, b.size, int(b.type), int(b.attr), b.bar_num) for b in bas)
        return PciErr.OK, body

    def device_owners(self, ocb: IofuncOcb, subtype: IomPci, data: bytes) -> tuple[PciErr, bytes]:
        """qrv extension for ``lspci -k``: the pids of a function's owner attaches, by bdf."""
        if len(data) < BDF.size:
            return PciErr.EINVAL, b""
        pids = self.table.owners(BDF.unpack_from(data)[0])
        if pids is None:
            return PciErr.ENODEV, b""
        return PciErr.OK, COUNT.pack(len(pids)) + b"".join(PID.pack(p) for p in pids)

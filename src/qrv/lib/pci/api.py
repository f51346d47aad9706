"""The QNX 8.0 <pci/pci.h> calls, with their names, over /dev/pci messages.

C out-parameters become return values: a call that fills ``*val`` returns
``(pci_err_t, value)``; ``pci_device_attach`` returns ``(handle or None, err)``.
Reads by bdf need no attach; ``cfg_wr*``/``write_cmd``/``read_ba``/
``read_irq`` take a handle and need ownership (``PCI_ERR_NOT_OWNER``).
``pci_device_find`` is one FIND_CLASS / FIND_DEVICE message, answered by the
server from the list it built at enumeration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from qrv.lib.pci.transport import transact
from qrv.spec.pci import CAP_LIST_START, HEADER_MULTIFUNCTION, Cfg, Status
from qrv.spec.pci_msg import (
    ATTACH,
    BA,
    BDF,
    CONFIG_READ,
    CONFIG_WRITE,
    COUNT,
    FIND,
    HANDLE,
    IRQ,
    PCI_BDF_NONE,
    PCI_CCODE_ANY,
    PID,
    READ_CONFIG_SUBTYPES,
    VALUE,
    AsAttr,
    AsType,
    IomPci,
    PciErr,
    pci_attachFlags_t,
    pci_bdf_t,
    pci_ccode_t,
    pci_did_t,
    pci_err_t,
    pci_irq_t,
    pci_vid_t,
)

U16 = 0xFFFF
U32 = 0xFFFF_FFFF
CAP_PTR_MASK = 0xFC  # capability pointers are dword aligned (PCI 3.0 6.7)
MAX_CAPS = (256 - CAP_LIST_START) // 4  # a longer chain is a loop


@dataclass(frozen=True)
class PciDevHdl:
    """``pci_devhdl_t``: the server's handle for one attach, and the device it names."""

    bdf: int
    handle: int


@dataclass(frozen=True)
class PciBa:
    """``pci_ba_t``: a BAR as the server assigned it (``addr`` is the CPU physical address)."""

    addr: int
    size: int
    type: AsType
    attr: AsAttr
    bar_num: int

    @property
    def is_64bit(self) -> bool:
        return self.attr & AsAttr.BIT_MASK == AsAttr.B64

    @property
    def prefetchable(self) -> bool:
        return bool(self.attr & AsAttr.PREFETCH)

    @property
    def enabled(self) -> bool:
        return bool(self.attr & AsAttr.ENABLED)


pci_devhdl_t: TypeAlias = PciDevHdl
pci_ba_t: TypeAlias = PciBa


# -- find / attach / detach ------------------------------------------------------------------


def pci_device_find(idx: int, vid: pci_vid_t, did: pci_did_t, ccode: pci_ccode_t) -> pci_bdf_t:
    """The bdf of the idx-th function matching vid/did/ccode (``*_ANY`` wildcards), or
    PCI_BDF_NONE past the last match (or when the server is not available)."""
    if not (0 <= idx <= U32 and 0 <= vid <= U16 and 0 <= did <= U16 and 0 <= ccode <= U32):
        return PCI_BDF_NONE
    subtype = IomPci.FIND_DEVICE if ccode == PCI_CCODE_ANY else IomPci.FIND_CLASS
    err, body = transact(subtype, FIND.pack(idx, vid, did, ccode))
    if err is not PciErr.OK or len(body) < BDF.size:
        return PCI_BDF_NONE
    return int(BDF.unpack_from(body)[0])


def pci_device_attach(
    bdf: pci_bdf_t, flags: pci_attachFlags_t
) -> tuple[pci_devhdl_t | None, pci_err_t]:
    if not (0 <= bdf <= U32 and 0 <= flags <= U32):
        return None, PciErr.EINVAL
    err, body = transact(IomPci.ATTACH_DEVICE, ATTACH.pack(bdf, int(flags)))
    if err is not PciErr.OK:
        return None, err
    return PciDevHdl(bdf, int(HANDLE.unpack_from(body)[0])), PciErr.OK


def pci_device_detach(hdl: pci_devhdl_t) -> pci_err_t:
    return transact(IomPci.DETACH_DEVICE, HANDLE.pack(hdl.handle))[0]


def pci_bdf(hdl: pci_devhdl_t) -> pci_bdf_t:
    return hdl.bdf


# -- config reads by bdf ------------------------------------------------------------------------


def _cfg_rd(bdf: pci_bdf_t, offset: int, width: int) -> tuple[pci_err_t, int]:
    if not (0 <= bdf <= U32 and 0 <= offset <= U16):
        return PciErr.EINVAL, 0
    err, body = transact(READ_CONFIG_SUBTYPES[width], CONFIG_READ.pack(bdf, offset))
    if err is not PciErr.OK:
        return err, 0
    return err, int(VALUE.unpack_from(body)[0])


def pci_device_cfg_rd8(bdf: pci_bdf_t, offset: int) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, offset, 1)


def pci_device_cfg_rd16(bdf: pci_bdf_t, offset: int) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, offset, 2)


def pci_device_cfg_rd32(bdf: pci_bdf_t, offset: int) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, offset, 4)


def pci_device_cfg_rd64(bdf: pci_bdf_t, offset: int) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, offset, 8)


def pci_device_read_vid(bdf: pci_bdf_t) -> tuple[pci_err_t, pci_vid_t]:
    return _cfg_rd(bdf, Cfg.VENDOR_ID, 2)


def pci_device_read_did(bdf: pci_bdf_t) -> tuple[pci_err_t, pci_did_t]:
    return _cfg_rd(bdf, Cfg.DEVICE_ID, 2)


def pci_device_read_revid(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.REVISION_ID, 1)


def pci_device_read_ccode(bdf: pci_bdf_t) -> tuple[pci_err_t, pci_ccode_t]:
    err, value = _cfg_rd(bdf, Cfg.REVISION_ID, 4)
    return err, value >> 8


def pci_device_read_ssid(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.SUBSYSTEM_ID, 2)


def pci_device_read_ssvid(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.SUBSYSTEM_VENDOR_ID, 2)


def pci_device_read_hdrType(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.HEADER_TYPE, 1)


def pci_device_read_cmd(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.COMMAND, 2)


def pci_device_read_status(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.STATUS, 2)


def pci_device_read_latency(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.LATENCY_TIMER, 1)


def pci_device_read_clsize(bdf: pci_bdf_t) -> tuple[pci_err_t, int]:
    return _cfg_rd(bdf, Cfg.CACHE_LINE_SIZE, 1)


def pci_device_is_multi_func(bdf: pci_bdf_t) -> bool:
    err, hdr = pci_device_read_hdrType(bdf)
    return err is PciErr.OK and bool(hdr & HEADER_MULTIFUNCTION)


# -- capabilities (PCI 3.0 6.7) --------------------------------------------------------------


def pci_capabilities(bdf: pci_bdf_t) -> tuple[pci_err_t, list[tuple[int, int]]]:
    """The capability list as (config offset, capability id), in list order."""
    err, status = pci_device_read_status(bdf)
    if err is not PciErr.OK:
        return err, []
    if not status & Status.CAP_LIST:
        return PciErr.OK, []
    err, ptr = _cfg_rd(bdf, Cfg.CAPABILITIES_PTR, 1)
    out: list[tuple[int, int]] = []
    ptr &= CAP_PTR_MASK
    while err is PciErr.OK and ptr >= CAP_LIST_START and len(out) < MAX_CAPS:
        err, head = _cfg_rd(bdf, ptr, 2)
        if err is PciErr.OK:
            out.append((ptr, head & 0xFF))
            ptr = (head >> 8) & CAP_PTR_MASK
    return err, out


def pci_device_find_capid(bdf: pci_bdf_t, capid: int) -> int:
    """The index of the first capability `capid` in the list, or -1."""
    return pci_device_find_capid_next(bdf, capid, -1)


def pci_device_find_capid_next(bdf: pci_bdf_t, capid: int, prev_idx: int) -> int:
    """The index of the next capability `capid` after index `prev_idx`, or -1."""
    err, caps = pci_capabilities(bdf)
    if err is not PciErr.OK:
        return -1
    for idx, (_off, cid) in enumerate(caps):
        if idx > prev_idx and cid == capid:
            return idx
    return -1


def pci_device_read_capid(bdf: pci_bdf_t, idx: int) -> tuple[pci_err_t, int]:
    """The id of the capability at index `idx` of the list."""
    err, caps = pci_capabilities(bdf)
    if err is not PciErr.OK:
        return err, 0
    if not 0 <= idx < len(caps):
        return PciErr.ENOENT, 0
    return PciErr.OK, caps[idx][1]


# -- owner operations ------------------------------------------------------------------------------


def _cfg_wr(hdl: pci_devhdl_t, offset: int, width: int, value: int) -> tuple[pci_err_t, int]:
    if not 0 <= offset <= U16:
        return PciErr.EINVAL, 0
    payload = CONFIG_WRITE.pack(hdl.handle, offset, width, value & ((1 << (8 * width)) - 1))
    err, body = transact(IomPci.WRITE_CONFIG_HANDLE, payload)
    if err is not PciErr.OK:
        return err, 0
    return err, int(VALUE.unpack_from(body)[0])


def pci_device_cfg_wr8(hdl: pci_devhdl_t, offset: int, value: int) -> tuple[pci_err_t, int]:
    """Write; returns the register read back (QNX's ``*val_p``)."""
    return _cfg_wr(hdl, offset, 1, value)


def pci_device_cfg_wr16(hdl: pci_devhdl_t, offset: int, value: int) -> tuple[pci_err_t, int]:
    return _cfg_wr(hdl, offset, 2, value)


def pci_device_cfg_wr32(hdl: pci_devhdl_t, offset: int, value: int) -> tuple[pci_err_t, int]:
    return _cfg_wr(hdl, offset, 4, value)


def pci_device_cfg_wr64(hdl: pci_devhdl_t, offset: int, value: int) -> tuple[pci_err_t, int]:
    return _cfg_wr(hdl, offset, 8, value)


def pci_device_write_cmd(hdl: pci_devhdl_t, cmd: int) -> tuple[pci_err_t, int]:
    return _cfg_wr(hdl, Cfg.COMMAND, 2, cmd)


def _bas(body: bytes, start: int) -> list[PciBa]:
    (count,) = COUNT.unpack_from(body, start)
    out = []
    for i in range(count):
        addr, size, kind, attr, bar_num = BA.unpack_from(body, start + COUNT.size + i * BA.size)
        out.append(PciBa(addr, size, AsType(kind), AsAttr(attr), bar_num))
    return out


def pci_device_read_ba(hdl: pci_devhdl_t) -> tuple[pci_err_t, list[pci_ba_t]]:
    """The assigned BARs of an owned device (64-bit pairs reported once)."""
    err, body = transact(IomPci.READ_BA, HANDLE.pack(hdl.handle))
    return (err, []) if err is not PciErr.OK else (err, _bas(body, 0))


def pci_device_read_irq(hdl: pci_devhdl_t) -> tuple[pci_err_t, list[pci_irq_t]]:
    """The IRQs of an owned device (INTx routed through the interrupt-map)."""
    err, body = transact(IomPci.MAP_IRQ, HANDLE.pack(hdl.handle))
    if err is not PciErr.OK:
        return err, []
    (count,) = COUNT.unpack_from(body)
    return err, [IRQ.unpack_from(body, COUNT.size + 4 * i)[0] for i in range(count)]


def pci_device_info(bdf: pci_bdf_t) -> tuple[pci_err_t, pci_irq_t, list[pci_ba_t]]:
    """qrv extension for listing tools: (err, irq or -1, BARs) of any function, no attach
    needed; an unassigned BAR has addr 0."""
    err, body = transact(IomPci.DEVICE_INFO, BDF.pack(bdf))
    if err is not PciErr.OK:
        return err, -1, []
    (irq,) = IRQ.unpack_from(body)
    return err, irq, _bas(body, IRQ.size)


def pci_device_owners(bdf: pci_bdf_t) -> tuple[pci_err_t, list[int]]:
    """qrv extension for listing tools: the pids holding an owner attach of any function."""
    if not 0 <= bdf <= U32:
        return PciErr.EINVAL, []
    err, body = transact(IomPci.DEVICE_OWNERS, BDF.pack(bdf))
    if err is not PciErr.OK or len(body) < COUNT.size:
        return err, []
    (count,) = COUNT.unpack_from(body)
    count = min(count, (len(body) - COUNT.size) // PID.size)
    return err, [PID.unpack_from(body, COUNT.size + PID.size * i)[0] for i in range(count)]

"""The /dev/pci protocol and the QNX 8.0 <pci/pci.h> types, shared by pci-server and libpci.

Messages are ``_IO_MSG`` with ``mgrid = _IOMGR_PCI`` (qrv.spec.iomsg) and a
``subtype`` from :class:`IomPci`, modelled on QNX 6.x ``<sys/pci_serv.h>``
(qnx-programming-model.md 3b): the classic subtypes keep their numbers; the
operations the QNX 8 API needs beyond them (64-bit config access, read BA,
device info for lspci) are qrv extensions numbered from :data:`IOM_PCI_QRV_BASE`;
MAP_IRQ serves ``pci_device_read_irq``; CAP_ENABLE, CAP_DISABLE and MSIX_MASK serve MSI-X
(``pci_device_cfg_cap_enable``/``_disable``, ``cap_msix_(un)mask_irq_entry``).

Every reply starts with :data:`REPLY_HDR` ``{i32 status; u32 length}`` (as
``struct _pci_reply_hdr``): ``status`` is a :class:`PciErr` value and
``length`` the byte count of the payload that follows.

Names and values of the QNX 8 types are those of ``pci/pci.h`` (QNX SDP 8.0,
``PCI_LIB_VERSION 300``): pci_bdf_t packing, pci_ccode_t, wildcards,
pci_attachFlags_t, pci_err_t (errno-valued first, then sequential from 400),
pci_asType_e / pci_asAttr_e and pci_ba_t.

The C typedefs are type aliases with the QNX names (``pci_bdf_t``, ``pci_ccode_t``,
``pci_vid_t``, ``pci_did_t``, ``pci_irq_t``: ``int``; ``pci_err_t``: :class:`PciErr`;
``pci_attachFlags_t``: :class:`PciAttachFlags` or any ``int``, as C lets any value
through an enum parameter).  Like C typedefs they name a kind of value and do not
make a new type: a plain ``int`` is a ``pci_bdf_t``.  libpci adds ``pci_devhdl_t``
and ``pci_ba_t`` (its handle and BAR classes).
"""

from __future__ import annotations

import errno
from enum import IntEnum, IntFlag
from typing import TypeAlias

from qrv.spec.iomsg import Layout

# -- pci_bdf_t: xxxx xxxx xxxx xxxa bbbb bbbb dddd dfff ------------------------------------

pci_bdf_t: TypeAlias = int  # typedef uint32_t pci_bdf_t
PCI_BDF_NONE = 0xFFFF_FFFF
_BUS_SHIFT, _DEV_SHIFT = 8, 3
_BUS_MASK, _DEV_MASK, _FUNC_MASK = 0xFF, 0x1F, 0x7


def PCI_BDF(bus: int, dev: int, func: int) -> int:
    return (bus & _BUS_MASK) << _BUS_SHIFT | (dev & _DEV_MASK) << _DEV_SHIFT | func & _FUNC_MASK


def PCI_BUS(bdf: int) -> int:
    return (bdf >> _BUS_SHIFT) & _BUS_MASK


def PCI_DEV(bdf: int) -> int:
    return (bdf >> _DEV_SHIFT) & _DEV_MASK


def PCI_FUNC(bdf: int) -> int:
    return bdf & _FUNC_MASK


# -- pci_ccode_t: 0000 0000 CCCC CCCC cccc cccc rrrr rrrr -----------------------------------

pci_ccode_t: TypeAlias = int  # typedef uint32_t pci_ccode_t
pci_vid_t: TypeAlias = int  # typedef uint16_t pci_vid_t
pci_did_t: TypeAlias = int  # typedef uint16_t pci_did_t
PCI_VID_ANY = 0xFFFF
PCI_DID_ANY = 0xFFFF
PCI_CCODE_SUBCLASS_ANY = 0xFF
PCI_CCODE_REG_IF_ANY = 0xFF


def PCI_CCODE(cls: int, subclass: int, reg_if: int) -> int:
    return (cls & 0xFF) << 16 | (subclass & 0xFF) << 8 | reg_if & 0xFF


def PCI_CCODE_CLASS(cc: int) -> int:
    return (cc >> 16) & 0xFF


def PCI_CCODE_SUBCLASS(cc: int) -> int:
    return (cc >> 8) & 0xFF


def PCI_CCODE_REG_IF(cc: int) -> int:
    return cc & 0xFF


PCI_CCODE_ANY = PCI_CCODE(0xFF, PCI_CCODE_SUBCLASS_ANY, PCI_CCODE_REG_IF_ANY)
CCODE_CLASS_ANY = 0xFF


def ccode_matches(want: int, have: int) -> bool:
    """pci_device_find's class match: 0xFF in want's class/subclass/reg-if is a wildcard."""
    if PCI_CCODE_CLASS(want) == CCODE_CLASS_ANY:
        return True
    if PCI_CCODE_CLASS(want) != PCI_CCODE_CLASS(have):
        return False
    sub = PCI_CCODE_SUBCLASS(want)
    if sub != PCI_CCODE_SUBCLASS_ANY and sub != PCI_CCODE_SUBCLASS(have):
        return False
    reg_if = PCI_CCODE_REG_IF(want)
    return reg_if == PCI_CCODE_REG_IF_ANY or reg_if == PCI_CCODE_REG_IF(have)


# -- pci_attachFlags_t (QNX 8) and the legacy pci_attach_device() init flags ----------------


class PciAttachFlags(IntFlag):
    """Attach flags: QNX 8 ``pci_attachFlags_e_*`` in the low bits, plus the QNX 6
    ``PCI_INIT_BASE0..5`` / ``PCI_MASTER_ENABLE`` bits (<hw/pci.h>) the seed's driver
    passes so that attaching enables the BAR decodes and bus mastering, and
    ``PCI_INIT_IRQ`` / ``PCI_USE_MSIX`` (the interrupt: MSI-X where the machine has an
    MSI target, else INTx)."""

    SHARED = 0
    EXCLUSIVE = 1 << 0
    OWNER = 1 << 1
    MULTI = 1 << 2
    DETACH_DISCONNECT = 1 << 3
    FULL_CONFIG_ACCESS = 1 << 4
    INIT_BASE0 = 0x4_0000
    INIT_BASE1 = 0x8_0000
    INIT_BASE2 = 0x10_0000
    INIT_BASE3 = 0x20_0000
    INIT_BASE4 = 0x40_0000
    INIT_BASE5 = 0x80_0000
    MASTER_ENABLE = 0x100_0000
    INIT_IRQ = 0x1_0000
    USE_MSIX = 0x4000_0000


PCI_INIT_BASE_SHIFT = 18  # PCI_INIT_BASE0 = 0x40000 << n
PCI_INIT_BASE_ALL = 0xFC_0000
pci_attachFlags_OWNER = PciAttachFlags.SHARED | PciAttachFlags.OWNER
pci_attachFlags_MULTI_OWNER = pci_attachFlags_OWNER | PciAttachFlags.MULTI
pci_attachFlags_EXCLUSIVE_OWNER = PciAttachFlags.EXCLUSIVE | PciAttachFlags.OWNER
pci_attachFlags_DEFAULT = pci_attachFlags_OWNER
pci_attachFlags_t: TypeAlias = PciAttachFlags | int  # typedef enum {...} pci_attachFlags_t


# -- pci_err_t ----------------------------------------------------------------------------


class PciErr(IntEnum):
    """``pci_err_t`` (pci/pci.h): errno values, then sequential from 400."""

    OK = 0
    EINVAL = errno.EINVAL
    EALREADY = errno.EALREADY
    ENODEV = errno.ENODEV
    ENOENT = errno.ENOENT
    EIO = errno.EIO
    ENOTSUP = errno.ENOTSUP
    ENOMEM = errno.ENOMEM
    EEXIST = errno.EEXIST
    EAGAIN = errno.EAGAIN
    ENOSPC = errno.ENOSPC
    REG_UNIMPLEMENTED = 400
    LOCK_FAILURE = 401
    NOT_OWNER = 402
    ATTACH_LIMIT = 403
    ATTACH_EXCLUSIVE = 404
    ATTACH_SHARED = 405
    ATTACH_OWNED = 406
    IRQ_NOT_AVAIL = 407
    IRQ_CFG = 408
    ASPACE_NOT_AVAIL = 409
    ASPACE_CFG = 410
    ASPACE_INVALID = 411
    CAP_ENOTSUP = 412
    CAP_NIRQ = 413
    MSI_ENABLED = 414
    MSIX_ENABLED = 415
    MODULE_INIT = 416
    DEV_NOT_AVAIL = 428
    CFG_ACCESS = 431
    SERVER_STATE_EXITING = 435
    SERVER_NOT_AVAILABLE = 437


pci_err_t: TypeAlias = PciErr
pci_irq_t: TypeAlias = int  # typedef int_t pci_irq_t: negative values are no IRQ

# -- address spaces: pci_asType_e, pci_asAttr_e ---------------------------------------------


class AsType(IntEnum):
    NONE = 0
    MEM = 1
    IO = 2


class AsAttr(IntFlag):
    NONE = 0
    ALIGN = 0x3F  # log2 of the alignment
    BIT_MASK = 0x3 << 14
    B32 = 1 << 14  # pci_asAttr_e_32BIT
    B64 = 2 << 14  # pci_asAttr_e_64BIT
    PREFETCH = 1 << 16
    CONTIG = 1 << 18
    EXPANSION_ROM = 1 << 19
    ENABLED = 1 << 20


# -- the /dev/pci messages ------------------------------------------------------------------


class IomPci(IntEnum):
    """Subtypes of ``_IO_MSG``/``_IOMGR_PCI`` (sys/pci_serv.h numbers; extensions from 0x40)."""

    READ_CONFIG_BYTE = 0
    READ_CONFIG_WORD = 1
    READ_CONFIG_DWORD = 2
    WRITE_CONFIG_HANDLE = 7
    FIND_DEVICE = 8
    FIND_CLASS = 9
    ATTACH_DEVICE = 13
    DETACH_DEVICE = 14
    MAP_IRQ = 15
    READ_CONFIG_QWORD = 0x40
    READ_BA = 0x41
    DEVICE_INFO = 0x42
    DEVICE_OWNERS = 0x43
    CAP_ENABLE = 0x44
    CAP_DISABLE = 0x45
    MSIX_MASK = 0x46


IOM_PCI_QRV_BASE = 0x40

READ_CONFIG_SUBTYPES = {
    1: IomPci.READ_CONFIG_BYTE,
    2: IomPci.READ_CONFIG_WORD,
    4: IomPci.READ_CONFIG_DWORD,
    8: IomPci.READ_CONFIG_QWORD,
}
CONFIG_WIDTHS = {v: k for k, v in READ_CONFIG_SUBTYPES.items()}

REPLY_HDR = Layout("<iI")
"""``_pci_reply_hdr``: status (PciErr), length of the payload that follows."""

FIND = Layout("<IHHI")
"""FIND_DEVICE / FIND_CLASS request: index, vid, did, ccode (wildcards allowed).
Reply payload: :data:`BDF`."""

BDF = Layout("<I")

CONFIG_READ = Layout("<IH2x")
"""READ_CONFIG_*: bdf, offset.  The width is the subtype.  Reply payload: :data:`VALUE`."""

CONFIG_WRITE = Layout("<IHH4xQ")
"""WRITE_CONFIG_HANDLE: handle, offset, width (1/2/4/8), value.  Reply: :data:`VALUE`
(the register read back after the write)."""

VALUE = Layout("<Q")

ATTACH = Layout("<II")
"""ATTACH_DEVICE request: bdf, flags.  Reply payload: :data:`HANDLE`."""

HANDLE = Layout("<I")
"""DETACH_DEVICE / READ_BA / MAP_IRQ request: the server's handle."""

BA = Layout("<QQIIi4x")
"""One ``pci_ba_t``: addr, size, type, attr, bar_num (READ_BA reply: a u32 count, then these)."""

COUNT = Layout("<I")

IRQ = Layout("<i")
"""MAP_IRQ reply: a u32 count, then ``pci_irq_t`` values (negative: none).

DEVICE_INFO (by :data:`BDF`, for listing tools, no attach needed): reply is an
:data:`IRQ` (-1: none), a u32 count, then :data:`BA` records of every implemented
BAR (an unassigned one with addr 0)."""

PID = Layout("<i")
"""DEVICE_OWNERS (by :data:`BDF`, no attach needed): reply is a u32 count, then the
:data:`PID` of each process holding an owner (or exclusive) attach, in attach order
(what ``lspci -k`` names as the driver in use)."""

CAP_REQUEST = Layout("<IIi")
"""CAP_ENABLE / CAP_DISABLE request: handle, capability id, number of vectors (enable;
1..the MSI-X table size).  CAP_ENABLE's reply: a u32 count, then the vectors' :data:`IRQ`
values (what MAP_IRQ answers from then on)."""

MSIX_MASK_REQUEST = Layout("<III")
"""MSIX_MASK request: handle, table entry (0..vectors-1), 1 to mask or 0 to unmask."""

assert REPLY_HDR.size == 8 and FIND.size == 12 and CONFIG_READ.size == 8
assert CONFIG_WRITE.size == 20 and ATTACH.size == 8 and BA.size == 32

"""Controller registers (NVMe 1.4 §3.1): offsets, CAP, CC, CSTS, AQA, doorbells."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from qrv.spec.nvme.bits import BitField

# --- Controller registers (NVMe 1.4 §3.1) ------------------------------------------------


class Reg(IntEnum):
    """Offsets of the controller registers in BAR0 (NVMe 1.4 Figure 78)."""

    CAP = 0x00  # Controller Capabilities (64-bit)
    VS = 0x08  # Version
    INTMS = 0x0C  # Interrupt Mask Set
    INTMC = 0x10  # Interrupt Mask Clear
    CC = 0x14  # Controller Configuration
    CSTS = 0x1C  # Controller Status
    NSSR = 0x20  # NVM Subsystem Reset
    AQA = 0x24  # Admin Queue Attributes
    ASQ = 0x28  # Admin Submission Queue Base Address (64-bit)
    ACQ = 0x30  # Admin Completion Queue Base Address (64-bit)
    CMBLOC = 0x38
    CMBSZ = 0x3C
    BPINFO = 0x40
    BPRSEL = 0x44
    BPMBL = 0x48  # 64-bit
    CMBMSC = 0x50  # 64-bit
    CMBSTS = 0x58
    PMRCAP = 0xE00
    PMRCTL = 0xE04
    PMRSTS = 0xE08


REG64 = frozenset({Reg.CAP, Reg.ASQ, Reg.ACQ, Reg.BPMBL, Reg.CMBMSC})
REGISTER_FILE_SIZE = 0x1000
DOORBELL_BASE = 0x1000  # NVMe 1.4 §3.1.24
DOORBELL_SIZE = 4
DOORBELL_VALUE_MASK = 0xFFFF  # SQT / CQH are bits 15:0; bits 31:16 are reserved (§3.1.24)


def sq_tail_doorbell(qid: int, dstrd: int) -> int:
    """BAR0 offset of SQyTDBL (NVMe 1.4 §3.1.24): 1000h + (2y * (4 << CAP.DSTRD))."""
    return DOORBELL_BASE + (2 * qid) * (DOORBELL_SIZE << dstrd)


def cq_head_doorbell(qid: int, dstrd: int) -> int:
    """BAR0 offset of CQyHDBL (NVMe 1.4 §3.1.25): 1000h + ((2y + 1) * (4 << CAP.DSTRD))."""
    return DOORBELL_BASE + (2 * qid + 1) * (DOORBELL_SIZE << dstrd)


class CapField:
    """CAP fields (NVMe 1.4 §3.1.1)."""

    MQES = BitField(0, 16)  # maximum queue entries supported, 0's based
    CQR = BitField(16, 1)  # contiguous queues required
    AMS = BitField(17, 2)  # arbitration mechanisms supported (beyond round robin)
    TO = BitField(24, 8)  # worst-case ready timeout, 500 ms units
    DSTRD = BitField(32, 4)  # doorbell stride: 4 << DSTRD bytes
    NSSRS = BitField(36, 1)  # NVM subsystem reset supported
    CSS = BitField(37, 8)  # command sets supported
    BPS = BitField(45, 1)  # boot partition support
    MPSMIN = BitField(48, 4)  # minimum memory page size 2^(12+MPSMIN)
    MPSMAX = BitField(52, 4)
    PMRS = BitField(56, 1)
    CMBS = BitField(57, 1)


class CapCss(IntFlag):
    """CAP.CSS bits (NVMe 2.0 §3.1.3.1): which CC.CSS values the controller accepts."""

    NVM = 1 << 0
    IO_COMMAND_SETS = 1 << 6
    ADMIN_ONLY = 1 << 7


TIMEOUT_UNIT_MS = 500  # CAP.TO unit
PAGE_SHIFT_BASE = 12  # memory page size = 2^(12 + MPS)


@dataclass(frozen=True)
class Cap:
    """The CAP register decoded."""

    mqes: int
    cqr: bool
    ams: int
    to: int
    dstrd: int
    nssrs: bool
    css: int
    bps: bool
    mpsmin: int
    mpsmax: int
    pmrs: bool = False
    cmbs: bool = False

    def encode(self) -> int:
        v = 0
        for bf, val in (
            (CapField.MQES, self.mqes),
            (CapField.CQR, int(self.cqr)),
            (CapField.AMS, self.ams),
            (CapField.TO, self.to),
            (CapField.DSTRD, self.dstrd),
            (CapField.NSSRS, int(self.nssrs)),
            (CapField.CSS, self.css),
            (CapField.BPS, int(self.bps)),
            (CapField.MPSMIN, self.mpsmin),
            (CapField.MPSMAX, self.mpsmax),
            (CapField.PMRS, int(self.pmrs)),
            (CapField.CMBS, int(self.cmbs)),
        ):
            v = bf.put(v, val)
        return v

    @classmethod
    def decode(cls, v: int) -> Cap:
        return cls(
            mqes=CapField.MQES.get(v),
            cqr=bool(CapField.CQR.get(v)),
            ams=CapField.AMS.get(v),
            to=CapField.TO.get(v),
            dstrd=CapField.DSTRD.get(v),
            nssrs=bool(CapField.NSSRS.get(v)),
            css=CapField.CSS.get(v),
            bps=bool(CapField.BPS.get(v)),
            mpsmin=CapField.MPSMIN.get(v),
            mpsmax=CapField.MPSMAX.get(v),
            pmrs=bool(CapField.PMRS.get(v)),
            cmbs=bool(CapField.CMBS.get(v)),
        )

    @property
    def timeout_ms(self) -> int:
        """Worst-case time to wait for CSTS.RDY to change (NVMe 1.4 §3.1.1, CAP.TO)."""
        return self.to * TIMEOUT_UNIT_MS

    @property
    def min_page_size(self) -> int:
        return 1 << (PAGE_SHIFT_BASE + self.mpsmin)

    @property
    def max_page_size(self) -> int:
        return 1 << (PAGE_SHIFT_BASE + self.mpsmax)

    @property
    def max_queue_entries(self) -> int:
        return self.mqes + 1


def version(major: int, minor: int, tertiary: int = 0) -> int:
    """A VS register value (NVMe 1.4 §3.1.2): MJR 31:16, MNR 15:8, TER 7:0."""
    return (major << 16) | (minor << 8) | tertiary


NVME_VERSION_1_4 = version(1, 4)


class CcField:
    """CC fields (NVMe 1.4 §3.1.5)."""

    EN = BitField(0, 1)
    CSS = BitField(4, 3)
    MPS = BitField(7, 4)
    AMS = BitField(11, 3)
    SHN = BitField(14, 2)
    IOSQES = BitField(16, 4)
    IOCQES = BitField(20, 4)


CC_WRITABLE = (
    CcField.EN.mask
    | CcField.CSS.mask
    | CcField.MPS.mask
    | CcField.AMS.mask
    | CcField.SHN.mask
    | CcField.IOSQES.mask
    | CcField.IOCQES.mask
)


class CcCss(IntEnum):
    """CC.CSS values (NVMe 2.0 §3.1.3.5)."""

    NVM = 0b000
    ALL_IO = 0b110
    ADMIN_ONLY = 0b111


class Shn(IntEnum):
    """CC.SHN shutdown notification (NVMe 1.4 §3.1.5)."""

    NONE = 0b00
    NORMAL = 0b01
    ABRUPT = 0b10


class Ams(IntEnum):
    ROUND_ROBIN = 0b000
    WEIGHTED_ROUND_ROBIN = 0b001
    VENDOR = 0b111


@dataclass(frozen=True)
class Cc:
    """The CC register decoded."""

    en: bool = False
    css: int = CcCss.NVM
    mps: int = 0
    ams: int = Ams.ROUND_ROBIN
    shn: int = Shn.NONE
    iosqes: int = 0
    iocqes: int = 0

    def encode(self) -> int:
        v = CcField.EN.put(0, int(self.en))
        v = CcField.CSS.put(v, self.css)
        v = CcField.MPS.put(v, self.mps)
        v = CcField.AMS.put(v, self.ams)
        v = CcField.SHN.put(v, self.shn)
        v = CcField.IOSQES.put(v, self.iosqes)
        return CcField.IOCQES.put(v, self.iocqes)

    @classmethod
    def decode(cls, v: int) -> Cc:
        return cls(
            en=bool(CcField.EN.get(v)),
            css=CcField.CSS.get(v),
            mps=CcField.MPS.get(v),
            ams=CcField.AMS.get(v),
            shn=CcField.SHN.get(v),
            iosqes=CcField.IOSQES.get(v),
            iocqes=CcField.IOCQES.get(v),
        )

    @property
    def page_size(self) -> int:
        return 1 << (PAGE_SHIFT_BASE + self.mps)


class Csts(IntFlag):
    """CSTS bits (NVMe 1.4 §3.1.6)."""

    RDY = 1 << 0
    CFS = 1 << 1
    SHST_OCCURRING = 0b01 << 2
    SHST_COMPLETE = 0b10 << 2
    NSSRO = 1 << 4
    PP = 1 << 5


CSTS_SHST = BitField(2, 2)


class Shst(IntEnum):
    """CSTS.SHST (NVMe 1.4 §3.1.6)."""

    NORMAL = 0b00
    OCCURRING = 0b01
    COMPLETE = 0b10


class AqaField:
    """AQA fields (NVMe 1.4 §3.1.8), both 0's based entry counts."""

    ASQS = BitField(0, 12)
    ACQS = BitField(16, 12)


AQA_WRITABLE = AqaField.ASQS.mask | AqaField.ACQS.mask
QUEUE_BASE_MASK = ~0xFFF & 0xFFFF_FFFF_FFFF_FFFF  # ASQ/ACQ bits 11:0 are reserved
ADMIN_QUEUE_MAX_ENTRIES = 4096
NSSR_RESET_VALUE = 0x4E564D65  # "NVMe" (NVMe 1.4 §3.1.7)

"""NVM Express interface: registers, commands, completions, data structures.

The single source of truth shared by the controller model (qrv.hw.nvme) and
the host driver (qrv.drivers.devb_nvme), as QEMU's include/block/nvme.h serves
both its device and its user-space driver.  Section numbers refer to the NVM
Express Base Specification 1.4 ("NVMe 1.4 §x"); the layouts are unchanged in
2.0.  Every structure is little-endian and its size is checked at import.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field, fields
from enum import IntEnum, IntFlag
from typing import Any, ClassVar, NamedTuple, Self

# --- Bit fields ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BitField:
    """`width` bits starting at bit `shift` of a register or command dword."""

    shift: int
    width: int

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.shift

    def get(self, value: int) -> int:
        return (value >> self.shift) & ((1 << self.width) - 1)

    def put(self, value: int, field_value: int) -> int:
        """`value` with this field replaced by `field_value` (which must fit)."""
        if field_value < 0 or field_value >> self.width:
            raise ValueError(f"{field_value:#x} does not fit in {self.width} bits")
        return (value & ~self.mask) | (field_value << self.shift)


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

# --- Submission and completion queue entries (NVMe 1.4 §4.2, §4.6) ------------------------

SQE_SIZE = 64
CQE_SIZE = 16
SQES_LOG2 = 6  # required and maximum SQ entry size, 2^6 = 64
CQES_LOG2 = 4


class SqeFlag:
    FUSE = BitField(0, 2)
    PSDT = BitField(6, 2)


_SQE = struct.Struct("<BBHIIIQQQ6I")
assert _SQE.size == SQE_SIZE


class Command(NamedTuple):
    """A submission queue entry (NVMe 1.4 Figure 105)."""

    opc: int
    flags: int = 0
    cid: int = 0
    nsid: int = 0
    cdw2: int = 0
    cdw3: int = 0
    mptr: int = 0
    prp1: int = 0
    prp2: int = 0
    cdw10: int = 0
    cdw11: int = 0
    cdw12: int = 0
    cdw13: int = 0
    cdw14: int = 0
    cdw15: int = 0

    def pack(self) -> bytes:
        return _SQE.pack(*self)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, offset: int = 0) -> Command:
        return cls._make(_SQE.unpack_from(data, offset))

    @property
    def fuse(self) -> int:
        return SqeFlag.FUSE.get(self.flags)

    @property
    def psdt(self) -> int:
        return SqeFlag.PSDT.get(self.flags)

    @property
    def slba(self) -> int:
        """Starting LBA of an NVM command (CDW10 low, CDW11 high)."""
        return self.cdw10 | (self.cdw11 << 32)

    @property
    def nlb(self) -> int:
        """Number of logical blocks, 1-based (CDW12 15:0 is 0's based)."""
        return (self.cdw12 & 0xFFFF) + 1


_CQE = struct.Struct("<IIHHHH")
assert _CQE.size == CQE_SIZE
PHASE_BIT = 1  # bit 0 of the status half-word


class Completion(NamedTuple):
    """A completion queue entry (NVMe 1.4 Figure 121).  `status` includes the phase in bit 0."""

    dw0: int
    dw1: int
    sqhd: int
    sqid: int
    cid: int
    status: int

    def pack(self) -> bytes:
        return _CQE.pack(*self)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, offset: int = 0) -> Completion:
        return cls._make(_CQE.unpack_from(data, offset))

    @property
    def phase(self) -> int:
        return self.status & PHASE_BIT

    @property
    def status_field(self) -> Status:
        return Status.decode(self.status >> 1)


# --- Status codes (NVMe 1.4 §4.6.1) --------------------------------------------------------


class Sct(IntEnum):
    """Status Code Type."""

    GENERIC = 0
    COMMAND_SPECIFIC = 1
    MEDIA = 2
    PATH = 3
    VENDOR = 7


class GenericStatus(IntEnum):
    """Generic command status (NVMe 1.4 Figure 127)."""

    SUCCESS = 0x00
    INVALID_OPCODE = 0x01
    INVALID_FIELD = 0x02
    CID_CONFLICT = 0x03
    DATA_TRANSFER_ERROR = 0x04
    POWER_LOSS_ABORT = 0x05
    INTERNAL_ERROR = 0x06
    ABORT_REQUESTED = 0x07
    ABORT_SQ_DELETION = 0x08
    ABORT_FUSE_FAILED = 0x09
    ABORT_FUSE_MISSING = 0x0A
    INVALID_NAMESPACE_OR_FORMAT = 0x0B
    COMMAND_SEQUENCE_ERROR = 0x0C
    INVALID_SGL_SEGMENT_DESCRIPTOR = 0x0D
    INVALID_SGL_DESCRIPTOR_COUNT = 0x0E
    INVALID_DATA_SGL_LENGTH = 0x0F
    INVALID_METADATA_SGL_LENGTH = 0x10
    INVALID_SGL_DESCRIPTOR_TYPE = 0x11
    INVALID_USE_OF_CMB = 0x12
    INVALID_PRP_OFFSET = 0x13
    NAMESPACE_WRITE_PROTECTED = 0x20
    LBA_OUT_OF_RANGE = 0x80
    CAPACITY_EXCEEDED = 0x81
    NAMESPACE_NOT_READY = 0x82
    RESERVATION_CONFLICT = 0x83
    FORMAT_IN_PROGRESS = 0x84


class CommandSpecificStatus(IntEnum):
    """Command specific status (NVMe 1.4 Figure 128)."""

    COMPLETION_QUEUE_INVALID = 0x00
    INVALID_QUEUE_IDENTIFIER = 0x01
    INVALID_QUEUE_SIZE = 0x02
    ABORT_COMMAND_LIMIT_EXCEEDED = 0x03
    ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED = 0x05
    INVALID_FIRMWARE_SLOT = 0x06
    INVALID_FIRMWARE_IMAGE = 0x07
    INVALID_INTERRUPT_VECTOR = 0x08
    INVALID_LOG_PAGE = 0x09
    INVALID_FORMAT = 0x0A
    INVALID_QUEUE_DELETION = 0x0C
    FEATURE_NOT_SAVEABLE = 0x0D
    FEATURE_NOT_CHANGEABLE = 0x0E
    FEATURE_NOT_NAMESPACE_SPECIFIC = 0x0F
    CONFLICTING_ATTRIBUTES = 0x80
    INVALID_PROTECTION_INFORMATION = 0x81
    ATTEMPTED_WRITE_TO_READ_ONLY_RANGE = 0x82


class MediaStatus(IntEnum):
    """Media and data integrity errors (NVMe 1.4 Figure 130)."""

    WRITE_FAULT = 0x80
    UNRECOVERED_READ_ERROR = 0x81
    COMPARE_FAILURE = 0x85
    ACCESS_DENIED = 0x86
    DEALLOCATED_OR_UNWRITTEN = 0x87


class StatusField:
    """The 15-bit Status Field of a CQE, DW3 31:17 (NVMe 1.4 Figure 126)."""

    SC = BitField(0, 8)
    SCT = BitField(8, 3)
    CRD = BitField(11, 2)
    MORE = BitField(13, 1)
    DNR = BitField(14, 1)


STATUS_MORE = StatusField.MORE.mask
STATUS_DNR = StatusField.DNR.mask
_STATUS_FIELD_MAX = (1 << 15) - 1
_SCT_SHIFT = StatusField.SCT.shift
_CRD_SHIFT = StatusField.CRD.shift
_MORE_SHIFT = StatusField.MORE.shift
_DNR_SHIFT = StatusField.DNR.shift

_SC_ENUMS: dict[int, type[IntEnum]] = {
    Sct.GENERIC: GenericStatus,
    Sct.COMMAND_SPECIFIC: CommandSpecificStatus,
    Sct.MEDIA: MediaStatus,
}


@dataclass(frozen=True, slots=True)
class Status:
    """A completion status: type, code, Do Not Retry and More (NVMe 1.4 §4.6.1)."""

    sct: int
    sc: int
    dnr: bool = False
    more: bool = False
    crd: int = 0

    def encode(self) -> int:
        """The 15-bit status field (shift left by 1 and OR the phase for CQE bits 31:16)."""
        return (
            self.sc
            | (self.sct << _SCT_SHIFT)
            | (self.crd << _CRD_SHIFT)
            | (int(self.more) << _MORE_SHIFT)
            | (int(self.dnr) << _DNR_SHIFT)
        )

    @classmethod
    def decode(cls, sf: int) -> Status:
        # Statuses are immutable, so one instance per 15-bit value is shared (the cache
        # holds at most 2**15 entries, in practice the handful a run sees).
        if cls is Status and (known := _DECODED.get(sf)) is not None:
            return known
        status = cls(
            sct=StatusField.SCT.get(sf),
            sc=StatusField.SC.get(sf),
            dnr=bool(StatusField.DNR.get(sf)),
            more=bool(StatusField.MORE.get(sf)),
            crd=StatusField.CRD.get(sf),
        )
        if cls is Status and 0 <= sf <= _STATUS_FIELD_MAX:
            _DECODED[sf] = status
        return status

    @property
    def ok(self) -> bool:
        return self.sct == Sct.GENERIC and self.sc == GenericStatus.SUCCESS

    @property
    def name(self) -> str:
        enum = _SC_ENUMS.get(self.sct)
        try:
            code = enum(self.sc).name if enum is not None else f"{self.sc:#04x}"
        except ValueError:
            code = f"{self.sc:#04x}"
        sct = Sct(self.sct).name if self.sct in Sct.__members__.values() else str(self.sct)
        return f"{sct}/{code}"

    def __str__(self) -> str:
        flags = "".join((" DNR" if self.dnr else "", " MORE" if self.more else ""))
        return f"{self.name} (sct {self.sct:#x} sc {self.sc:#04x}{flags})"


_DECODED: dict[int, Status] = {}


def generic(sc: GenericStatus, *, dnr: bool = False) -> Status:
    return Status(Sct.GENERIC, int(sc), dnr)


def specific(sc: CommandSpecificStatus, *, dnr: bool = False) -> Status:
    return Status(Sct.COMMAND_SPECIFIC, int(sc), dnr)


def media(sc: MediaStatus, *, dnr: bool = False) -> Status:
    return Status(Sct.MEDIA, int(sc), dnr)


SUCCESS = generic(GenericStatus.SUCCESS)

# --- Opcodes (NVMe 1.4 Figure 139, Figure 346) ---------------------------------------------


class AdminOpcode(IntEnum):
    DELETE_IO_SQ = 0x00
    CREATE_IO_SQ = 0x01
    GET_LOG_PAGE = 0x02
    DELETE_IO_CQ = 0x04
    CREATE_IO_CQ = 0x05
    IDENTIFY = 0x06
    ABORT = 0x08
    SET_FEATURES = 0x09
    GET_FEATURES = 0x0A
    ASYNC_EVENT_REQUEST = 0x0C
    NAMESPACE_MANAGEMENT = 0x0D
    FIRMWARE_COMMIT = 0x10
    FIRMWARE_DOWNLOAD = 0x11
    DEVICE_SELF_TEST = 0x14
    NAMESPACE_ATTACHMENT = 0x15
    KEEP_ALIVE = 0x18
    DIRECTIVE_SEND = 0x19
    DIRECTIVE_RECEIVE = 0x1A
    VIRTUALIZATION_MANAGEMENT = 0x1C
    DOORBELL_BUFFER_CONFIG = 0x7C
    FORMAT_NVM = 0x80
    SECURITY_SEND = 0x81
    SECURITY_RECEIVE = 0x82
    SANITIZE = 0x84
    GET_LBA_STATUS = 0x86


class NvmOpcode(IntEnum):
    FLUSH = 0x00
    WRITE = 0x01
    READ = 0x02
    WRITE_UNCORRECTABLE = 0x04
    COMPARE = 0x05
    WRITE_ZEROES = 0x08
    DATASET_MANAGEMENT = 0x09
    VERIFY = 0x0C
    RESERVATION_REGISTER = 0x0D
    RESERVATION_REPORT = 0x0E
    RESERVATION_ACQUIRE = 0x11
    RESERVATION_RELEASE = 0x15
    COPY = 0x19


NSID_BROADCAST = 0xFFFF_FFFF
ADMIN_QID = 0

# Command dword fields


class QueueField:
    """Create/Delete I/O queue dwords (NVMe 1.4 §5.3, §5.4, §5.5, §5.6)."""

    QID = BitField(0, 16)  # CDW10
    QSIZE = BitField(16, 16)  # CDW10, 0's based
    PC = BitField(0, 1)  # CDW11 physically contiguous
    IEN = BitField(1, 1)  # CDW11 (CQ) interrupts enabled
    IV = BitField(16, 16)  # CDW11 (CQ) interrupt vector
    QPRIO = BitField(1, 2)  # CDW11 (SQ)
    CQID = BitField(16, 16)  # CDW11 (SQ)


class IdentifyField:
    CNS = BitField(0, 8)  # CDW10
    CNTID = BitField(16, 16)  # CDW10
    CSI = BitField(24, 8)  # CDW11


class Cns(IntEnum):
    """Identify CNS values (NVMe 1.4 Figure 244)."""

    NAMESPACE = 0x00
    CONTROLLER = 0x01
    ACTIVE_NAMESPACES = 0x02
    NAMESPACE_DESCRIPTORS = 0x03


IDENTIFY_DATA_SIZE = 4096
ACTIVE_NS_LIST_MAX = IDENTIFY_DATA_SIZE // 4


class LogField:
    """Get Log Page dwords (NVMe 1.4 §5.14)."""

    LID = BitField(0, 8)  # CDW10
    LSP = BitField(8, 4)  # CDW10
    RAE = BitField(15, 1)  # CDW10 retain asynchronous event
    NUMDL = BitField(16, 16)  # CDW10
    NUMDU = BitField(0, 16)  # CDW11


class LogPage(IntEnum):
    ERROR_INFORMATION = 0x01
    SMART_HEALTH = 0x02
    FIRMWARE_SLOT = 0x03
    CHANGED_NAMESPACES = 0x04
    COMMAND_EFFECTS = 0x05


class FeatureField:
    FID = BitField(0, 8)  # CDW10
    SEL = BitField(8, 3)  # CDW10, Get Features
    SV = BitField(31, 1)  # CDW10, Set Features


class FeatureId(IntEnum):
    """Feature identifiers (NVMe 1.4 Figure 271)."""

    ARBITRATION = 0x01
    POWER_MANAGEMENT = 0x02
    LBA_RANGE_TYPE = 0x03
    TEMPERATURE_THRESHOLD = 0x04
    ERROR_RECOVERY = 0x05
    VOLATILE_WRITE_CACHE = 0x06
    NUMBER_OF_QUEUES = 0x07
    INTERRUPT_COALESCING = 0x08
    INTERRUPT_VECTOR_CONFIG = 0x09
    WRITE_ATOMICITY_NORMAL = 0x0A
    ASYNC_EVENT_CONFIG = 0x0B
    TIMESTAMP = 0x0E


class FeatureSelect(IntEnum):
    """Get Features SEL (NVMe 1.4 Figure 269)."""

    CURRENT = 0
    DEFAULT = 1
    SAVED = 2
    SUPPORTED_CAPABILITIES = 3


class FeatureCapability(IntFlag):
    """DW0 of Get Features with SEL=011b (NVMe 1.4 Figure 270)."""

    SAVEABLE = 1 << 0
    NAMESPACE_SPECIFIC = 1 << 1
    CHANGEABLE = 1 << 2


class NumQueuesField:
    NSQR = BitField(0, 16)  # 0's based; FFFFh is invalid
    NCQR = BitField(16, 16)


class TempThresholdField:
    TMPTH = BitField(0, 16)  # Kelvin
    TMPSEL = BitField(16, 4)
    THSEL = BitField(20, 2)  # 0 over, 1 under


class AbortField:
    SQID = BitField(0, 16)
    CID = BitField(16, 16)


ABORT_NOT_ABORTED = 1  # Abort DW0 bit 0: the command was not aborted (NVMe 1.4 §5.1)


class NvmField:
    """NVM command CDW12 (NVMe 1.4 §6.9, §6.15, §6.16)."""

    NLB = BitField(0, 16)
    DEAC = BitField(25, 1)  # Write Zeroes
    FUA = BitField(30, 1)
    LR = BitField(31, 1)


class DsmField:
    NR = BitField(0, 8)  # CDW10, number of ranges, 0's based
    IDR = BitField(0, 1)  # CDW11
    IDW = BitField(1, 1)
    AD = BitField(2, 1)  # deallocate


DSM_RANGE = struct.Struct("<IIQ")  # context attributes, length in LBAs, starting LBA
assert DSM_RANGE.size == 16

# --- Asynchronous events (NVMe 1.4 §5.2) -----------------------------------------------------


class AsyncEventType(IntEnum):
    ERROR = 0
    SMART_HEALTH = 1
    NOTICE = 2
    IO_COMMAND_SPECIFIC = 6
    VENDOR = 7


class AsyncErrorInfo(IntEnum):
    """Error status asynchronous event information (NVMe 1.4 Figure 146)."""

    INVALID_DOORBELL_REGISTER = 0
    INVALID_DOORBELL_VALUE = 1
    DIAGNOSTIC_FAILURE = 2
    PERSISTENT_INTERNAL_ERROR = 3
    TRANSIENT_INTERNAL_ERROR = 4
    FIRMWARE_IMAGE_LOAD_ERROR = 5


def async_event_dw0(etype: AsyncEventType, info: int, log_page: int) -> int:
    """Completion DW0 of an Asynchronous Event Request (NVMe 1.4 Figure 145)."""
    return int(etype) | (info << 8) | (log_page << 16)


# --- Identify and log data structures -------------------------------------------------------

_INT_CODES = {"B": 1, "H": 2, "I": 4, "Q": 8}


def _at(offset: int, fmt: str, default: Any = 0) -> Any:
    """A layout field at byte `offset`.  fmt: B/H/I/Q, u128, text:N (space padded ASCII),
    cstr:N (NUL padded), raw:N (bytes), or e.g. I*16 (an array)."""
    return field(default=default, metadata={"at": offset, "fmt": fmt})


def _fmt_size(fmt: str) -> int:
    if fmt in _INT_CODES:
        return _INT_CODES[fmt]
    if fmt == "u128":
        return 16
    if ":" in fmt:
        return int(fmt.split(":")[1])
    code, count = fmt.split("*")
    return _INT_CODES[code] * int(count)


class Layout:
    """A fixed-size little-endian data structure described by field offsets."""

    SIZE: ClassVar[int]

    def pack(self) -> bytes:
        buf = bytearray(self.SIZE)
        for f in fields(self):  # type: ignore[arg-type]
            _put(buf, f.metadata["at"], f.metadata["fmt"], getattr(self, f.name))
        return bytes(buf)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> Self:
        if len(data) < cls.SIZE:
            raise ValueError(f"{cls.__name__}: need {cls.SIZE} bytes, got {len(data)}")
        values = {
            f.name: _get(data, f.metadata["at"], f.metadata["fmt"])
            for f in fields(cls)  # type: ignore[arg-type]
        }
        return cls(**values)


def _put(buf: bytearray, at: int, fmt: str, value: Any) -> None:
    size = _fmt_size(fmt)
    if fmt in _INT_CODES:
        struct.pack_into("<" + fmt, buf, at, value)
    elif fmt == "u128":
        buf[at : at + size] = int(value).to_bytes(size, "little")
    elif fmt.startswith("text:"):
        raw = str(value).encode("ascii")[:size]
        buf[at : at + size] = raw.ljust(size, b" ")
    elif fmt.startswith("cstr:"):
        raw = str(value).encode("utf-8")[: size - 1]
        buf[at : at + size] = raw.ljust(size, b"\0")
    elif fmt.startswith("raw:"):
        buf[at : at + size] = bytes(value).ljust(size, b"\0")[:size]
    else:
        code, count = fmt.split("*")
        items = tuple(value) + (0,) * (int(count) - len(value))
        struct.pack_into(f"<{count}{code}", buf, at, *items)


def _get(data: bytes | bytearray | memoryview, at: int, fmt: str) -> Any:
    size = _fmt_size(fmt)
    if fmt in _INT_CODES:
        return struct.unpack_from("<" + fmt, data, at)[0]
    chunk = bytes(data[at : at + size])
    if fmt == "u128":
        return int.from_bytes(chunk, "little")
    if fmt.startswith("text:"):
        return chunk.decode("ascii", "replace").rstrip(" \0")
    if fmt.startswith("cstr:"):
        return chunk.split(b"\0", 1)[0].decode("utf-8", "replace")
    if fmt.startswith("raw:"):
        return chunk
    code, count = fmt.split("*")
    return struct.unpack_from(f"<{count}{code}", data, at)


def _check_layout(cls: type[Layout]) -> None:
    """Assert that every field lies inside SIZE and that no two overlap."""
    spans = sorted(
        (f.metadata["at"], f.metadata["at"] + _fmt_size(f.metadata["fmt"]), f.name)
        for f in fields(cls)  # type: ignore[arg-type]
    )
    end = 0
    for start, stop, name in spans:
        if start < end or stop > cls.SIZE:
            raise AssertionError(f"{cls.__name__}.{name} overlaps or overruns the layout")
        end = stop


class Oacs(IntFlag):
    """Optional Admin Command Support (Identify Controller bytes 257:256)."""

    SECURITY = 1 << 0
    FORMAT_NVM = 1 << 1
    FIRMWARE = 1 << 2
    NS_MANAGEMENT = 1 << 3


class Oncs(IntFlag):
    """Optional NVM Command Support (Identify Controller bytes 521:520)."""

    COMPARE = 1 << 0
    WRITE_UNCORRECTABLE = 1 << 1
    DATASET_MANAGEMENT = 1 << 2
    WRITE_ZEROES = 1 << 3
    SAVE_SELECT = 1 << 4
    RESERVATIONS = 1 << 5
    TIMESTAMP = 1 << 6
    VERIFY = 1 << 7


class Lpa(IntFlag):
    """Log Page Attributes (Identify Controller byte 261)."""

    SMART_PER_NAMESPACE = 1 << 0
    COMMAND_EFFECTS = 1 << 1
    EXTENDED_DATA = 1 << 2


class Vwc(IntFlag):
    """Volatile Write Cache (Identify Controller byte 525; flush broadcast bits 2:1 in 1.4)."""

    PRESENT = 1 << 0
    FLUSH_BROADCAST = 0b11 << 1


@dataclass
class IdentifyController(Layout):
    """Identify Controller data structure (NVMe 1.4 Figure 247)."""

    SIZE: ClassVar[int] = IDENTIFY_DATA_SIZE
    vid: int = _at(0, "H")
    ssvid: int = _at(2, "H")
    sn: str = _at(4, "text:20", "")
    mn: str = _at(24, "text:40", "")
    fr: str = _at(64, "text:8", "")
    rab: int = _at(72, "B")
    ieee: bytes = _at(73, "raw:3", b"")
    cmic: int = _at(76, "B")
    mdts: int = _at(77, "B")
    cntlid: int = _at(78, "H")
    ver: int = _at(80, "I")
    rtd3r: int = _at(84, "I")
    rtd3e: int = _at(88, "I")
    oaes: int = _at(92, "I")
    ctratt: int = _at(96, "I")
    cntrltype: int = _at(111, "B")
    oacs: int = _at(256, "H")
    acl: int = _at(258, "B")
    aerl: int = _at(259, "B")
    frmw: int = _at(260, "B")
    lpa: int = _at(261, "B")
    elpe: int = _at(262, "B")
    npss: int = _at(263, "B")
    wctemp: int = _at(266, "H")
    cctemp: int = _at(268, "H")
    sqes: int = _at(512, "B")
    cqes: int = _at(513, "B")
    maxcmd: int = _at(514, "H")
    nn: int = _at(516, "I")
    oncs: int = _at(520, "H")
    fuses: int = _at(522, "H")
    fna: int = _at(524, "B")
    vwc: int = _at(525, "B")
    awun: int = _at(526, "H")
    awupf: int = _at(528, "H")
    sgls: int = _at(536, "I")
    subnqn: str = _at(768, "cstr:256", "")
    psd0_mp: int = _at(2048, "H")  # power state 0: maximum power, 0.01 W units
    psd0_enlat: int = _at(2052, "I")
    psd0_exlat: int = _at(2056, "I")


CNTRLTYPE_IO = 1


def lba_format(lbads: int, ms: int = 0, rp: int = 0) -> int:
    """An LBA Format descriptor (NVMe 1.4 Figure 248): MS 15:0, LBADS 23:16, RP 25:24."""
    return ms | (lbads << 16) | (rp << 24)


LBAF_LBADS = BitField(16, 8)
LBAF_MS = BitField(0, 16)
FLBAS_INDEX = BitField(0, 4)
LBAF_COUNT = 16
NSATTR_WRITE_PROTECTED = 1 << 0
DLFEAT_READ_ZEROES = 0b001  # deallocated blocks read as all zeroes


@dataclass
class IdentifyNamespace(Layout):
    """Identify Namespace data structure, NVM command set (NVMe 1.4 Figure 245)."""

    SIZE: ClassVar[int] = IDENTIFY_DATA_SIZE
    nsze: int = _at(0, "Q")
    ncap: int = _at(8, "Q")
    nuse: int = _at(16, "Q")
    nsfeat: int = _at(24, "B")
    nlbaf: int = _at(25, "B")  # 0's based
    flbas: int = _at(26, "B")
    mc: int = _at(27, "B")
    dpc: int = _at(28, "B")
    dps: int = _at(29, "B")
    nmic: int = _at(30, "B")
    rescap: int = _at(31, "B")
    fpi: int = _at(32, "B")
    dlfeat: int = _at(33, "B")
    nawun: int = _at(34, "H")
    nawupf: int = _at(36, "H")
    nvmcap: int = _at(48, "u128")
    nsattr: int = _at(99, "B")
    nguid: bytes = _at(104, "raw:16", b"")
    eui64: bytes = _at(120, "raw:8", b"")
    lbaf: tuple[int, ...] = _at(128, f"I*{LBAF_COUNT}", ())

    @property
    def lba_size(self) -> int:
        return 1 << LBAF_LBADS.get(self.lbaf[FLBAS_INDEX.get(self.flbas)])


class NidType(IntEnum):
    """Namespace Identification Descriptor types (NVMe 1.4 Figure 249)."""

    EUI64 = 1
    NGUID = 2
    UUID = 3
    CSI = 4


NID_LENGTH = {NidType.EUI64: 8, NidType.NGUID: 16, NidType.UUID: 16, NidType.CSI: 1}
_NID_HEADER = struct.Struct("<BBH")  # NIDT, NIDL, reserved
assert _NID_HEADER.size == 4


def pack_ns_descriptors(items: list[tuple[NidType, bytes]]) -> bytes:
    """A CNS 03h data structure: descriptors back to back, zero-terminated, 4096 bytes."""
    out = bytearray()
    for nidt, nid in items:
        if len(nid) != NID_LENGTH[nidt]:
            raise ValueError(f"{nidt.name} identifier must be {NID_LENGTH[nidt]} bytes")
        out += _NID_HEADER.pack(nidt, len(nid), 0) + nid
    return bytes(out).ljust(IDENTIFY_DATA_SIZE, b"\0")


def parse_ns_descriptors(data: bytes) -> list[tuple[int, bytes]]:
    """Walk a CNS 03h data structure up to the first descriptor with NIDL 0."""
    out: list[tuple[int, bytes]] = []
    pos = 0
    while pos + _NID_HEADER.size <= len(data):
        nidt, nidl, _ = _NID_HEADER.unpack_from(data, pos)
        if nidl == 0:
            break
        start = pos + _NID_HEADER.size
        out.append((nidt, bytes(data[start : start + nidl])))
        pos = start + nidl
    return out


@dataclass
class ErrorLogEntry(Layout):
    """Error Information log entry (NVMe 1.4 Figure 194)."""

    SIZE: ClassVar[int] = 64
    error_count: int = _at(0, "Q")
    sqid: int = _at(8, "H")
    cid: int = _at(10, "H")
    status: int = _at(12, "H")  # status field 15:1, phase 0
    parameter_error_location: int = _at(14, "H")
    lba: int = _at(16, "Q")
    nsid: int = _at(24, "I")
    vendor_specific: int = _at(28, "B")
    trtype: int = _at(29, "B")
    command_specific: int = _at(32, "Q")
    trtype_specific: int = _at(40, "H")


class CriticalWarning(IntFlag):
    SPARE_BELOW_THRESHOLD = 1 << 0
    TEMPERATURE = 1 << 1
    RELIABILITY_DEGRADED = 1 << 2
    READ_ONLY = 1 << 3
    VOLATILE_BACKUP_FAILED = 1 << 4


DATA_UNIT_BYTES = 512 * 1000  # SMART data units: thousands of 512-byte units, rounded up


@dataclass
class SmartLog(Layout):
    """SMART / Health Information log (NVMe 1.4 Figure 196)."""

    SIZE: ClassVar[int] = 512
    critical_warning: int = _at(0, "B")
    composite_temperature: int = _at(1, "H")  # Kelvin
    available_spare: int = _at(3, "B")
    available_spare_threshold: int = _at(4, "B")
    percentage_used: int = _at(5, "B")
    endurance_group_critical_warning: int = _at(6, "B")
    data_units_read: int = _at(32, "u128")
    data_units_written: int = _at(48, "u128")
    host_read_commands: int = _at(64, "u128")
    host_write_commands: int = _at(80, "u128")
    controller_busy_time: int = _at(96, "u128")
    power_cycles: int = _at(112, "u128")
    power_on_hours: int = _at(128, "u128")
    unsafe_shutdowns: int = _at(144, "u128")
    media_errors: int = _at(160, "u128")
    error_log_entries: int = _at(176, "u128")
    warning_temperature_time: int = _at(192, "I")
    critical_temperature_time: int = _at(196, "I")


@dataclass
class FirmwareSlotLog(Layout):
    """Firmware Slot Information log (NVMe 1.4 Figure 197)."""

    SIZE: ClassVar[int] = 512
    afi: int = _at(0, "B")
    frs1: str = _at(8, "text:8", "")


class CommandEffect(IntFlag):
    """Commands Supported and Effects entry (NVMe 1.4 Figure 199)."""

    CSUPP = 1 << 0
    LBCC = 1 << 1  # logical block content change
    NCC = 1 << 2  # namespace capability change
    NIC = 1 << 3
    CCC = 1 << 4  # controller capability change


@dataclass
class CommandEffectsLog(Layout):
    SIZE: ClassVar[int] = 4096
    acs: tuple[int, ...] = _at(0, "I*256", ())
    iocs: tuple[int, ...] = _at(1024, "I*256", ())


for _layout in (
    IdentifyController,
    IdentifyNamespace,
    ErrorLogEntry,
    SmartLog,
    FirmwareSlotLog,
    CommandEffectsLog,
):
    _check_layout(_layout)

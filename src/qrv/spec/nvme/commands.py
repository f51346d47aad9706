"""Opcodes, command dword fields and asynchronous events (NVMe 1.4 §5, §6)."""

from __future__ import annotations

import struct
from enum import IntEnum, IntFlag

from qrv.spec.nvme.bits import BitField

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
    """Identify CNS values (NVMe 1.4 Figure 244; 05h-07h and 1Ch from NVMe 2.0 Figure 273)."""

    NAMESPACE = 0x00
    CONTROLLER = 0x01
    ACTIVE_NAMESPACES = 0x02
    NAMESPACE_DESCRIPTORS = 0x03
    CSI_NAMESPACE = 0x05  # I/O command set specific Identify Namespace
    CSI_CONTROLLER = 0x06  # I/O command set specific Identify Controller
    CSI_ACTIVE_NAMESPACES = 0x07  # active NSIDs of one I/O command set
    IO_COMMAND_SETS = 0x1C  # I/O Command Set data structure


CSI_NVM = 0x00  # the NVM Command Set (NVMe 2.0 Figure 286)
IO_COMMAND_SET_NVM = 1 << 0  # bit of an I/O Command Set combination vector


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


class ErrorRecoveryField:
    """Error Recovery, CDW11 and DW0 (NVMe 1.4 Figure 286)."""

    TLER = BitField(0, 16)  # time limited error recovery, 100 ms units
    DULBE = BitField(16, 1)  # deallocated or unwritten logical block error enable


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


class AsyncNoticeInfo(IntEnum):
    """Notice asynchronous event information (NVMe 1.4 Figure 148)."""

    NAMESPACE_ATTRIBUTE_CHANGED = 0x00
    FIRMWARE_ACTIVATION_STARTING = 0x01
    TELEMETRY_LOG_CHANGED = 0x02


class TimestampAttr:
    """Byte 6 of the Timestamp feature's data (NVMe 1.4 Figure 295)."""

    SYNCH = BitField(0, 1)  # 1: the controller may have stopped counting
    ORIGIN = BitField(1, 3)  # 000b: reset, 001b: set by Set Features


TIMESTAMP_SIZE = 8  # the Timestamp feature's data buffer
TIMESTAMP_MASK = (1 << 48) - 1  # milliseconds, bytes 5:0
TIMESTAMP_ORIGIN_RESET = 0
TIMESTAMP_ORIGIN_SET = 1


class AsyncSmartInfo(IntEnum):
    """SMART / Health status asynchronous event information (NVMe 1.4 Figure 147)."""

    NVM_SUBSYSTEM_RELIABILITY = 0
    TEMPERATURE_THRESHOLD = 1
    SPARE_BELOW_THRESHOLD = 2


def async_event_dw0(etype: AsyncEventType, info: int, log_page: int) -> int:
    """Completion DW0 of an Asynchronous Event Request (NVMe 1.4 Figure 145)."""
    return int(etype) | (info << 8) | (log_page << 16)

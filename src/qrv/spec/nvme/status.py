"""Completion status codes (NVMe 1.4 §4.6.1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from qrv.spec.nvme.bits import BitField

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

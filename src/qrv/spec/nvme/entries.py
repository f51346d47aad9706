"""Submission and completion queue entries (NVMe 1.4 §4.2, §4.6)."""

from __future__ import annotations

import struct
from typing import NamedTuple

from qrv.spec.nvme.bits import BitField
from qrv.spec.nvme.status import Status

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

    def pack(self, cid: int | None = None) -> bytes:
        """The 64-byte entry; with `cid`, under that command identifier instead of
        :attr:`cid` (a driver picks the CID as it submits)."""
        if cid is None:
            return _SQE.pack(*self)
        return _SQE.pack(self.opc, self.flags, cid, *self[3:])

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

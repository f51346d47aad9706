"""Scatter Gather Lists for I/O commands (NVMe 1.4 §4.4): Data Block, Segment and Last
Segment descriptors, as Identify SGLS = 1 announces (no alignment, no Bit Bucket, no SGL
longer than the transfer, no keyed or offset descriptors).

The SQE's DPTR holds one descriptor: a Data Block, or a (Last) Segment descriptor naming
a list of descriptors in host memory.  In a Segment the last descriptor may point to the
next list; a Last Segment holds Data Blocks only.  Statuses (Figure 128): Invalid SGL
Segment Descriptor (0Dh), Invalid Number of SGL Descriptors (0Eh, a segment pointer not
last in its list), Data SGL Length Invalid (0Fh, the Data Blocks add up to more or less
than the transfer), SGL Descriptor Type Invalid (11h), Data Transfer Error for lists
outside memory.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from qrv.hw.nvme.prp import DATA_TRANSFER_ERROR, DmaRead, Segment
from qrv.hw.pcidev import DmaError
from qrv.spec.nvme import Command, GenericStatus, Status, generic

DESCRIPTOR = struct.Struct("<QI3xB")  # address, length, reserved, SGL identifier
assert DESCRIPTOR.size == 16
SUBTYPE_ADDRESS = 0
OVERHEAD_SLACK = 64
"""Descriptors moving no data allowed beyond one per data-moving descriptor."""

INVALID_SEGMENT = generic(GenericStatus.INVALID_SGL_SEGMENT_DESCRIPTOR, dnr=True)
INVALID_COUNT = generic(GenericStatus.INVALID_SGL_DESCRIPTOR_COUNT, dnr=True)
INVALID_LENGTH = generic(GenericStatus.INVALID_DATA_SGL_LENGTH, dnr=True)
INVALID_TYPE = generic(GenericStatus.INVALID_SGL_DESCRIPTOR_TYPE, dnr=True)


class SglType(IntEnum):
    """SGL descriptor types (NVMe 1.4 Figure 117), the identifier's bits 7:4."""

    DATA_BLOCK = 0x0
    BIT_BUCKET = 0x1
    SEGMENT = 0x2
    LAST_SEGMENT = 0x3
    KEYED_DATA_BLOCK = 0x4
    TRANSPORT_DATA_BLOCK = 0x5


Descriptor = tuple[int, int, int, int]  # address, length, type, subtype


def decode_descriptor(raw: bytes, offset: int = 0) -> Descriptor:
    addr, length, ident = DESCRIPTOR.unpack_from(raw, offset)
    return addr, length, ident >> 4, ident & 0xF


def dptr_descriptor(cmd: Command) -> Descriptor:
    """SGL1 of an SQE: DPTR bytes 24..39 (PRP1 and PRP2 as the SQE names them)."""
    return decode_descriptor(struct.pack("<QQ", cmd.prp1, cmd.prp2))


def sgl_segments(dma_read: DmaRead, first: Descriptor, length: int) -> list[Segment] | Status:
    """Resolve an SGL for a transfer of `length` bytes into guest segments.

    Descriptors that move no data (segment pointers, zero-length Data Blocks) may
    outnumber those that do by at most OVERHEAD_SLACK, so a list that points back at
    itself ends in Invalid Number of SGL Descriptors rather than a loop."""
    segs: list[Segment] = []
    remaining = length
    descriptors = [first]
    in_last = False
    overhead = 0
    while True:
        for i, (addr, dlen, dtype, subtype) in enumerate(descriptors):
            if subtype != SUBTYPE_ADDRESS:
                return INVALID_TYPE
            if dtype == SglType.DATA_BLOCK:
                if dlen > remaining:
                    return INVALID_LENGTH
                if dlen:
                    segs.append((addr, dlen))
                    remaining -= dlen
                else:
                    overhead += 1
                continue
            if dtype not in (SglType.SEGMENT, SglType.LAST_SEGMENT):
                return INVALID_TYPE
            if i != len(descriptors) - 1:
                return INVALID_COUNT
            if in_last or dlen == 0 or dlen % DESCRIPTOR.size:
                return INVALID_SEGMENT
            overhead += 1
            count = dlen // DESCRIPTOR.size
            if (
                overhead > len(segs) + OVERHEAD_SLACK
                or count > remaining + len(segs) + OVERHEAD_SLACK
            ):
                return INVALID_COUNT
            try:
                raw = dma_read(addr, dlen)
            except DmaError:
                return DATA_TRANSFER_ERROR
            descriptors = [decode_descriptor(raw, k * DESCRIPTOR.size) for k in range(count)]
            in_last = dtype == SglType.LAST_SEGMENT
            break
        else:
            return INVALID_LENGTH if remaining else segs

"""Physical Region Page handling (NVMe 1.4 §4.3): PRP1, PRP2 and chained PRP lists.

A transfer of `length` bytes is described by PRP1 (any dword offset; the first chunk runs
to the end of its memory page), then either PRP2 as the second data page (when what is
left fits in one page) or PRP2 as a pointer to a PRP list.  Every entry after PRP1 must be
page aligned; a PRP list may start at an offset inside its page, and when more entries are
needed than fit, the last entry of a list page points to the next list page.
Violations complete with Invalid PRP Offset; DMA faults with Data Transfer Error.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from qrv.hw.pcidev import DmaError
from qrv.spec.nvme import GenericStatus, Status, generic

PRP_ENTRY_SIZE = 8
PRP_LIST_ALIGN = 8  # a PRP list pointer is qword aligned (NVMe 1.4 §4.3)

INVALID_PRP_OFFSET = generic(GenericStatus.INVALID_PRP_OFFSET, dnr=True)
DATA_TRANSFER_ERROR = generic(GenericStatus.DATA_TRANSFER_ERROR)

Segment = tuple[int, int]  # (guest physical address, length)
DmaRead = Callable[[int, int], bytes]
DmaWrite = Callable[[int, bytes], None]


def prp_segments(
    dma_read: DmaRead, prp1: int, prp2: int, length: int, page_size: int
) -> list[Segment] | Status:
    """Resolve a PRP pair into contiguous guest segments, or the status that ends the command."""
    mask = page_size - 1
    first = min(length, page_size - (prp1 & mask))
    segs: list[Segment] = [(prp1, first)]
    remaining = length - first
    if remaining <= 0:
        return segs
    if remaining <= page_size:
        if prp2 & mask:
            return INVALID_PRP_OFFSET
        _append(segs, prp2, remaining)
        return segs
    if prp2 & (PRP_LIST_ALIGN - 1):
        return INVALID_PRP_OFFSET
    # The list walk keeps the segment being grown in locals (the hot loop of a large
    # transfer: one iteration per page) and appends it when the next page is not adjacent.
    run_addr, run_len = segs.pop()
    list_addr = prp2
    while remaining > 0:
        slots = (page_size - (list_addr & mask)) // PRP_ENTRY_SIZE
        needed = -(-remaining // page_size)
        chained = needed > slots
        count = slots if chained else needed
        try:
            raw = dma_read(list_addr, count * PRP_ENTRY_SIZE)
        except DmaError:
            return DATA_TRANSFER_ERROR
        entries = struct.unpack(f"<{count}Q", raw)
        data_entries = entries[:-1] if chained else entries
        if _consecutive_pages(data_entries, page_size) and run_addr + run_len == entries[0]:
            # the usual list (a contiguous buffer): every entry aligned and adjacent
            n = min(remaining, len(data_entries) * page_size)
            run_len += n
            remaining -= n
            data_entries = ()
        for entry in data_entries:
            if entry & mask:
                return INVALID_PRP_OFFSET
            n = page_size if remaining > page_size else remaining
            if run_addr + run_len == entry:
                run_len += n
            else:
                segs.append((run_addr, run_len))
                run_addr, run_len = entry, n
            remaining -= n
        if chained:
            list_addr = entries[-1]
            if list_addr & mask:
                return INVALID_PRP_OFFSET
    segs.append((run_addr, run_len))
    return segs


def _consecutive_pages(entries: tuple[int, ...], page_size: int) -> bool:
    """The entries are page aligned and each names the page after the one before."""
    if not entries or entries[0] & (page_size - 1):
        return False
    first = entries[0]
    return entries == tuple(range(first, first + len(entries) * page_size, page_size))


def _append(segs: list[Segment], addr: int, n: int) -> None:
    """Add a segment, merging it with the previous one when physically contiguous."""
    last_addr, last_len = segs[-1]
    if last_addr + last_len == addr:
        segs[-1] = (last_addr, last_len + n)
    else:
        segs.append((addr, n))


def gather(dma_read: DmaRead, segs: list[Segment]) -> bytes | Status:
    """Read the host's data (for Write/Compare/DSM) from the segments."""
    try:
        if len(segs) == 1:
            return dma_read(*segs[0])
        return b"".join(dma_read(addr, n) for addr, n in segs)
    except DmaError:
        return DATA_TRANSFER_ERROR


def scatter(dma_write: DmaWrite, segs: list[Segment], data: bytes) -> Status | None:
    """Write controller data (Read/Identify/log pages) to the segments; None on success."""
    try:
        if len(segs) == 1:
            dma_write(segs[0][0], data)
            return None
        view = memoryview(data)
        pos = 0
        for addr, n in segs:
            dma_write(addr, bytes(view[pos : pos + n]))
            pos += n
    except DmaError:
        return DATA_TRANSFER_ERROR
    return None

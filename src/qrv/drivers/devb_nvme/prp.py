"""Bounce buffers and their PRPs (NVMe 1.4 §4.3).

A buffer is physically contiguous, so one PRP list serves every transfer out
of it: entry i holds page i+1; a k-page transfer uses PRP1 = page 0 and
PRP2 = page 1 (k = 2) or the list (k > 2).
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.drivers.devb_nvme.queues import DmaMemory

HOST_PAGE = 4096  # the driver's DMA pages (mmap_anon); CC.MPS must select this size
PRP_ENTRY = 8


def transfer_buffer(alloc: Callable[[int], DmaMemory], size: int) -> tuple[DmaMemory, DmaMemory]:
    """A `size`-byte buffer (whole pages) and its PRP list, filled in once."""
    pages = max(1, -(-size // HOST_PAGE))
    data = alloc(pages * HOST_PAGE)
    prp_list = alloc(max(1, pages - 1) * PRP_ENTRY)
    entries = b"".join(
        (data.paddr + i * HOST_PAGE).to_bytes(PRP_ENTRY, "little") for i in range(1, pages)
    )
    if entries:
        prp_list.write(0, entries)
    return data, prp_list


def pages(nbytes: int) -> int:
    return -(-nbytes // HOST_PAGE)


def prps(data: DmaMemory, prp_list: DmaMemory, nbytes: int) -> tuple[int, int]:
    """PRP1 and PRP2 for a transfer of `nbytes` from the start of `data`."""
    count = pages(nbytes)
    prp2 = 0 if count <= 1 else data.paddr + HOST_PAGE if count == 2 else prp_list.paddr
    return data.paddr, prp2

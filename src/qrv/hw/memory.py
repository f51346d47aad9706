"""Guest physical RAM: one contiguous range at a base address.

The bytes are anonymous private memory (``mmap``), so the host commits a
page only when the guest (or a DMA) first touches it: a boot that hands out
a few pages of 256 MiB of RAM costs a few pages, not 256 MiB.  Untouched
pages read as zeros, as fresh RAM does here.
"""

from __future__ import annotations

import mmap

from qrv.errors import BusError


class GuestRam:
    """RAM of `size` bytes; offsets are relative to its base in the address space."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise BusError(f"RAM size must be positive, got {size}")
        self.size = size
        self.backing = mmap.mmap(
            -1,
            size,
            flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS,
            prot=mmap.PROT_READ | mmap.PROT_WRITE,
        )
        """The anonymous mapping holding the bytes (committed page by page on first touch)."""
        self._view = memoryview(self.backing)

    def _check(self, offset: int, size: int) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise BusError(
                f"RAM access [{offset:#x}, {offset + size:#x}) outside 0..{self.size:#x}"
            )

    def read(self, offset: int, size: int) -> bytes:
        end = offset + size
        if offset < 0 or size < 0 or end > self.size:
            self._check(offset, size)  # raises
        return bytes(self._view[offset:end])

    def write(self, offset: int, data: bytes) -> None:
        end = offset + len(data)
        if offset < 0 or end > self.size:
            self._check(offset, len(data))  # raises
        self._view[offset:end] = data

    def view(self, offset: int, size: int) -> memoryview:
        """The bytes [offset, offset+size) themselves, writable (no copy): what a DMA
        engine reads from or fills in place."""
        end = offset + size
        if offset < 0 or size < 0 or end > self.size:
            self._check(offset, size)  # raises
        return self._view[offset:end]

    def fill(self, offset: int, size: int, value: int = 0) -> None:
        self._check(offset, size)
        self._view[offset : offset + size] = bytes([value]) * size

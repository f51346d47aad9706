"""Guest physical RAM: one contiguous buffer at a base address."""

from __future__ import annotations

from qrv.errors import BusError


class GuestRam:
    """RAM of `size` bytes; offsets are relative to its base in the address space."""

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise BusError(f"RAM size must be positive, got {size}")
        self.size = size
        self._buf = bytearray(size)
        self._view = memoryview(self._buf)

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

    def fill(self, offset: int, size: int, value: int = 0) -> None:
        self._check(offset, size)
        self._view[offset : offset + size] = bytes([value]) * size

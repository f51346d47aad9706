"""A fixed-size block of device-visible bytes (a device's table or buffer in a BAR).

Device models keep such blocks (e.g. the MSI-X table) as bytes a driver
loads and stores at an offset and width.  A bytearray slice assignment past
the end would *grow* the block, and a slice read past it would return short
data; :class:`RegBank` is the one place that checks, so no access can change
a block's size: an access not wholly inside the block is refused (the caller
decides what the bus sees: the NVMe model reads such bytes as zero and drops
the store).
"""

from __future__ import annotations


class RegBank:
    """``size`` bytes, loaded and stored little-endian; the size never changes."""

    __slots__ = ("_data",)

    def __init__(self, initial: bytes) -> None:
        self._data = bytearray(initial)

    def __len__(self) -> int:
        return len(self._data)

    def contains(self, offset: int, width: int) -> bool:
        """Whether ``[offset, offset + width)`` lies wholly inside the block."""
        return offset >= 0 and width > 0 and offset + width <= len(self._data)

    def load(self, offset: int, width: int) -> int | None:
        """The little-endian value at ``offset``, or None if the access is not wholly inside."""
        end = offset + width
        if offset < 0 or width <= 0 or end > len(self._data):  # contains(), on the hot path
            return None
        return int.from_bytes(self._data[offset:end], "little")

    def store(self, offset: int, width: int, value: int) -> bool:
        """Store ``value``'s low ``width`` bytes; False (nothing stored) if not wholly inside."""
        if not self.contains(offset, width):
            return False
        mask = (1 << (8 * width)) - 1
        self._data[offset : offset + width] = (value & mask).to_bytes(width, "little")
        return True

    def reset(self, initial: bytes) -> None:
        """Back to ``initial``, which must be the block's size."""
        if len(initial) != len(self._data):
            raise ValueError(f"reset with {len(initial)} bytes, the block holds {len(self._data)}")
        self._data[:] = initial

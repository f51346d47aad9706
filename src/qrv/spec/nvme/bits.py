"""Bit fields of NVMe registers and command dwords."""

from __future__ import annotations

from dataclasses import dataclass

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

"""A function's configuration space as bytes, with little-endian field readers."""

from __future__ import annotations

from dataclasses import dataclass


def flag(value: int, bit: int) -> str:
    """pciutils' FLAG(): ``+`` when `bit` is set in `value`, else ``-``."""
    return "+" if value & bit else "-"


@dataclass(frozen=True)
class ConfigBytes:
    """256 or 4096 bytes of configuration space; reads past the end give 0."""

    data: bytes

    def b(self, off: int) -> int:
        return self.data[off] if 0 <= off < len(self.data) else 0

    def w(self, off: int) -> int:
        return self.b(off) | self.b(off + 1) << 8

    def l(self, off: int) -> int:  # noqa: E743 - pciutils' get_conf_long
        return self.w(off) | self.w(off + 2) << 16

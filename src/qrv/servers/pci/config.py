"""Configuration-space access for pci-server: ECAM through a MAP_PHYS mapping (PCIe 4.0 7.2.2)."""

from __future__ import annotations

from typing import Protocol

from qrv.spec.pci import ECAM_FUNCTION_SHIFT
from qrv.spec.pci_msg import PCI_BUS, PCI_DEV, PCI_FUNC

ECAM_BUS_SHIFT = 20
ECAM_DEV_SHIFT = 15
ECAM_BUS_SIZE = 1 << ECAM_BUS_SHIFT
DWORD = 4
DWORD_MASK = 0xFFFF_FFFF


class Mapping(Protocol):
    """The part of a qrv.lib.c.mman mapping the server uses."""

    length: int

    def read8(self, off: int) -> int: ...
    def read16(self, off: int) -> int: ...
    def read32(self, off: int) -> int: ...
    def write8(self, off: int, value: int) -> None: ...
    def write16(self, off: int, value: int) -> None: ...
    def write32(self, off: int, value: int) -> None: ...


class ConfigAccess(Protocol):
    """Config reads/writes by bdf; width 1, 2, 4 or 8; the caller checks alignment."""

    def read(self, bdf: int, off: int, width: int) -> int: ...

    def write(self, bdf: int, off: int, width: int, value: int) -> None: ...


class Ecam:
    """ECAM window mapped at bus `first_bus` (offset 0 of `mapping`)."""

    def __init__(self, mapping: Mapping, first_bus: int = 0) -> None:
        self.mapping = mapping
        self.first_bus = first_bus
        self.last_bus = first_bus + mapping.length // ECAM_BUS_SIZE - 1

    def _offset(self, bdf: int, off: int) -> int:
        bus = PCI_BUS(bdf) - self.first_bus
        return (
            bus << ECAM_BUS_SHIFT
            | PCI_DEV(bdf) << ECAM_DEV_SHIFT
            | PCI_FUNC(bdf) << ECAM_FUNCTION_SHIFT
            | off
        )

    def reaches(self, bus: int) -> bool:
        return self.first_bus <= bus <= self.last_bus

    def read(self, bdf: int, off: int, width: int) -> int:
        at = self._offset(bdf, off)
        m = self.mapping
        if width == 1:
            return m.read8(at)
        if width == 2:
            return m.read16(at)
        if width == 4:
            return m.read32(at)
        # 64-bit: two dword accesses, low first (ECAM need not support 8-byte accesses)
        return m.read32(at) | m.read32(at + DWORD) << 32

    def write(self, bdf: int, off: int, width: int, value: int) -> None:
        at = self._offset(bdf, off)
        m = self.mapping
        if width == 1:
            m.write8(at, value)
        elif width == 2:
            m.write16(at, value)
        elif width == 4:
            m.write32(at, value)
        else:
            m.write32(at, value & DWORD_MASK)
            m.write32(at + DWORD, (value >> 32) & DWORD_MASK)

"""Flattened device tree (DTB) format, shared by the board's writer and the kernel's parser.

Devicetree Specification v0.4, chapter 5.  Unlike every other layout in qrv,
a DTB is **big-endian** (DT spec 5.1: "all fields are stored in big-endian
format"), so the struct formats here use ``>``.

Also the PCI bus binding cell layouts the kernel decodes (IEEE 1275 PCI Bus
Binding 2.2.1.1, the ``phys.hi`` cell: ``npt000ss bbbbbbbb dddddfff rrrrrrrr``).
"""

from __future__ import annotations

import struct
from enum import IntEnum

FDT_MAGIC = 0xD00DFEED
FDT_VERSION = 17  # the version the writer emits (DT spec 5.2)
FDT_LAST_COMP_VERSION = 16
FDT_MIN_VERSION = 16  # oldest version whose layout the parser understands

# struct fdt_header (DT spec 5.2): magic, totalsize, off_dt_struct, off_dt_strings,
# off_mem_rsvmap, version, last_comp_version, boot_cpuid_phys, size_dt_strings,
# size_dt_struct (the last one only from version 17 on).
HEADER = struct.Struct(">10I")
HEADER_V16_SIZE = 36
assert HEADER.size == 40

# struct fdt_reserve_entry (DT spec 5.3): u64 address, u64 size; (0, 0) terminates.
RESERVE_ENTRY = struct.Struct(">QQ")
assert RESERVE_ENTRY.size == 16

# struct fdt_property (after the FDT_PROP token): u32 len, u32 nameoff (DT spec 5.4.1)
PROP_HEADER = struct.Struct(">II")
assert PROP_HEADER.size == 8

CELL = struct.Struct(">I")
TOKEN_ALIGN = 4
RSVMAP_ALIGN = 8


class Token(IntEnum):
    """Structure block tokens (DT spec 5.4.1)."""

    BEGIN_NODE = 0x1
    END_NODE = 0x2
    PROP = 0x3
    NOP = 0x4
    END = 0x9


# Defaults when a node's parent gives no #address-cells / #size-cells (DT spec 2.3.5)
DEFAULT_ADDRESS_CELLS = 2
DEFAULT_SIZE_CELLS = 1

PCI_ADDRESS_CELLS = 3  # phys.hi, phys.mid, phys.lo (PCI Bus Binding 2.2.1.1)
PCI_SIZE_CELLS = 2


class PciSpace(IntEnum):
    """The ``ss`` field of phys.hi (PCI Bus Binding 2.2.1.1)."""

    CONFIG = 0
    IO = 1
    MEM32 = 2
    MEM64 = 3


PCI_HI_SPACE_SHIFT = 24
PCI_HI_SPACE_MASK = 0x3
PCI_HI_PREFETCH = 1 << 30  # the ``p`` bit
PCI_HI_ALIASED = 1 << 29  # the ``t`` bit
PCI_HI_RELOCATABLE = 1 << 31  # the ``n`` bit (set: not relocatable)
PCI_HI_DEVFN_SHIFT = 8  # ``dddddfff``: device << 3 | function
PCI_HI_DEVICE_SHIFT = 11


def pci_phys_hi(space: PciSpace, *, prefetchable: bool = False, devfn: int = 0) -> int:
    """Build a phys.hi cell (PCI Bus Binding 2.2.1.1)."""
    hi = int(space) << PCI_HI_SPACE_SHIFT | devfn << PCI_HI_DEVFN_SHIFT
    return hi | (PCI_HI_PREFETCH if prefetchable else 0)


def align(value: int, to: int) -> int:
    return (value + to - 1) & ~(to - 1)

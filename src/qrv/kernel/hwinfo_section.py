"""The syspage hwinfo section: layout, builder and lookups (re-exported by qrv.kernel.hwinfo).

Layout as QNX's <hw/sysinfo.h> (qnx-programming-model.md section 4): a flat
sequence of tags, each starting with ``hwi_prefix {u16 size; u16 name}`` where
``size`` counts 4-byte units and ``name`` is an offset in a string table.
Items are tags whose names start with an uppercase letter (``Group``, ``Bus``,
``Device``); they carry ``{u16 itemsize; u16 itemname; u16 owner; u16 kids}``
and own the lowercase tags that follow them up to the next item.  Offsets are
byte offsets into the section; a lookup that finds nothing returns
:data:`HWI_NULL_OFF`.

Tags published for a PCIe host bridge (bus item ``pci``; SPEC.md 3.1):

* ``location``: ECAM base and size (``hwi_location``);
* ``irq``: the INTA source of slot 0 from ``interrupt-map`` (``hwi_irq``);
* ``pci_window``: one per ``ranges`` entry (CPU address, PCI address, size,
  :class:`WindowFlags` decoded from phys.hi);
* ``pci_busrange``: first and last bus number (``bus-range``);
* ``pci_intmap``: one per ``interrupt-map`` entry (mask, child devfn/pin,
  parent interrupt), so a PCI server can route INTx without a platform table;
* ``optstr``: the ``compatible`` string.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntFlag

from qrv.errors import FdtError

HWI_NULL_OFF = 0xFFFF
UNIT = 4  # sizes are in 4-byte units
MAX_SECTION = HWI_NULL_OFF - 1  # offsets are u16

PREFIX = struct.Struct("<HH")  # hwi_prefix: size (units), name (string offset)
ITEM = struct.Struct("<HHHHHH")  # hwi_item: prefix, itemsize, itemname, owner, kids
LOCATION = struct.Struct("<IQHH")  # hwi_location body: len, base, regshift, addrspace
IRQ = struct.Struct("<I")  # hwi_irq body: vector
OPTSTR = struct.Struct("<HH")  # hwi_optstr body: string, spare
PCI_WINDOW = struct.Struct("<IQQQ")  # flags, cpu address, pci address, size
PCI_BUSRANGE = struct.Struct("<HH")  # first, last
PCI_INTMAP = struct.Struct("<IIIII")  # mask_hi, mask_pin, child_hi, child_pin, irq
assert PREFIX.size == 4 and ITEM.size == 12 and LOCATION.size == 16
assert PCI_WINDOW.size == 28 and PCI_INTMAP.size == 20

ITEM_GROUP = "Group"
ITEM_BUS = "Bus"
ITEM_DEVICE = "Device"
ROOT_HW = "hw"
BUS_PCI = "pci"  # HWI_ITEM_BUS_PCI
BUS_INTERNAL = "internal"
TAG_LOCATION = "location"
TAG_IRQ = "irq"
TAG_OPTSTR = "optstr"
TAG_PCI_WINDOW = "pci_window"
TAG_PCI_BUSRANGE = "pci_busrange"
TAG_PCI_INTMAP = "pci_intmap"


class WindowFlags(IntFlag):
    """Kind of a host-bridge window, decoded from the ranges phys.hi cell."""

    IO = 1 << 0
    MEM = 1 << 1
    PREFETCH = 1 << 2
    MEM64 = 1 << 3


@dataclass(frozen=True)
class Location:
    base: int
    length: int
    regshift: int = 0
    addrspace: int = 0


@dataclass(frozen=True)
class PciWindow:
    cpu_addr: int
    pci_addr: int
    size: int
    flags: WindowFlags


@dataclass(frozen=True)
class PciIntMap:
    """One interrupt-map entry: (devfn<<8 & mask_hi, pin & mask_pin) -> parent irq."""

    mask_hi: int
    mask_pin: int
    child_hi: int
    child_pin: int
    irq: int

    def matches(self, devfn_hi: int, pin: int) -> bool:
        return devfn_hi & self.mask_hi == self.child_hi and pin & self.mask_pin == self.child_pin


def _units(nbytes: int) -> int:
    return (nbytes + UNIT - 1) // UNIT


class HwInfo:
    """The hwinfo section and its string table, built by the kernel, read by programs."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._strings = bytearray()
        self._string_offsets: dict[str, int] = {}
        self._item = HWI_NULL_OFF

    # -- building -----------------------------------------------------------------------

    def _string(self, text: str) -> int:
        if text not in self._string_offsets:
            self._string_offsets[text] = len(self._strings)
            self._strings += text.encode("utf-8") + b"\0"
        return self._string_offsets[text]

    def _append(self, name: str, body: bytes) -> int:
        off = len(self._buf)
        size = _units(PREFIX.size + len(body))
        if off + size * UNIT > MAX_SECTION:
            raise FdtError(f"hwinfo section full adding tag {name!r}")
        self._buf += PREFIX.pack(size, self._string(name)) + body
        self._buf += b"\0" * (size * UNIT - PREFIX.size - len(body))
        if self._item != HWI_NULL_OFF:
            units = (len(self._buf) - self._item) // UNIT
            struct.pack_into("<H", self._buf, self._item + PREFIX.size, units)
        return off

    def add_item(self, kind: str, name: str, owner: int = HWI_NULL_OFF) -> int:
        """Append an item (kind ``Group``/``Bus``/``Device``); later tags belong to it."""
        if not kind[:1].isupper():
            raise ValueError(f"item kind {kind!r} must start with an uppercase letter")
        body = ITEM.pack(0, 0, 0, self._string(name), owner, 0)[PREFIX.size :]
        self._item = HWI_NULL_OFF
        off = self._append(kind, body)
        self._item = off
        struct.pack_into("<H", self._buf, off + PREFIX.size, ITEM.size // UNIT)
        if owner != HWI_NULL_OFF:
            kids_at = owner + ITEM.size - 2
            struct.pack_into("<H", self._buf, kids_at, self._u16(kids_at) + 1)
        return off

    def add_tag(self, name: str, body: bytes) -> int:
        if self._item == HWI_NULL_OFF:
            raise ValueError(f"tag {name!r} added before any item")
        if not name[:1].islower():
            raise ValueError(f"tag name {name!r} must start with a lowercase letter")
        return self._append(name, body)

    def add_location(self, loc: Location) -> int:
        return self.add_tag(
            TAG_LOCATION, LOCATION.pack(loc.length, loc.base, loc.regshift, loc.addrspace)
        )

    def add_irq(self, vector: int) -> int:
        return self.add_tag(TAG_IRQ, IRQ.pack(vector))

    def add_optstr(self, text: str) -> int:
        return self.add_tag(TAG_OPTSTR, OPTSTR.pack(self._string(text), 0))

    def add_pci_window(self, w: PciWindow) -> int:
        return self.add_tag(
            TAG_PCI_WINDOW, PCI_WINDOW.pack(int(w.flags), w.cpu_addr, w.pci_addr, w.size)
        )

    def add_pci_busrange(self, first: int, last: int) -> int:
        return self.add_tag(TAG_PCI_BUSRANGE, PCI_BUSRANGE.pack(first, last))

    def add_pci_intmap(self, m: PciIntMap) -> int:
        return self.add_tag(
            TAG_PCI_INTMAP, PCI_INTMAP.pack(m.mask_hi, m.mask_pin, m.child_hi, m.child_pin, m.irq)
        )

    # -- raw access -----------------------------------------------------------------------

    @property
    def section(self) -> bytes:
        return bytes(self._buf)

    @property
    def string_table(self) -> bytes:
        return bytes(self._strings)

    def _u16(self, off: int) -> int:
        return int(struct.unpack_from("<H", self._buf, off)[0])

    def _str(self, off: int) -> str:
        end = self._strings.index(b"\0", off)
        return self._strings[off:end].decode("utf-8")

    def _valid(self, off: int) -> bool:
        return off != HWI_NULL_OFF and 0 <= off < len(self._buf)

    def tags(self) -> Iterator[int]:
        """Offsets of every tag (items included), in order."""
        off = 0
        while off < len(self._buf):
            yield off
            off += self._u16(off) * UNIT

    def tag_name(self, off: int) -> str:
        return self._str(self._u16(off + 2))

    def is_item(self, off: int) -> bool:
        return self.tag_name(off)[:1].isupper()

    def item_name(self, off: int) -> str:
        return self._str(self._u16(off + 6))

    def item_owner(self, off: int) -> int:
        return self._u16(off + 8)

    def item_kids(self, off: int) -> int:
        return self._u16(off + 10)

    def _body(self, off: int, name: str, layout: struct.Struct) -> tuple[int, ...]:
        if not self._valid(off) or self.tag_name(off) != name:
            raise ValueError(f"hwinfo offset {off:#x} is not a {name!r} tag")
        return tuple(layout.unpack_from(self._buf, off + PREFIX.size))

    def location(self, off: int) -> Location:
        length, base, regshift, addrspace = self._body(off, TAG_LOCATION, LOCATION)
        return Location(base, length, regshift, addrspace)

    def irq(self, off: int) -> int:
        return self._body(off, TAG_IRQ, IRQ)[0]

    def optstr(self, off: int) -> str:
        return self._str(self._body(off, TAG_OPTSTR, OPTSTR)[0])

    def pci_window(self, off: int) -> PciWindow:
        flags, cpu, pci, size = self._body(off, TAG_PCI_WINDOW, PCI_WINDOW)
        return PciWindow(cpu, pci, size, WindowFlags(flags))

    def pci_busrange(self, off: int) -> tuple[int, int]:
        first, last = self._body(off, TAG_PCI_BUSRANGE, PCI_BUSRANGE)
        return first, last

    def pci_intmap(self, off: int) -> PciIntMap:
        return PciIntMap(*self._body(off, TAG_PCI_INTMAP, PCI_INTMAP))

    # -- lookups (QNX hwi_find_item / hwi_find_tag semantics) ------------------------------

    def find_item(self, start: int, *names: str) -> int:
        """The next item after `start` whose name is names[-1] and whose owners match
        names[-2], names[-3], ... (path-suffix match); HWI_NULL_OFF when none."""
        for off in self.tags():
            if start != HWI_NULL_OFF and off <= start:
                continue
            if not self.is_item(off) or self.item_name(off) != names[-1]:
                continue
            owner = self.item_owner(off)
            for want in reversed(names[:-1]):
                if not self._valid(owner) or self.item_name(owner) != want:
                    break
                owner = self.item_owner(owner)
            else:
                return off
        return HWI_NULL_OFF

    def _find_kind(self, kind: str, name: str, prev: int) -> int:
        off = prev
        while True:
            off = self.find_item(off, name)
            if off == HWI_NULL_OFF or self.tag_name(off) == kind:
                return off

    def find_bus(self, name: str, prev: int = HWI_NULL_OFF) -> int:
        return self._find_kind(ITEM_BUS, name, prev)

    def find_device(self, name: str, prev: int = HWI_NULL_OFF) -> int:
        return self._find_kind(ITEM_DEVICE, name, prev)

    def find_tag_after(self, item: int, tagname: str, after: int = HWI_NULL_OFF) -> int:
        """The next tag `tagname` of `item` after offset `after` (or from the item's start)."""
        if not self._valid(item) or not self.is_item(item):
            return HWI_NULL_OFF
        end = item + self._u16(item + PREFIX.size) * UNIT
        off = item + self._u16(item) * UNIT
        while off < end:
            if (after == HWI_NULL_OFF or off > after) and self.tag_name(off) == tagname:
                return off
            off += self._u16(off) * UNIT
        return HWI_NULL_OFF

    def find_tags(self, item: int, tagname: str) -> list[int]:
        out: list[int] = []
        off = self.find_tag_after(item, tagname)
        while off != HWI_NULL_OFF:
            out.append(off)
            off = self.find_tag_after(item, tagname, off)
        return out

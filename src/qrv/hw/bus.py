"""The physical address space: the one interface the kernel uses to reach a machine.

Every machine (the built-in board, QEMU over qtest) implements
:class:`PhysicalBus`.  The built-in board builds an :class:`AddressSpace`
out of a RAM region and MMIO regions; QEMU answers the same calls over its
qtest socket.

Access widths are 1, 2, 4 or 8 bytes, little-endian.  A load from an address
nothing decodes returns all-ones (as a PCI master abort does) and a store to
it is dropped; both are counted in :attr:`AddressSpace.unclaimed`.

The defined result of every access, including unaligned ones and ones that
reach past the end of a region (:class:`AddressSpace`):

* A load or store that one region decodes entirely is one access to that
  region, at whatever alignment (RAM is byte-addressed; an MMIO device sees the
  offset and width as given).
* Any other access (it straddles a region's end, e.g. the last bytes of RAM
  and what follows, or lies wholly outside every region) is split into
  naturally aligned accesses of at most 8 bytes, each decoded on its own: the
  split a RISC-V hart's misaligned-access handling makes, and the one
  :meth:`AddressSpace.read`/:meth:`AddressSpace.write` make for non-RAM ranges.
  A piece nothing decodes reads as all-ones, its store is dropped, and it
  counts once in ``unclaimed`` (the counter counts such aligned accesses).

So ``load(a, w)`` equals ``int.from_bytes(read(a, w), "little")`` wherever
``[a, a + w)`` is not inside a single MMIO region (where a device may answer an
unaligned access its own way): a load straddling the end of RAM returns RAM's
bytes in its low part and 0xFF bytes above, never all-ones for the whole word.
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from qrv.errors import BusError
from qrv.hw.memory import GuestRam

log = logging.getLogger(__name__)

WIDTHS = (1, 2, 4, 8)
_ONES = {w: (1 << (8 * w)) - 1 for w in WIDTHS}  # width -> all-ones value (and valid widths)


def all_ones(width: int) -> int:
    """The value a load of `width` bytes returns when nothing answers."""
    return (1 << (8 * width)) - 1


class PhysicalBus(Protocol):
    """What the kernel needs of a machine's physical address space."""

    def read(self, paddr: int, size: int) -> bytes:
        """Read `size` bytes (RAM or MMIO; MMIO split into naturally aligned loads)."""
        ...

    def write(self, paddr: int, data: bytes) -> None:
        """Write bytes (RAM or MMIO; MMIO split into naturally aligned stores)."""
        ...

    def load(self, paddr: int, width: int) -> int:
        """One load of `width` (1, 2, 4, 8) bytes, little-endian."""
        ...

    def store(self, paddr: int, width: int, value: int) -> None:
        """One store of `width` (1, 2, 4, 8) bytes, little-endian."""
        ...


@runtime_checkable
class DirectRam(Protocol):
    """A bus whose RAM is plain memory in this process (the built-in board's address
    space; QEMU's bus with shared RAM): DMA buffers can be used in place."""

    def ram_view(self, paddr: int, size: int) -> memoryview | None:
        """RAM [paddr, paddr+size) as a writable view, or None (not all plain RAM)."""
        ...


@runtime_checkable
class MmioDevice(Protocol):
    """A region of registers.  Offsets are relative to the region's base."""

    def mmio_read(self, offset: int, width: int) -> int: ...

    def mmio_write(self, offset: int, width: int, value: int) -> None: ...


class RamLike(Protocol):
    """Byte-addressed memory: offsets relative to the region's base."""

    def read(self, offset: int, size: int) -> bytes: ...

    def write(self, offset: int, data: bytes) -> None: ...


@dataclass(frozen=True)
class Region:
    """A decoded range of the address space: either RAM-like or an MMIO device."""

    name: str
    base: int
    size: int
    ram: RamLike | None = None
    mmio: MmioDevice | None = None

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, paddr: int, size: int = 1) -> bool:
        base = self.base
        return base <= paddr and paddr + size <= base + self.size


def width_error(width: int) -> BusError:
    return BusError(f"bad access width {width}: expected one of {WIDTHS}")


def check_width(width: int) -> None:
    if width not in _ONES:
        raise width_error(width)


class AddressSpace:
    """A physical address space assembled from non-overlapping regions."""

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._regions: list[Region] = []
        self.unclaimed = 0

    def add(self, region: Region) -> None:
        if (region.ram is None) == (region.mmio is None):
            raise BusError(f"region {region.name}: give exactly one of ram= or mmio=")
        for other in self._regions:
            if region.base < other.end and other.base < region.end:
                raise BusError(
                    f"region {region.name} [{region.base:#x}, {region.end:#x}) overlaps "
                    f"{other.name} [{other.base:#x}, {other.end:#x})"
                )
        i = bisect.bisect(self._bases, region.base)
        self._bases.insert(i, region.base)
        self._regions.insert(i, region)

    @property
    def regions(self) -> tuple[Region, ...]:
        return tuple(self._regions)

    def find(self, paddr: int) -> Region | None:
        i = bisect.bisect(self._bases, paddr) - 1
        if i >= 0 and self._regions[i].contains(paddr):
            return self._regions[i]
        return None

    def _covering(self, paddr: int, size: int) -> Region | None:
        """The region holding all of [paddr, paddr+size): find() and contains() in one."""
        i = bisect.bisect(self._bases, paddr) - 1
        if i < 0:
            return None
        region = self._regions[i]
        end = region.base + region.size  # region.base <= paddr: bisect found it so
        return region if paddr < end and paddr + size <= end else None

    def _unclaimed(self, what: str, paddr: int, size: int) -> None:
        self.unclaimed += 1
        log.debug("unclaimed %s at %#x (%d bytes)", what, paddr, size)

    # -- single loads and stores ------------------------------------------------

    def load(self, paddr: int, width: int) -> int:
        try:
            ones = _ONES[width]
        except KeyError:
            raise width_error(width) from None
        region = self._covering(paddr, width)
        if region is None:
            return self._split_load(paddr, width)
        off = paddr - region.base
        if region.ram is not None:
            return int.from_bytes(region.ram.read(off, width), "little")
        assert region.mmio is not None
        return region.mmio.mmio_read(off, width) & ones

    def store(self, paddr: int, width: int, value: int) -> None:
        try:
            ones = _ONES[width]
        except KeyError:
            raise width_error(width) from None
        value &= ones
        region = self._covering(paddr, width)
        if region is None:
            self._split_store(paddr, width, value)
            return
        off = paddr - region.base
        if region.ram is not None:
            region.ram.write(off, value.to_bytes(width, "little"))
            return
        assert region.mmio is not None
        region.mmio.mmio_write(off, width, value)

    def _split_load(self, paddr: int, width: int) -> int:
        """A load no single region decodes: naturally aligned pieces (module docstring)."""
        pieces = aligned_accesses(paddr, width)
        if len(pieces) == 1:  # aligned, and nothing decodes it
            self._unclaimed("load", paddr, width)
            return all_ones(width)
        value = 0
        for addr, size in pieces:
            value |= self.load(addr, size) << (8 * (addr - paddr))
        return value

    def _split_store(self, paddr: int, width: int, value: int) -> None:
        """A store no single region decodes: naturally aligned pieces (module docstring)."""
        pieces = aligned_accesses(paddr, width)
        if len(pieces) == 1:
            self._unclaimed("store", paddr, width)
            return
        for addr, size in pieces:
            self.store(addr, size, (value >> (8 * (addr - paddr))) & _ONES[size])

    def ram_view(self, paddr: int, size: int) -> memoryview | None:
        """[paddr, paddr+size) as a writable view of guest RAM, if one RAM region holds
        it all; else None (MMIO, or a range no single RAM region decodes)."""
        region = self._covering(paddr, size)
        if region is None or not isinstance(region.ram, GuestRam):
            return None
        return region.ram.view(paddr - region.base, size)

    # -- bulk transfers ---------------------------------------------------------

    def read(self, paddr: int, size: int) -> bytes:
        region = self._covering(paddr, size)
        if region is not None and region.ram is not None:
            return region.ram.read(paddr - region.base, size)
        out = bytearray()
        for addr, width in aligned_accesses(paddr, size):
            out += self.load(addr, width).to_bytes(width, "little")
        return bytes(out)

    def write(self, paddr: int, data: bytes) -> None:
        region = self._covering(paddr, len(data))
        if region is not None and region.ram is not None:
            region.ram.write(paddr - region.base, data)
            return
        pos = 0
        for addr, width in aligned_accesses(paddr, len(data)):
            self.store(addr, width, int.from_bytes(data[pos : pos + width], "little"))
            pos += width


def aligned_accesses(paddr: int, size: int) -> list[tuple[int, int]]:
    """Split [paddr, paddr+size) into naturally aligned accesses of at most 8 bytes."""
    out: list[tuple[int, int]] = []
    addr, end = paddr, paddr + size
    while addr < end:
        width = 8
        while width > 1 and (addr % width or addr + width > end):
            width //= 2
        out.append((addr, width))
        addr += width
    return out


class Machine(Protocol):
    """A machine the kernel boots on: the built-in board or QEMU.

    `ram_base`/`ram_size` is the guest RAM the kernel may hand out for
    MAP_ANON (DMA) pages; `device_tree()` is the flattened device tree blob
    the kernel's FDT parser reads at boot; `close()` releases the machine
    (for QEMU: reaps the process).  Idempotent.
    """

    @property
    def bus(self) -> PhysicalBus: ...

    @property
    def ram_base(self) -> int: ...

    @property
    def ram_size(self) -> int: ...

    def device_tree(self) -> bytes: ...

    def close(self) -> None: ...

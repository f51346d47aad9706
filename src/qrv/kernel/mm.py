"""Memory services: ``mmap(MAP_PHYS)``, ``mmap(MAP_ANON|MAP_PHYS)``, ``mem_offset``, ``munmap``.

A mapping is a window on the machine's physical bus: loads and stores on a
:class:`PhysMapping` reach whatever decodes that address (RAM, a BAR, ECAM;
on QEMU, qtest).  :class:`DmaMapping` is physically contiguous, page-aligned,
zeroed guest RAM taken from ``[ram_base, ram_base + ram_size)`` by a
first-fit page allocator, so its ``paddr`` (``mem_offset``) can be handed to
a DMA-capable device.
"""

from __future__ import annotations

from qrv.hw.bus import DirectRam, Machine, PhysicalBus
from qrv.kernel.trace import Tracer, TracingBus
from qrv.spec.iomsg import EFAULT, EINVAL, ENOMEM, oserror

PAGE_SIZE = 4096


def _pages(length: int) -> int:
    return -(-length // PAGE_SIZE)


class PhysMapping:
    """A process's view of ``[paddr, paddr + length)`` of the physical address space."""

    def __init__(self, bus: PhysicalBus, paddr: int, length: int) -> None:
        self._bus = bus
        self.paddr = paddr
        self.length = length
        self.mapped = True

    def _check(self, off: int, size: int) -> int:
        if not self.mapped or off < 0 or size < 0 or off + size > self.length:
            raise oserror(EFAULT, f"[{off:#x}, +{size:#x}) outside mapping of {self.length:#x}")
        return self.paddr + off

    def read8(self, off: int) -> int:
        return self._bus.load(self._check(off, 1), 1)

    def read16(self, off: int) -> int:
        return self._bus.load(self._check(off, 2), 2)

    def read32(self, off: int) -> int:
        return self._bus.load(self._check(off, 4), 4)

    def read64(self, off: int) -> int:
        return self._bus.load(self._check(off, 8), 8)

    def write8(self, off: int, value: int) -> None:
        self._bus.store(self._check(off, 1), 1, value)

    def write16(self, off: int, value: int) -> None:
        self._bus.store(self._check(off, 2), 2, value)

    def write32(self, off: int, value: int) -> None:
        self._bus.store(self._check(off, 4), 4, value)

    def write64(self, off: int, value: int) -> None:
        self._bus.store(self._check(off, 8), 8, value)

    def read(self, off: int, size: int) -> bytes:
        return self._bus.read(self._check(off, size), size)

    def write(self, off: int, data: bytes | memoryview) -> None:
        self._bus.write(self._check(off, len(data)), bytes(data))


class DmaMapping(PhysMapping):
    """Contiguous zeroed RAM pages (MAP_ANON|MAP_PHYS); `paddr` is what ``mem_offset`` gives.

    Where the machine's RAM is plain memory here (the built-in board, QEMU with shared
    RAM; not while accesses are traced) the mapping's loads, stores and bulk transfers
    are accesses of that memory, and :meth:`view` lends it out without a copy."""

    def __init__(self, bus: PhysicalBus, paddr: int, length: int) -> None:
        super().__init__(bus, paddr, length)
        self._ram = bus.ram_view(paddr, length) if isinstance(bus, DirectRam) else None

    # Each accessor tests the bounds inline (the hot paths: queue entries, phase tags,
    # data views) and leaves every other case, RAM reached through the bus or an access
    # outside the mapping (EFAULT), to PhysMapping's checked path.

    def view(self, off: int, size: int) -> memoryview | None:
        """Bytes [off, off+size) of the mapping in place (writable, no copy), or None
        where RAM is reached through the bus only (then :meth:`read`)."""
        ram = self._ram
        if ram is None or not (
            self.mapped and off >= 0 and size >= 0 and off + size <= self.length
        ):
            self._check(off, size)
            return None
        return ram[off : off + size]

    def read16(self, off: int) -> int:
        ram = self._ram
        if ram is None or not (self.mapped and off >= 0 and off + 2 <= self.length):
            return super().read16(off)
        return int.from_bytes(ram[off : off + 2], "little")

    def read(self, off: int, size: int) -> bytes:
        ram = self._ram
        if ram is None or not (
            self.mapped and off >= 0 and size >= 0 and off + size <= self.length
        ):
            return super().read(off, size)
        return bytes(ram[off : off + size])

    def write(self, off: int, data: bytes | memoryview) -> None:
        ram = self._ram
        end = off + len(data)
        if ram is None or not (self.mapped and off >= 0 and end <= self.length):
            super().write(off, data)
            return
        ram[off:end] = data


Mapping = PhysMapping


class PageAllocator:
    """First-fit allocator of physically contiguous page runs, coalescing on free."""

    def __init__(self, base: int, size: int) -> None:
        self.base = base
        self._free: list[tuple[int, int]] = [(0, size // PAGE_SIZE)] if size >= PAGE_SIZE else []

    def alloc(self, npages: int) -> int:
        for i, (start, count) in enumerate(self._free):
            if count >= npages:
                if count == npages:
                    del self._free[i]
                else:
                    self._free[i] = (start + npages, count - npages)
                return self.base + start * PAGE_SIZE
        raise oserror(ENOMEM, f"no {npages} contiguous free page(s)")

    def free(self, paddr: int, npages: int) -> None:
        start = (paddr - self.base) // PAGE_SIZE
        self._free.append((start, npages))
        self._free.sort()
        merged: list[tuple[int, int]] = []
        for s, c in self._free:
            if merged and merged[-1][0] + merged[-1][1] == s:
                merged[-1] = (merged[-1][0], merged[-1][1] + c)
            else:
                merged.append((s, c))
        self._free = merged

    @property
    def free_pages(self) -> int:
        return sum(c for _s, c in self._free)


class MemoryManager:
    """Creates and releases mappings (on the CPU thread); traced loads/stores with a tracer."""

    def __init__(self, machine: Machine | None, tracer: Tracer | None = None) -> None:
        self._machine = machine
        self._tracer = tracer
        self.pages = (
            PageAllocator(machine.ram_base, machine.ram_size)
            if machine is not None
            else PageAllocator(0, 0)
        )

    def _bus(self) -> PhysicalBus:
        if self._machine is None:
            raise oserror(ENOMEM, "no machine")
        if self._tracer is not None:
            return TracingBus(self._machine.bus, self._tracer)
        return self._machine.bus

    def map_phys(self, paddr: int, length: int) -> PhysMapping:
        if length <= 0 or paddr < 0:
            raise oserror(EINVAL)
        return PhysMapping(self._bus(), paddr, length)

    def map_anon(self, length: int) -> DmaMapping:
        if length <= 0:
            raise oserror(EINVAL)
        bus = self._bus()
        npages = _pages(length)
        paddr = self.pages.alloc(npages)
        bus.write(paddr, bytes(npages * PAGE_SIZE))
        return DmaMapping(bus, paddr, length)

    def unmap(self, mapping: PhysMapping) -> None:
        if not mapping.mapped:
            raise oserror(EINVAL)
        mapping.mapped = False
        if isinstance(mapping, DmaMapping):
            self.pages.free(mapping.paddr, _pages(mapping.length))

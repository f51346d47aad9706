"""``<sys/mman.h>``: MAP_PHYS and MAP_ANON|MAP_PHYS mappings, ``mem_offset``, ``munmap``."""

from __future__ import annotations

from qrv.kernel import PAGE_SIZE, DmaMapping, PhysMapping
from qrv.lib.c._sys import K, cur
from qrv.spec.iomsg import EINVAL, oserror

__all__ = [
    "PAGE_SIZE",
    "DmaMapping",
    "PhysMapping",
    "mem_offset",
    "mmap_anon",
    "mmap_phys",
    "munmap",
]


def mmap_phys(paddr: int, length: int) -> PhysMapping:
    """Map ``[paddr, paddr+length)`` of the physical address space (device registers)."""
    t = cur()
    return K(t).mmap_phys(t, paddr, length)


def mmap_anon(length: int) -> DmaMapping:
    """Zeroed, page-aligned, physically contiguous RAM for DMA."""
    t = cur()
    return K(t).mmap_anon(t, length)


def mem_offset(mapping: PhysMapping, offset: int = 0) -> int:
    """The physical address of ``mapping + offset``."""
    if not mapping.mapped or not 0 <= offset < mapping.length:
        raise oserror(EINVAL)
    return mapping.paddr + offset


def munmap(mapping: PhysMapping) -> None:
    t = cur()
    K(t).munmap(t, mapping)

"""The PCIe host bridge of the built-in board: ECAM config access, BAR decode, DMA.

* ECAM (PCIe 4.0 7.2.2): the window maps bus/device/function/register to a
  byte offset; a read of an absent function returns all-ones (so its vendor
  ID reads 0xFFFF) and a write to it is dropped.
* The MMIO and PIO windows are decoded against the BARs of every function
  whose command register enables that decode: an access lands in the BAR that
  covers it, or reads all-ones when none does.
* Functions behind a PCI-to-PCI bridge (qrv.hw.pcibridge) are reached by
  config cycles once the bridge's bus numbers say so, and by MMIO/PIO only
  through the bridge's forwarding windows.
* Bus-master DMA reaches RAM only, and the MSI targets (:meth:`PcieHostBridge.add_msi_target`)
  by aligned 32-bit writes; anything else is a :class:`DmaError` the device model
  turns into its own error status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from qrv.hw.bus import AddressSpace, Region, all_ones
from qrv.hw.memory import GuestRam
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import BarKind, DmaError, PciFunction
from qrv.spec.pci import MAX_DEVICE, MAX_FUNCTION

log = logging.getLogger(__name__)

MAX_KNOWN_CLAIMS = 4096
"""Decoded claims kept at most (the doorbells and registers a driver uses are a few dozen)."""

# One entry of the cached decode map: a decoded BAR [start, end) or a bridge to ask.
_BarEntry = tuple[int, int, PciFunction, int]
_DecodeEntry = _BarEntry | PciBridge


@dataclass(frozen=True)
class Window:
    """A host-bridge window: CPU addresses [cpu_base, cpu_base+size) map to PCI addresses."""

    name: str
    cpu_base: int
    pci_base: int
    size: int
    kind: BarKind  # IO, MEM32 (32-bit non-prefetchable) or MEM64 (64-bit)

    def to_pci(self, cpu_addr: int) -> int:
        return cpu_addr - self.cpu_base + self.pci_base


class PcieHostBridge:
    """A generic ECAM host bridge (`pci-host-ecam-generic`) with a single root bus 0."""

    def __init__(self, space: AddressSpace, ecam_base: int, ecam_size: int) -> None:
        self.space = space
        self.ecam_base = ecam_base
        self.ecam_size = ecam_size
        self.functions: dict[tuple[int, int, int], PciFunction] = {}
        self.windows: list[Window] = []
        self.unclaimed = 0
        # Decode map cache, per want_io, in plug order (the order of _claim's first match):
        # the decoded BARs of the functions plugged here, and the bridges among them as
        # entries asked on each access (nothing behind a bridge is cached).  Built on first
        # use; dropped by _invalidate_decode on plug and after every config write to a
        # function plugged here (PciFunction.decode_changed): the command register's decode
        # bits and the BARs, all the map depends on, change only through config writes.
        self._decode: dict[bool, list[_DecodeEntry]] = {}
        # The claims already decoded, by (CPU address, width): a driver stores to the same
        # few doorbells over and over.  Only a claim of a BAR plugged here that no bridge
        # came before in the map is kept (a bridge's answer depends on what is behind it);
        # dropped with the decode map.
        self._claims: dict[tuple[int, int], tuple[PciFunction, int, int]] = {}
        # The last RAM region DMA hit: regions are immutable and never removed from the
        # address space, so a region once found stays right for the addresses it contains.
        self._dma_ram: Region | None = None
        self._msi: list[Region] = []
        space.add(Region("pcie-ecam", ecam_base, ecam_size, mmio=_Ecam(self)))

    # -- wiring --------------------------------------------------------------------

    def plug(self, fn: PciFunction, dev: int, func: int = 0, bus: int = 0) -> None:
        key = (bus, dev, func)
        if not (0 <= dev < MAX_DEVICE and 0 <= func < MAX_FUNCTION):
            raise ValueError(f"bad slot {bus:02x}:{dev:02x}.{func}")
        if key in self.functions:
            raise ValueError(f"slot {bus:02x}:{dev:02x}.{func} is taken")
        self.functions[key] = fn
        fn.dma = self
        fn.decode_changed = self._invalidate_decode
        self._invalidate_decode()

    def add_msi_target(self, region: Region) -> None:
        """A region (already in the address space) that MSI writes from functions reach."""
        self._msi.append(region)

    def add_window(self, window: Window) -> None:
        self.windows.append(window)
        self.space.add(
            Region(f"pcie-{window.name}", window.cpu_base, window.size, mmio=_Window(self, window))
        )

    # -- BAR decode ------------------------------------------------------------------

    def _invalidate_decode(self) -> None:
        self._decode.clear()
        self._claims.clear()

    def _decode_map(self, want_io: bool) -> list[_DecodeEntry]:
        """What an access of one kind may hit, in the order the first match is taken."""
        entries = self._decode.get(want_io)
        if entries is None:
            entries = []
            for fn in self.functions.values():
                for bar in fn.decoded_bars():
                    if (bar.kind is BarKind.IO) == want_io:
                        entries.append((bar.address, bar.address + bar.size, fn, bar.index))
                if isinstance(fn, PciBridge):
                    entries.append(fn)
            self._decode[want_io] = entries
        return entries

    def _claim(self, window: Window, cpu_addr: int, width: int) -> tuple[PciFunction, int, int]:
        known = self._claims.get((cpu_addr, width))
        if known is not None:
            return known
        pci_addr = window.to_pci(cpu_addr)
        want_io = window.kind is BarKind.IO
        bridged = False
        for entry in self._decode_map(want_io):
            if isinstance(entry, PciBridge):
                found = entry.claim(pci_addr, width, want_io)
                if found is not None:
                    return found
                bridged = True
                continue
            start, end, fn, index = entry
            if start <= pci_addr and pci_addr + width <= end:
                claim = fn, index, pci_addr - start
                if not bridged and len(self._claims) < MAX_KNOWN_CLAIMS:
                    self._claims[cpu_addr, width] = claim
                return claim
        raise LookupError

    def route_config(self, bus: int, dev: int, func: int) -> PciFunction | None:
        """The function a config cycle reaches: plugged on that bus, or behind a bridge."""
        fn = self.functions.get((bus, dev, func))
        if fn is not None or bus == 0:
            return fn
        for (root_bus, _, _), bridge in self.functions.items():
            if root_bus == 0 and isinstance(bridge, PciBridge):
                found = bridge.route_config(bus, dev, func)
                if found is not None:
                    return found
        return None

    def window_read(self, window: Window, offset: int, width: int) -> int:
        try:
            fn, bar, off = self._claim(window, window.cpu_base + offset, width)
        except LookupError:
            self.unclaimed += 1
            return all_ones(width)
        return fn.bar_read(bar, off, width) & all_ones(width)

    def window_write(self, window: Window, offset: int, width: int, value: int) -> None:
        try:
            fn, bar, off = self._claim(window, window.cpu_base + offset, width)
        except LookupError:
            self.unclaimed += 1
            return
        fn.bar_write(bar, off, width, value)

    # -- DMA (DmaPort) -----------------------------------------------------------------

    def _ram_region(self, addr: int, size: int) -> Region:
        region = self._dma_ram
        if region is not None and region.contains(addr, size):
            return region
        region = self.space.find(addr)
        if region is None or region.ram is None or not region.contains(addr, size):
            raise DmaError(f"DMA to [{addr:#x}, {addr + size:#x}) is not system RAM")
        self._dma_ram = region
        return region

    def dma_read(self, addr: int, size: int) -> bytes:
        region = self._ram_region(addr, size)
        assert region.ram is not None
        return region.ram.read(addr - region.base, size)

    def dma_write(self, addr: int, data: bytes) -> None:
        if len(data) == 4 and not addr % 4:
            for msi in self._msi:
                if msi.contains(addr, 4) and msi.mmio is not None:
                    msi.mmio.mmio_write(addr - msi.base, 4, int.from_bytes(data, "little"))
                    return
        region = self._ram_region(addr, len(data))
        assert region.ram is not None
        region.ram.write(addr - region.base, data)

    def dma_view(self, addr: int, size: int) -> memoryview | None:
        region = self._ram_region(addr, size)
        if not isinstance(region.ram, GuestRam):
            return None
        return region.ram.view(addr - region.base, size)


class _Ecam:
    def __init__(self, bridge: PcieHostBridge) -> None:
        self.bridge = bridge

    def _locate(self, offset: int) -> tuple[PciFunction | None, int]:
        bus, dev, func = offset >> 20, (offset >> 15) & 0x1F, (offset >> 12) & 0x7
        return self.bridge.route_config(bus, dev, func), offset & 0xFFF

    def mmio_read(self, offset: int, width: int) -> int:
        fn, reg = self._locate(offset)
        return all_ones(width) if fn is None else fn.config_read(reg, width)

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        fn, reg = self._locate(offset)
        if fn is not None:
            fn.config_write(reg, width, value)


class _Window:
    def __init__(self, bridge: PcieHostBridge, window: Window) -> None:
        self.bridge = bridge
        self.window = window

    def mmio_read(self, offset: int, width: int) -> int:
        return self.bridge.window_read(self.window, offset, width)

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        self.bridge.window_write(self.window, offset, width, value)

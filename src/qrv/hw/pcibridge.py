"""A PCI-to-PCI bridge (type-1 header) with its own secondary bus.

PCI-to-PCI Bridge Architecture Spec 1.2, ch. 3-4, as the model needs it:

* bus numbers (primary, secondary, subordinate) are writable; a type-0
  config cycle reaches a child only when its bus equals the secondary bus,
  and is forwarded to child bridges for buses in (secondary, subordinate];
* memory base/limit (1 MiB granularity, 32-bit), prefetchable base/limit
  (64-bit capable) and I/O base/limit (4 KiB granularity, 16-bit) decide what
  the bridge forwards downstream, gated by its own command register;
* upstream DMA of children is forwarded only with the bridge's bus-master bit.
"""

from __future__ import annotations

from qrv.hw.pcidev import BarKind, PciFunction, PciIdentity
from qrv.spec.pci import (
    BRIDGE_IO_REG_MASK,
    BRIDGE_IO_SHIFT,
    BRIDGE_MEM_REG_MASK,
    BRIDGE_MEM_SHIFT,
    MAX_DEVICE,
    MAX_FUNCTION,
    STATUS_W1C,
    HeaderType,
    Type1,
)

PREF_64BIT = 0x1  # low nibble of the prefetchable base/limit: 64-bit addressing
GRANULE_MEM = (1 << BRIDGE_MEM_SHIFT + 4) - 1  # limit registers cover up to ...FFFFF
GRANULE_IO = (1 << BRIDGE_IO_SHIFT + 4) - 1
BRIDGE_CONTROL_WMASK = 0x0FFF


class PciBridge(PciFunction):
    """A transparent PCI-to-PCI bridge; plug functions behind it with :meth:`plug`."""

    def __init__(self, identity: PciIdentity, *, multifunction: bool = False) -> None:
        super().__init__(
            identity, multifunction=multifunction, header_type=HeaderType.BRIDGE, interrupt_pin=0
        )
        self.children: dict[tuple[int, int], PciFunction] = {}
        for reg in (Type1.PRIMARY_BUS, Type1.SECONDARY_BUS, Type1.SUBORDINATE_BUS):
            self._set(reg, 1, 0, wmask=0xFF)
        self._set(Type1.IO_BASE, 1, 0, wmask=BRIDGE_IO_REG_MASK)
        self._set(Type1.IO_LIMIT, 1, 0, wmask=BRIDGE_IO_REG_MASK)
        self._set(Type1.SECONDARY_STATUS, 2, 0, w1c=int(STATUS_W1C))
        self._set(Type1.MEMORY_BASE, 2, 0, wmask=BRIDGE_MEM_REG_MASK)
        self._set(Type1.MEMORY_LIMIT, 2, 0, wmask=BRIDGE_MEM_REG_MASK)
        self._set(Type1.PREF_MEMORY_BASE, 2, PREF_64BIT, wmask=BRIDGE_MEM_REG_MASK)
        self._set(Type1.PREF_MEMORY_LIMIT, 2, PREF_64BIT, wmask=BRIDGE_MEM_REG_MASK)
        self._set(Type1.PREF_BASE_UPPER32, 4, 0, wmask=0xFFFF_FFFF)
        self._set(Type1.PREF_LIMIT_UPPER32, 4, 0, wmask=0xFFFF_FFFF)
        self._set(Type1.IO_BASE_UPPER16, 4, 0)
        self._set(Type1.BRIDGE_CONTROL, 2, 0, wmask=BRIDGE_CONTROL_WMASK)

    def plug(self, fn: PciFunction, dev: int, func: int = 0) -> None:
        if not (0 <= dev < MAX_DEVICE and 0 <= func < MAX_FUNCTION):
            raise ValueError(f"bad slot {dev:02x}.{func} behind a bridge")
        if (dev, func) in self.children:
            raise ValueError(f"slot {dev:02x}.{func} behind the bridge is taken")
        self.children[(dev, func)] = fn
        fn.dma = self  # upstream DMA goes through us (gated by our bus-master bit)

    # -- bus numbers and config routing -----------------------------------------------------

    @property
    def secondary(self) -> int:
        return self.config[Type1.SECONDARY_BUS]

    @property
    def subordinate(self) -> int:
        return self.config[Type1.SUBORDINATE_BUS]

    def route_config(self, bus: int, dev: int, func: int) -> PciFunction | None:
        """The function a config cycle for bus:dev.func reaches through this bridge."""
        sec = self.secondary
        if sec == 0 or not sec <= bus <= self.subordinate:
            return None
        if bus == sec:
            return self.children.get((dev, func))
        for child in self.children.values():
            if isinstance(child, PciBridge):
                found = child.route_config(bus, dev, func)
                if found is not None:
                    return found
        return None

    # -- forwarding windows -----------------------------------------------------------------

    def _mem_window(self) -> tuple[int, int]:
        base = (self.cfg16(Type1.MEMORY_BASE) & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT
        limit = (self.cfg16(Type1.MEMORY_LIMIT) & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT
        return base, limit | GRANULE_MEM

    def _pref_window(self) -> tuple[int, int]:
        base = (self.cfg16(Type1.PREF_MEMORY_BASE) & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT
        limit = (self.cfg16(Type1.PREF_MEMORY_LIMIT) & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT
        base |= self.cfg32(Type1.PREF_BASE_UPPER32) << 32
        limit |= self.cfg32(Type1.PREF_LIMIT_UPPER32) << 32
        return base, limit | GRANULE_MEM

    def _io_window(self) -> tuple[int, int]:
        base = (self.config[Type1.IO_BASE] & BRIDGE_IO_REG_MASK) << BRIDGE_IO_SHIFT
        limit = (self.config[Type1.IO_LIMIT] & BRIDGE_IO_REG_MASK) << BRIDGE_IO_SHIFT
        return base, limit | GRANULE_IO

    def forwards(self, pci_addr: int, width: int, io: bool) -> bool:
        """Whether a downstream access at `pci_addr` passes this bridge."""
        end = pci_addr + width - 1
        if io:
            if not self.io_enabled:
                return False
            base, limit = self._io_window()
            return base <= pci_addr and end <= limit
        if not self.memory_enabled:
            return False
        return any(
            base <= pci_addr and end <= limit
            for base, limit in (self._mem_window(), self._pref_window())
        )

    def claim(self, pci_addr: int, width: int, io: bool) -> tuple[PciFunction, int, int] | None:
        """The child function and BAR that decode `pci_addr`, if this bridge forwards it."""
        if not self.forwards(pci_addr, width, io):
            return None
        for child in self.children.values():
            for bar in child.decoded_bars():
                if (bar.kind is BarKind.IO) != io:
                    continue
                if bar.address <= pci_addr and pci_addr + width <= bar.address + bar.size:
                    return child, bar.index, pci_addr - bar.address
            if isinstance(child, PciBridge):
                found = child.claim(pci_addr, width, io)
                if found is not None:
                    return found
        return None

"""A PCI Express function's configuration space, as a device model sees it.

Modelled the way QEMU's hw/pci/pci.c does it: the 4 KiB config space is a
byte array with a per-byte write mask (`wmask`) and write-1-to-clear mask
(`w1cmask`).  BAR sizing falls out of the masks: the address bits of a BAR
of size S are writable and the bits below S are not, so writing all-ones and
reading back gives the size mask (PCI 3.0 6.2.5.1).

A device model subclasses :class:`PciFunction`, declares its identity, BARs
and capabilities, and implements :meth:`bar_read` / :meth:`bar_write`.  The
host bridge (qrv.hw.pcie) routes ECAM accesses to :meth:`config_read` /
:meth:`config_write`, decodes enabled BARs to :meth:`bar_read` /
:meth:`bar_write`, and gives the function a :class:`DmaPort` for bus-master
accesses to RAM.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from qrv.errors import BusError
from qrv.spec.pci import (
    BAR_COUNT_TYPE0,
    BAR_IO,
    BAR_MEM_PREFETCH,
    BAR_MEM_TYPE_64,
    CAP_LIST_START,
    CONFIG_SPACE_SIZE,
    HEADER_MULTIFUNCTION,
    STATUS_W1C,
    Cfg,
    Command,
    HeaderType,
    Status,
)

# The decode and bus-master bits as plain ints, tested on the command register's low byte
# (all three sit in bits 0..2, PCI 3.0 6.2.2): no IntFlag is built on the MMIO/DMA paths.
_COMMAND = int(Cfg.COMMAND)
_IO_SPACE = int(Command.IO_SPACE)
_MEMORY_SPACE = int(Command.MEMORY_SPACE)
_BUS_MASTER = int(Command.BUS_MASTER)
assert _IO_SPACE | _MEMORY_SPACE | _BUS_MASTER <= 0xFF
# INTx on the same footing (every completion drives it): Status.INTERRUPT is bit 3 of the
# status register's low byte, Command.INTX_DISABLE bit 10 of the command register (bit 2
# of its high byte), PCI 3.0 6.2.2, 6.2.3.
_STATUS = int(Cfg.STATUS)
_INTERRUPT_STATUS = int(Status.INTERRUPT)
_COMMAND_HIGH = _COMMAND + 1
_INTX_DISABLE_HIGH = int(Command.INTX_DISABLE) >> 8
assert _INTERRUPT_STATUS <= 0xFF and _INTX_DISABLE_HIGH << 8 == Command.INTX_DISABLE


_U16, _U32 = struct.Struct("<H"), struct.Struct("<I")


class DmaError(BusError):
    """A bus-master access the platform cannot complete (not RAM, or mastering disabled)."""


class DmaPort(Protocol):
    """Bus-master access to system memory, provided by the host bridge."""

    def dma_read(self, addr: int, size: int) -> bytes: ...

    def dma_write(self, addr: int, data: bytes) -> None: ...

    def dma_view(self, addr: int, size: int) -> memoryview | None:
        """The system RAM [addr, addr+size) itself, for a transfer in place (no copy);
        None where that memory is no plain RAM (then dma_read/dma_write)."""
        ...


class BarKind(Enum):
    IO = "io"
    MEM32 = "mem32"
    MEM64 = "mem64"


@dataclass(frozen=True)
class BarSpec:
    """One BAR a function implements.  `size` is a power of two (>= 16 for memory, >= 4 for IO)."""

    index: int
    size: int
    kind: BarKind = BarKind.MEM32
    prefetchable: bool = False

    def __post_init__(self) -> None:
        minimum = 4 if self.kind is BarKind.IO else 16
        if self.size < minimum or self.size & (self.size - 1):
            raise ValueError(
                f"BAR{self.index}: size {self.size:#x} is not a power of two >= {minimum}"
            )
        last = self.index + (1 if self.kind is BarKind.MEM64 else 0)
        if self.index < 0 or last >= BAR_COUNT_TYPE0:
            raise ValueError(f"BAR{self.index}: index out of range for a type-0 header")

    @property
    def flag_bits(self) -> int:
        """The read-only low bits of the BAR register (PCI 3.0 6.2.5.1)."""
        if self.kind is BarKind.IO:
            return BAR_IO
        bits = BAR_MEM_TYPE_64 if self.kind is BarKind.MEM64 else 0
        return bits | (BAR_MEM_PREFETCH if self.prefetchable else 0)


@dataclass
class Capability:
    """A capability structure: id, body (bytes after the id/next header) and its write mask."""

    cap_id: int
    body: bytes
    body_wmask: bytes = b""
    at: int | None = None
    """Where it sits in config space; None: after the previous one (from 40h)."""
    offset: int = field(default=0, init=False)  # set when the function lays out its list

    @property
    def size(self) -> int:
        return 2 + len(self.body)


@dataclass(frozen=True)
class PciIdentity:
    vendor_id: int
    device_id: int
    class_code: int  # 24 bits: class << 16 | subclass << 8 | prog-if
    revision: int = 0
    subsystem_vendor_id: int = 0
    subsystem_id: int = 0


@dataclass(frozen=True)
class DecodedBar:
    """A BAR whose decode is enabled: where it sits in the CPU's address space."""

    index: int
    address: int
    size: int
    kind: BarKind


class PciFunction:
    """A type-0 PCI Express function (header type 0)."""

    def __init__(
        self,
        identity: PciIdentity,
        bars: Sequence[BarSpec] = (),
        capabilities: Sequence[Capability] = (),
        *,
        multifunction: bool = False,
        interrupt_pin: int = 1,
        header_type: HeaderType = HeaderType.NORMAL,
    ) -> None:
        self.identity = identity
        self.bars = {b.index: b for b in bars}
        self.capabilities = list(capabilities)
        self.config = bytearray(CONFIG_SPACE_SIZE)
        self.wmask = bytearray(CONFIG_SPACE_SIZE)
        self.w1cmask = bytearray(CONFIG_SPACE_SIZE)
        self.dma: DmaPort | None = None
        self.decode_changed: Callable[[], None] | None = None
        """Called after every config write: the host bridge drops its cached BAR decode."""
        self.intx: Callable[[bool], None] | None = None
        """The INTx wire (the board routes it to its interrupt controller), or None."""
        self._intx_request = False
        self._intx_out = False
        self._build_header(multifunction, interrupt_pin, header_type)
        self._build_capabilities()

    # -- layout ------------------------------------------------------------------

    def _set(self, off: int, width: int, value: int, wmask: int = 0, w1c: int = 0) -> None:
        self.config[off : off + width] = value.to_bytes(width, "little")
        self.wmask[off : off + width] = wmask.to_bytes(width, "little")
        self.w1cmask[off : off + width] = w1c.to_bytes(width, "little")

    def _build_header(self, multifunction: bool, pin: int, header_type: HeaderType) -> None:
        ident = self.identity
        writable_cmd = (
            Command.IO_SPACE
            | Command.MEMORY_SPACE
            | Command.BUS_MASTER
            | Command.PARITY_ERROR_RESPONSE
            | Command.SERR_ENABLE
            | Command.INTX_DISABLE
        )
        self._set(Cfg.VENDOR_ID, 2, ident.vendor_id)
        self._set(Cfg.DEVICE_ID, 2, ident.device_id)
        self._set(Cfg.COMMAND, 2, 0, wmask=int(writable_cmd))
        self._set(Cfg.STATUS, 2, 0, w1c=int(STATUS_W1C))
        self._set(Cfg.REVISION_ID, 1, ident.revision)
        self._set(Cfg.PROG_IF, 1, ident.class_code & 0xFF)
        self._set(Cfg.SUBCLASS, 1, (ident.class_code >> 8) & 0xFF)
        self._set(Cfg.CLASS, 1, (ident.class_code >> 16) & 0xFF)
        self._set(Cfg.CACHE_LINE_SIZE, 1, 0, wmask=0xFF)
        self._set(Cfg.LATENCY_TIMER, 1, 0)  # hardwired to 0 on PCIe (PCIe 7.5.1.1.6)
        hdr = int(header_type) | (HEADER_MULTIFUNCTION if multifunction else 0)
        self._set(Cfg.HEADER_TYPE, 1, hdr)
        self._set(Cfg.SUBSYSTEM_VENDOR_ID, 2, ident.subsystem_vendor_id)
        self._set(Cfg.SUBSYSTEM_ID, 2, ident.subsystem_id)
        self._set(Cfg.INTERRUPT_LINE, 1, 0xFF, wmask=0xFF)
        self._set(Cfg.INTERRUPT_PIN, 1, pin)
        for bar in self.bars.values():
            off = Cfg.BAR0 + 4 * bar.index
            addr_mask = ~(bar.size - 1) & 0xFFFFFFFF
            self._set(off, 4, bar.flag_bits, wmask=addr_mask)
            if bar.kind is BarKind.MEM64:
                high_mask = (~(bar.size - 1) >> 32) & 0xFFFFFFFF
                self._set(off + 4, 4, 0, wmask=high_mask)

    def _build_capabilities(self) -> None:
        if not self.capabilities:
            return
        off = CAP_LIST_START
        taken: list[tuple[int, int]] = []
        for cap in self.capabilities:
            cap.offset = off if cap.at is None else cap.at
            end = cap.offset + cap.size
            if cap.offset < CAP_LIST_START or cap.offset % 4 or end > 0x100:
                raise ValueError("capabilities do not fit in the legacy config space")
            if any(cap.offset < e and s < end for s, e in taken):
                raise ValueError(f"capability {cap.cap_id:#x} at {cap.offset:#x} overlaps another")
            taken.append((cap.offset, end))
            off = (end + 3) & ~3
        for i, cap in enumerate(self.capabilities):
            nxt = self.capabilities[i + 1].offset if i + 1 < len(self.capabilities) else 0
            self._set(cap.offset, 1, cap.cap_id)
            self._set(cap.offset + 1, 1, nxt)
            start = cap.offset + 2
            self.config[start : start + len(cap.body)] = cap.body
            mask = cap.body_wmask.ljust(len(cap.body), b"\0")
            self.wmask[start : start + len(cap.body)] = mask
        self._set(Cfg.CAPABILITIES_PTR, 1, self.capabilities[0].offset)
        status = self.cfg16(Cfg.STATUS) | Status.CAP_LIST
        self.config[Cfg.STATUS : Cfg.STATUS + 2] = int(status).to_bytes(2, "little")

    def capability(self, cap_id: int) -> Capability | None:
        return next((c for c in self.capabilities if c.cap_id == cap_id), None)

    # -- config access (from the host bridge) ---------------------------------------

    def cfg16(self, off: int) -> int:
        return int(_U16.unpack_from(self.config, off)[0])

    def cfg32(self, off: int) -> int:
        return int(_U32.unpack_from(self.config, off)[0])

    def config_read(self, offset: int, width: int) -> int:
        """A config read; out-of-range or misaligned reads return all-ones."""
        if offset < 0 or offset + width > CONFIG_SPACE_SIZE or offset % width:
            return (1 << (8 * width)) - 1
        return int.from_bytes(self.config[offset : offset + width], "little")

    def config_write(self, offset: int, width: int, value: int) -> None:
        """A config write, honouring read-only, writable and write-1-to-clear bits."""
        if offset < 0 or offset + width > CONFIG_SPACE_SIZE or offset % width:
            return
        old_command = self.cfg16(Cfg.COMMAND)
        for i in range(width):
            byte = (value >> (8 * i)) & 0xFF
            pos = offset + i
            wm, w1c = self.wmask[pos], self.w1cmask[pos]
            cur = self.config[pos]
            cur = (cur & ~wm) | (byte & wm)
            cur &= ~(byte & w1c)
            self.config[pos] = cur & 0xFF
        self.on_config_write(offset, width, old_command)
        if self._intx_request:
            self._drive_intx()  # Command.INTX_DISABLE may have changed
        if self.decode_changed is not None:
            self.decode_changed()

    def on_config_write(self, offset: int, width: int, old_command: int) -> None:
        """Hook for subclasses (e.g. react to capability control bits).  Default: nothing."""

    # -- decode -------------------------------------------------------------------

    @property
    def command(self) -> Command:
        return Command(self.cfg16(Cfg.COMMAND))

    @property
    def memory_enabled(self) -> bool:
        return bool(self.config[_COMMAND] & _MEMORY_SPACE)

    @property
    def io_enabled(self) -> bool:
        return bool(self.config[_COMMAND] & _IO_SPACE)

    @property
    def bus_master(self) -> bool:
        return bool(self.config[_COMMAND] & _BUS_MASTER)

    def bar_address(self, index: int) -> int:
        bar = self.bars[index]
        off = Cfg.BAR0 + 4 * index
        low = self.cfg32(off)
        if bar.kind is BarKind.IO:
            return low & ~0x3
        addr = low & ~0xF
        if bar.kind is BarKind.MEM64:
            addr |= self.cfg32(off + 4) << 32
        return addr

    def decoded_bars(self) -> list[DecodedBar]:
        """BARs that currently decode: enabled by the command register and programmed (non-zero)."""
        out = []
        for bar in self.bars.values():
            enabled = self.io_enabled if bar.kind is BarKind.IO else self.memory_enabled
            addr = self.bar_address(bar.index)
            if enabled and addr:
                out.append(DecodedBar(bar.index, addr, bar.size, bar.kind))
        return out

    # -- BAR access (override) ------------------------------------------------------

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        """A load from one of this function's BARs.  Default: reads as zero."""
        return 0

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        """A store to one of this function's BARs.  Default: ignored."""

    # -- bus mastering --------------------------------------------------------------

    def dma_read(self, addr: int, size: int) -> bytes:
        if self.dma is None or not self.config[_COMMAND] & _BUS_MASTER:
            raise DmaError(f"DMA read at {addr:#x} with bus mastering disabled")
        return self.dma.dma_read(addr, size)

    def dma_write(self, addr: int, data: bytes) -> None:
        if self.dma is None or not self.config[_COMMAND] & _BUS_MASTER:
            raise DmaError(f"DMA write at {addr:#x} with bus mastering disabled")
        self.dma.dma_write(addr, data)

    def dma_view(self, addr: int, size: int) -> memoryview | None:
        """:meth:`DmaPort.dma_view`, with the same bus-master check as every DMA."""
        if self.dma is None or not self.config[_COMMAND] & _BUS_MASTER:
            raise DmaError(f"DMA at {addr:#x} with bus mastering disabled")
        return self.dma.dma_view(addr, size)

    # -- interrupts ---------------------------------------------------------------

    def set_intx(self, request: bool) -> None:
        """The function wants its INTx pin asserted (or not).

        Status.INTERRUPT shows the request; the pin is driven only while
        Command.INTX_DISABLE is clear (PCI 3.0 6.2.2, 6.2.3).
        """
        if request == self._intx_request:
            return  # Status.INTERRUPT shows it already; config writes re-drive the pin
        self._intx_request = request
        low = self.config[_STATUS]
        self.config[_STATUS] = low | _INTERRUPT_STATUS if request else low & ~_INTERRUPT_STATUS
        self._drive_intx()

    def _drive_intx(self) -> None:
        out = self._intx_request and not self.config[_COMMAND_HIGH] & _INTX_DISABLE_HIGH
        if out != self._intx_out:
            self._intx_out = out
            if self.intx is not None:
                self.intx(out)

    @property
    def intx_asserted(self) -> bool:
        """Whether the INTx pin is driven now."""
        return self._intx_out

    def msi_write(self, addr: int, data: int) -> None:
        """An MSI/MSI-X message: a 32-bit memory write by the function (needs bus mastering)."""
        self.dma_write(addr, (data & 0xFFFF_FFFF).to_bytes(4, "little"))

    def reset(self) -> None:
        """Function-level reset hook (e.g. the NVMe model clears its state).  Default: nothing."""

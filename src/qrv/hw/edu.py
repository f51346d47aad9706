"""QEMU's ``edu`` teaching device (``-device edu``), modelled after QEMU 7.2 hw/misc/edu.c.

PCI 1234:11e8, revision 0x10, class 00ff00 (unclassified), subsystem 1af4:1100
(QEMU's default), INTA, one MSI vector (64-bit, no per-vector masking) at
config offset 0x40, BAR0 a 1 MiB 32-bit memory BAR.  Registers of BAR0
(``docs/specs/edu.rst``):

===== ===== ======================================================================
0x00  RO    identification 0x010000ed
0x04  RW    liveness: reads the bitwise inverse of what was last written (0 at reset)
0x08  RW    factorial: a write starts computing (status bit 0x01 set until done),
            ignored while computing; reads the input until done, then n! (mod 2**32)
0x20  RW    status: 0x01 computing (read-only), 0x80 raise interrupt 0x01 when done
0x24  RO    interrupt status
0x60  WO    interrupt raise: ORs the value into the interrupt status
0x64  WO    interrupt acknowledge: clears the value's bits in the interrupt status
0x80  RW    DMA source address      (64-bit; writes ignored while a DMA runs)
0x88  RW    DMA destination address
0x90  RW    DMA count
0x98  RW    DMA command: 0x1 start (a write without it is ignored), 0x2 direction
            (0: RAM -> buffer, 1: buffer -> RAM), 0x4 raise interrupt 0x100 when done
===== ===== ======================================================================

Accesses below 0x80 must be 4 bytes wide; from 0x80 on 4 or 8.  QEMU's memory
core refuses 1- and 2-byte accesses (the region's minimum is 4): they read as 0
and writes are dropped; an 8-byte access below 0x80, and any offset that is no
register, reads all-ones and ignores writes.

Timing, on the board's clock: the factorial is done :data:`FACT_TIME` after
the write (QEMU computes it on a thread, "so that users are forced to wait for
the status register"); a DMA completes :data:`DMA_TIME` (QEMU's 100 ms virtual
timer) after its start.  Completions are applied at the device's next access,
at :meth:`Edu.tick`, or, on a :class:`VirtualClock`, by an alarm at their time
(so the interrupt comes while the driver sleeps in InterruptWait).

The DMA's buffer window is ``[0x40000, 0x41000)``: the buffer-side address
and count must lie in it, and (QEMU 7.2's ``within()``
tests the end address with ``<`` too) end before its last byte, so one
transfer moves at most 4095 bytes and never touches byte 0xfff.  Otherwise
QEMU 7.2 ``hw_error()``s, which aborts QEMU; the model instead drops the
transfer, ends the command without an interrupt and counts
:attr:`Edu.dma_errors`.  The RAM-side address is
ANDed with ``dma_mask`` (default 28 bits, as QEMU; on a riscv64 virt board RAM
starts at 0x8000_0000, so ``qrv emu --edu`` gives the device a 32-bit mask).

Interrupts: with MSI enabled a raise writes the MSI data (32-bit, little
endian) to the MSI address by bus mastering, and a config write into the MSI
capability deasserts INTA (QEMU's ``msi_write_config``); otherwise INTA follows
"interrupt status != 0" (:meth:`PciFunction.set_intx`;
:attr:`PciFunction.intx_asserted`), which the board routes to its PLIC.
"""

from __future__ import annotations

import contextlib

from qrv.hw.clock import Clock, VirtualClock
from qrv.hw.pcidev import BarSpec, Capability, DmaError, PciFunction, PciIdentity
from qrv.spec.pci import SUBSYSTEM_ID_QEMU, SUBSYSTEM_VENDOR_QEMU, CapId

VENDOR_EDU = 0x1234
DEVICE_EDU = 0x11E8
REVISION_EDU = 0x10
CLASS_OTHERS = 0x00FF00
BAR0_SIZE = 1 << 20
MSI_OFFSET = 0x40

ID = 0x010000ED
REG_ID, REG_LIVE, REG_FACT, REG_STATUS, REG_IRQ_STATUS = 0x00, 0x04, 0x08, 0x20, 0x24
REG_IRQ_RAISE, REG_IRQ_ACK = 0x60, 0x64
REG_DMA_SRC, REG_DMA_DST, REG_DMA_COUNT, REG_DMA_CMD = 0x80, 0x88, 0x90, 0x98
STATUS_COMPUTING = 0x01
STATUS_IRQFACT = 0x80
FACT_IRQ = 0x001
DMA_IRQ = 0x100
DMA_RUN, DMA_TO_RAM, DMA_IRQ_ENABLE = 0x1, 0x2, 0x4
DMA_START = 0x40000
DMA_SIZE = 4096
DEFAULT_DMA_MASK = (1 << 28) - 1
FACT_TIME = 10e-6
DMA_TIME = 0.1

# MSI capability (PCI 3.0 6.8.1), as QEMU's msi_init(dev, 0, 1, true, false) lays it out
MSI_FLAGS_64BIT = 0x80
MSI_FLAGS_ENABLE = 0x01
MSI_ADDR_LO, MSI_ADDR_HI, MSI_DATA = 4, 8, 12  # offsets in the capability
MSI_CAP_SIZE = 14  # 64-bit address, no per-vector masking
M32 = 0xFFFF_FFFF
M64 = (1 << 64) - 1


def factorial32(n: int) -> int:
    """edu's factorial: ``ret *= val--`` in uint32_t."""
    ret = 1
    while n > 0:
        ret = (ret * n) & M32
        n -= 1
    return ret


def _msi_capability() -> Capability:
    body = bytearray(12)
    body[0:2] = MSI_FLAGS_64BIT.to_bytes(2, "little")
    wmask = bytearray(12)
    wmask[0] = MSI_FLAGS_ENABLE  # QSIZE too in QEMU, but clamped to the one vector: stays 0
    wmask[2:6] = (0xFFFF_FFFC).to_bytes(4, "little")
    wmask[6:10] = M32.to_bytes(4, "little")
    wmask[10:12] = b"\xff\xff"
    return Capability(int(CapId.MSI), bytes(body), bytes(wmask))


class Edu(PciFunction):
    """The edu device: registers, background factorial, DMA engine, interrupts."""

    def __init__(self, clock: Clock, dma_mask: int = DEFAULT_DMA_MASK) -> None:
        super().__init__(
            PciIdentity(
                VENDOR_EDU,
                DEVICE_EDU,
                CLASS_OTHERS,
                REVISION_EDU,
                SUBSYSTEM_VENDOR_QEMU,
                SUBSYSTEM_ID_QEMU,
            ),
            [BarSpec(0, BAR0_SIZE)],
            [_msi_capability()],
        )
        self.clock = clock
        self.dma_mask = dma_mask
        self.addr4 = 0
        self.fact = 0
        self.status = 0
        self.irq_status = 0
        self.dma_src = self.dma_dst = self.dma_count = self.dma_cmd = 0
        self.buffer = bytearray(DMA_SIZE)
        self.dma_errors = 0
        self._fact_at: float | None = None
        self._dma_at: float | None = None

    # -- time -------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply what has completed by now (factorial first, as its thread is quicker)."""
        now = self.clock.now()
        if self._fact_at is not None and now >= self._fact_at:
            self._fact_at = None
            self.fact = factorial32(self.fact)
            self.status &= ~STATUS_COMPUTING
            if self.status & STATUS_IRQFACT:
                self.raise_irq(FACT_IRQ)
        if self._dma_at is not None and now >= self._dma_at:
            self._dma_at = None
            self._dma_done()

    # -- BAR0 -------------------------------------------------------------------------

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        if width not in (4, 8):
            return 0  # below the region's minimum access size: refused by QEMU's core
        ones = (1 << (8 * width)) - 1
        if offset < REG_DMA_SRC and width != 4:
            return ones
        self.tick()
        value = {
            REG_ID: ID,
            REG_LIVE: self.addr4,
            REG_FACT: self.fact,
            REG_STATUS: self.status,
            REG_IRQ_STATUS: self.irq_status,
            REG_DMA_SRC: self.dma_src,
            REG_DMA_DST: self.dma_dst,
            REG_DMA_COUNT: self.dma_count,
            REG_DMA_CMD: self.dma_cmd,
        }.get(offset)
        return ones if value is None else value & ones

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        if width not in (4, 8) or (offset < REG_DMA_SRC and width != 4):
            return
        self.tick()
        if offset == REG_LIVE:
            self.addr4 = ~value & M32
        elif offset == REG_FACT:
            if not self.status & STATUS_COMPUTING:
                self.fact = value & M32
                self.status |= STATUS_COMPUTING
                self._fact_at = self.clock.now() + FACT_TIME
                self._alarm(self._fact_at)
        elif offset == REG_STATUS:
            self.status = (self.status & ~STATUS_IRQFACT) | (value & STATUS_IRQFACT)
        elif offset == REG_IRQ_RAISE:
            self.raise_irq(value & M32)
        elif offset == REG_IRQ_ACK:
            self.lower_irq(value & M32)
        elif offset in (REG_DMA_SRC, REG_DMA_DST, REG_DMA_COUNT, REG_DMA_CMD):
            self._dma_register(offset, value)

    def _dma_register(self, offset: int, value: int) -> None:
        value &= M64
        if self.dma_cmd & DMA_RUN:
            return  # a running DMA's registers are frozen
        if offset == REG_DMA_SRC:
            self.dma_src = value
        elif offset == REG_DMA_DST:
            self.dma_dst = value
        elif offset == REG_DMA_COUNT:
            self.dma_count = value
        elif value & DMA_RUN:
            self.dma_cmd = value
            self._dma_at = self.clock.now() + DMA_TIME
            self._alarm(self._dma_at)

    def _alarm(self, when: float) -> None:
        """Complete at `when` even if nobody reads the device (its interrupt is due then)."""
        if isinstance(self.clock, VirtualClock):
            self.clock.call_at(when, self.tick)

    # -- DMA --------------------------------------------------------------------------

    def _dma_done(self) -> None:
        if not self.dma_cmd & DMA_RUN:
            return
        to_ram = bool(self.dma_cmd & DMA_TO_RAM)
        local = self.dma_src if to_ram else self.dma_dst
        count = self.dma_count
        end = local + count
        if not DMA_START <= local < end < DMA_START + DMA_SIZE:  # QEMU 7.2: end < too
            self.dma_errors += 1  # QEMU 7.2: hw_error(), QEMU aborts
            self.dma_cmd &= ~DMA_RUN
            return
        at = local - DMA_START
        if to_ram:
            self._bus_write(self.dma_dst & self.dma_mask, bytes(self.buffer[at : at + count]))
        else:
            self.buffer[at : at + count] = self._bus_read(self.dma_src & self.dma_mask, count)
        self.dma_cmd &= ~DMA_RUN
        if self.dma_cmd & DMA_IRQ_ENABLE:
            self.raise_irq(DMA_IRQ)

    def _bus_read(self, addr: int, size: int) -> bytes:
        """A bus-master read; what QEMU gets from no RAM or a disabled master: zeros."""
        try:
            return self.dma_read(addr, size)
        except DmaError:
            return bytes(size)

    def _bus_write(self, addr: int, data: bytes) -> None:
        """A bus-master write; dropped where there is no RAM or mastering is off."""
        with contextlib.suppress(DmaError):
            self.dma_write(addr, data)

    # -- interrupts -------------------------------------------------------------------

    @property
    def msi_enabled(self) -> bool:
        return bool(self.config[MSI_OFFSET + 2] & MSI_FLAGS_ENABLE)

    def on_config_write(self, offset: int, width: int, old_command: int) -> None:
        """A write into the MSI capability with MSI enabled deasserts INTx (QEMU's
        ``msi_write_config`` -> ``pci_device_deassert_intx``; PCI 3.0 6.8.3.3: MSI and
        INTx are mutually exclusive), even while the interrupt status stays set."""
        in_msi = offset < MSI_OFFSET + MSI_CAP_SIZE and offset + width > MSI_OFFSET
        if in_msi and self.msi_enabled:
            self.set_intx(False)

    def raise_irq(self, value: int) -> None:
        self.irq_status |= value
        if not self.irq_status:
            return
        if self.msi_enabled:
            self._msi_notify()
        else:
            self.set_intx(True)

    def lower_irq(self, value: int) -> None:
        self.irq_status &= ~value
        if not self.irq_status and not self.msi_enabled:
            self.set_intx(False)

    def _msi_notify(self) -> None:
        base = MSI_OFFSET
        addr = self.cfg32(base + MSI_ADDR_LO) | self.cfg32(base + MSI_ADDR_HI) << 32
        data = self.cfg16(base + MSI_DATA)
        self._bus_write(addr, data.to_bytes(4, "little"))

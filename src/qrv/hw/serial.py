"""A PCI 16550A UART: QEMU's ``pci-serial`` (1b36:0002, class 070002, one 8-byte I/O BAR).

The seed's machine has one at 00:01.0 beside its NVMe drive; the built-in board plugs
this model there.  Registers (National Semiconductor PC16550D data sheet; QEMU
hw/char/serial.c has the same reset values and rules):

====  ==========================  =========================
off   read                        write
====  ==========================  =========================
0     RBR (DLAB=1: DLL)           THR (DLAB=1: DLL)
1     IER (DLAB=1: DLM)           IER, bits 3:0 (DLAB=1: DLM)
2     IIR                         FCR
3     LCR                         LCR
4     MCR                         MCR, bits 4:0
5     LSR (reading clears OE/BI)  ignored
6     MSR                         ignored
7     SCR                         SCR
====  ==========================  =========================

A transmitted byte leaves at once (the line is infinitely fast): with MCR LOOP it is
received again, otherwise it goes to `output` (dropped when there is none, like QEMU's
device without a chardev).  :meth:`receive` puts bytes on the line from outside.  The
receiver holds one byte, or 16 with the FIFOs on; a byte arriving to a full receiver
sets Overrun and overwrites the unread byte (with the FIFOs on, it is itself lost).
IIR reports the highest-priority pending interrupt source as the data sheet orders
them; the board routes no interrupts, so software polls LSR.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from qrv.hw.pcidev import BarKind, BarSpec, PciFunction, PciIdentity
from qrv.spec.pci import (
    SUBSYSTEM_ID_QEMU,
    SUBSYSTEM_VENDOR_QEMU,
    VENDOR_REDHAT,
    ClassCode,
)

DEVICE_REDHAT_SERIAL = 0x0002
SUBCLASS_SERIAL = 0x00  # communication controller / serial
PROG_IF_16550 = 0x02
REVISION = 1  # as QEMU's pci-serial
BAR0_SIZE = 8

IDENTITY = PciIdentity(
    vendor_id=VENDOR_REDHAT,
    device_id=DEVICE_REDHAT_SERIAL,
    class_code=(ClassCode.COMMUNICATION << 16) | (SUBCLASS_SERIAL << 8) | PROG_IF_16550,
    revision=REVISION,
    subsystem_vendor_id=SUBSYSTEM_VENDOR_QEMU,
    subsystem_id=SUBSYSTEM_ID_QEMU,
)

# register offsets
RBR_THR = 0
IER = 1
IIR_FCR = 2
LCR = 3
MCR = 4
LSR = 5
MSR = 6
SCR = 7

IER_RDI, IER_THRI, IER_RLSI, IER_MSI = 0x01, 0x02, 0x04, 0x08
IER_MASK = 0x0F
IIR_NO_INT, IIR_MSI, IIR_THRI, IIR_RDI, IIR_RLSI = 0x01, 0x00, 0x02, 0x04, 0x06
IIR_FIFO_ENABLED = 0xC0
FCR_FE, FCR_CLEAR_RX, FCR_CLEAR_TX = 0x01, 0x02, 0x04
FCR_DMA_MODE = 0x08
FCR_TRIGGER_SHIFT = 6
FCR_KEPT = FCR_FE | FCR_DMA_MODE | (0b11 << FCR_TRIGGER_SHIFT)
FIFO_TRIGGER_LEVELS = (1, 4, 8, 14)
LCR_DLAB = 0x80
MCR_DTR, MCR_RTS, MCR_OUT1, MCR_OUT2, MCR_LOOP = 0x01, 0x02, 0x04, 0x08, 0x10
MCR_MASK = 0x1F
LSR_DR, LSR_OE, LSR_BI, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x10, 0x20, 0x40
LSR_ERRORS = 0x1E  # OE, PE, FE, BI
MSR_CTS, MSR_DSR, MSR_RI, MSR_DCD = 0x10, 0x20, 0x40, 0x80
MSR_DELTAS = 0x0F
FIFO_SIZE = 16
DIVISOR_9600 = 0x0C  # 115200 / 9600


class Serial16550(PciFunction):
    """QEMU's pci-serial: a 16550A behind I/O BAR0."""

    def __init__(self, output: Callable[[bytes], None] | None = None) -> None:
        super().__init__(IDENTITY, [BarSpec(0, BAR0_SIZE, BarKind.IO)])
        self.output = output
        self._lock = threading.Lock()
        self._rx: deque[int] = deque()
        self._reset_registers()

    def _reset_registers(self) -> None:
        self.ier = 0
        self.fcr = 0
        self.lcr = 0
        self.mcr = MCR_OUT2
        self.lsr = LSR_TEMT | LSR_THRE
        self.msr = MSR_DCD | MSR_DSR | MSR_CTS
        self.scr = 0
        self.divisor = DIVISOR_9600
        self.thr_pending = False  # THR empty since IIR was last read with THRI
        self._rx.clear()

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._reset_registers()

    # -- the line ---------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes arriving on the line (from outside the machine)."""
        with self._lock:
            for byte in data:
                self._receive_byte(byte)

    def _receive_byte(self, byte: int) -> None:
        if self.fcr & FCR_FE:
            if len(self._rx) >= FIFO_SIZE:
                self.lsr |= LSR_OE  # the FIFO keeps its bytes, the new one is lost
                return
        elif self._rx:
            self.lsr |= LSR_OE  # the unread byte in RBR is overwritten
            self._rx.clear()
        self._rx.append(byte)
        self.lsr |= LSR_DR

    def _transmit(self, byte: int) -> None:
        if self.mcr & MCR_LOOP:
            self._receive_byte(byte)
        elif self.output is not None:
            self.output(bytes((byte,)))
        self.lsr |= LSR_THRE | LSR_TEMT
        self.thr_pending = True

    # -- registers --------------------------------------------------------------------

    def _iir(self) -> int:
        fifo = IIR_FIFO_ENABLED if self.fcr & FCR_FE else 0
        trigger = FIFO_TRIGGER_LEVELS[self.fcr >> FCR_TRIGGER_SHIFT] if self.fcr & FCR_FE else 1
        if self.ier & IER_RLSI and self.lsr & LSR_ERRORS:
            return fifo | IIR_RLSI
        if self.ier & IER_RDI and len(self._rx) >= trigger:
            return fifo | IIR_RDI
        if self.ier & IER_THRI and self.thr_pending:
            return fifo | IIR_THRI
        if self.ier & IER_MSI and self._msr() & MSR_DELTAS:
            return fifo | IIR_MSI
        return fifo | IIR_NO_INT

    def _msr(self) -> int:
        if not self.mcr & MCR_LOOP:
            return self.msr
        # loopback: RTS -> CTS, DTR -> DSR, OUT1 -> RI, OUT2 -> DCD (16550D, MCR bit 4)
        m = self.mcr
        return (
            (MSR_CTS if m & MCR_RTS else 0)
            | (MSR_DSR if m & MCR_DTR else 0)
            | (MSR_RI if m & MCR_OUT1 else 0)
            | (MSR_DCD if m & MCR_OUT2 else 0)
        )

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        with self._lock:
            value = 0
            for i in range(width):  # wider accesses read consecutive registers
                value |= self._read(offset + i) << (8 * i)
            return value

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        with self._lock:
            for i in range(width):
                self._write(offset + i, (value >> (8 * i)) & 0xFF)

    def _read(self, reg: int) -> int:
        dlab = self.lcr & LCR_DLAB
        match reg:
            case 0 if dlab:
                return self.divisor & 0xFF
            case 0:
                byte = self._rx.popleft() if self._rx else 0
                if not self._rx:
                    self.lsr &= ~(LSR_DR | LSR_BI)
                return byte
            case 1 if dlab:
                return self.divisor >> 8
            case 1:
                return self.ier
            case 2:
                iir = self._iir()
                if iir & 0x0F == IIR_THRI:
                    self.thr_pending = False  # reading IIR with THRI acknowledges it
                return iir
            case 3:
                return self.lcr
            case 4:
                return self.mcr
            case 5:
                lsr = self.lsr
                self.lsr &= ~(LSR_OE | LSR_BI)
                return lsr
            case 6:
                return self._msr()
            case 7:
                return self.scr
        return 0xFF  # outside the 8 registers (a wide access past the end)

    def _write(self, reg: int, value: int) -> None:
        dlab = self.lcr & LCR_DLAB
        match reg:
            case 0 if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
            case 0:
                self.thr_pending = False
                self._transmit(value)
            case 1 if dlab:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
            case 1:
                changed = (self.ier ^ value) & IER_MASK
                self.ier = value & IER_MASK
                if changed & IER_THRI:  # turning THRI on with THR empty raises it
                    self.thr_pending = bool(self.ier & IER_THRI and self.lsr & LSR_THRE)
            case 2:
                self._write_fcr(value)
            case 3:
                self.lcr = value
            case 4:
                self.mcr = value & MCR_MASK
            case 7:
                self.scr = value

    def _write_fcr(self, value: int) -> None:
        if (value ^ self.fcr) & FCR_FE:
            value |= FCR_CLEAR_RX | FCR_CLEAR_TX  # changing the FIFO mode empties both
        if value & FCR_CLEAR_RX:
            self._rx.clear()
            self.lsr &= ~(LSR_DR | LSR_BI)
        if value & FCR_CLEAR_TX:
            self.lsr |= LSR_THRE  # an empty transmitter: THRE, and its interrupt
            self.thr_pending = True
        self.fcr = value & FCR_KEPT

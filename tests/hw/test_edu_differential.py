"""The edu model against QEMU 7.2's own ``-device edu``: the same register sequences
(identity, liveness, access widths, factorial by polling and by interrupt status,
interrupt raise/ack, DMA both ways, MSI) give the same values on both machines, and
the same INTx line at the interrupt controller: the board's PLIC input, QEMU's PLIC
input as qtest's ``irq_intercept_in`` shows it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from qrv.emu import EDU_DMA_MASK, BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.edu import (
    DMA_IRQ,
    DMA_IRQ_ENABLE,
    DMA_RUN,
    DMA_START,
    DMA_TO_RAM,
    FACT_IRQ,
    MSI_OFFSET,
    REG_DMA_CMD,
    REG_DMA_COUNT,
    REG_DMA_DST,
    REG_DMA_SRC,
    REG_FACT,
    REG_ID,
    REG_IRQ_ACK,
    REG_IRQ_RAISE,
    REG_IRQ_STATUS,
    REG_LIVE,
    REG_STATUS,
    STATUS_COMPUTING,
    STATUS_IRQFACT,
)
from qrv.hw.qemu import QemuMachine
from qrv.spec.pci import Cfg, Command, Status, ecam_offset
from tests.conftest import require_tool

ECAM = 0x3000_0000
SLOT = 2  # 00:01.0 is the serial port on both machines
BAR0 = 0x4000_0000
RAM = 0x8000_0000
WAIT_STEP = 0.001
WAIT_STEPS = 5000
"""A device wait polls at most this many steps (5 s of the machine's time)."""


@dataclass
class Rig:
    machine: Machine
    advance: Callable[[float], None]
    """Let `seconds` of the device's time pass (virtual clock, or the host's)."""
    level: Callable[[int], bool]
    """The interrupt controller's input `source` now (high or low)."""

    def cfg(self, off: int, width: int) -> int:
        return self.machine.bus.load(ECAM + ecam_offset(0, SLOT, 0, off), width)

    def set_cfg(self, off: int, width: int, value: int) -> None:
        self.machine.bus.store(ECAM + ecam_offset(0, SLOT, 0, off), width, value)

    def rd(self, off: int, width: int = 4) -> int:
        return self.machine.bus.load(BAR0 + off, width)

    def wr(self, off: int, value: int, width: int = 4) -> None:
        self.machine.bus.store(BAR0 + off, width, value)

    def line(self, source: int) -> bool:
        return self.level(source)

    def until(self, done: Callable[[], bool]) -> int:
        """Poll `done` (bounded); the number of polls is not compared (timing differs)."""
        for step in range(WAIT_STEPS):
            if done():
                return step
            self.advance(WAIT_STEP)
        raise AssertionError("the device did not finish within 5 s")


def builtin_rig() -> Iterator[Rig]:
    machine = BuiltinMachine(None, edu=True)
    try:
        yield Rig(machine, machine.clock.advance, lambda s: bool(machine.board.plic.level >> s & 1))
    finally:
        machine.close()


def qemu_rig() -> Iterator[Rig]:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    with QemuMachine(None, devices=[f"edu,dma_mask={EDU_DMA_MASK:#x}"], clock=True) as m:

        def level(source: int) -> bool:
            m.bus.load(ECAM, 4)  # one exchange: QEMU's IRQ lines come before its reply
            return m.interrupts.level(source)

        yield Rig(m, time.sleep, level)


def attach(rig: Rig) -> None:
    rig.set_cfg(Cfg.BAR0, 4, BAR0)
    rig.set_cfg(Cfg.COMMAND, 2, int(Command.MEMORY_SPACE | Command.BUS_MASTER))


def identity(rig: Rig) -> list[int]:
    # (the interrupt line is the board's choice: 0xff here, 0 on QEMU; firmware sets it)
    regs = [rig.cfg(off, 4) for off in range(0, 0x3C, 4) if off != Cfg.BAR0]
    regs.append(rig.cfg(Cfg.INTERRUPT_PIN, 1))
    regs += [rig.cfg(MSI_OFFSET + off, 4) for off in range(0, 16, 4)]
    rig.set_cfg(Cfg.BAR0, 4, 0xFFFF_FFFF)
    regs.append(rig.cfg(Cfg.BAR0, 4))  # the size probe
    rig.set_cfg(MSI_OFFSET + 2, 2, 0xFFFF)
    regs.append(rig.cfg(MSI_OFFSET, 4))  # which control bits are writable
    rig.set_cfg(MSI_OFFSET + 2, 2, 0)
    return regs


def registers(rig: Rig) -> list[int]:
    out = [rig.rd(REG_ID), rig.rd(REG_LIVE)]
    for value in (0x1234_5678, 0, 0xFFFF_FFFF):
        rig.wr(REG_LIVE, value)
        out.append(rig.rd(REG_LIVE))
    # widths: 1 and 2 refused, 8 below 0x80 all-ones, no register all-ones
    out += [rig.rd(REG_ID, 1), rig.rd(REG_ID, 2), rig.rd(REG_ID, 8), rig.rd(0x100), rig.rd(0x84)]
    rig.wr(REG_FACT, 7, 8)  # ignored: 8 bytes below 0x80 (no factorial starts)
    rig.wr(REG_LIVE, 7, 2)  # ignored: QEMU's memory core refuses 2-byte accesses
    out += [rig.rd(REG_LIVE), rig.rd(REG_STATUS), rig.rd(REG_FACT)]
    rig.wr(REG_DMA_SRC, 0xDEAD_BEEF)  # a 4-byte write sets the whole 64-bit register
    rig.wr(REG_DMA_DST, 0x1_2345_6789, 8)
    out += [rig.rd(REG_DMA_SRC, 8), rig.rd(REG_DMA_DST, 8), rig.rd(REG_DMA_DST)]
    rig.wr(REG_DMA_CMD, DMA_TO_RAM)  # without the start bit: ignored
    out.append(rig.rd(REG_DMA_CMD, 8))
    return out


def factorials(rig: Rig) -> list[int]:
    out = []
    for n in (0, 1, 5, 12, 13, 20):
        rig.wr(REG_FACT, n)
        rig.until(lambda: not rig.rd(REG_STATUS) & 1)
        out += [rig.rd(REG_FACT), rig.rd(REG_STATUS), rig.rd(REG_IRQ_STATUS)]
    rig.wr(REG_STATUS, 0xFFFF_FFFF)  # only 0x80 is writable
    out.append(rig.rd(REG_STATUS))
    rig.wr(REG_FACT, 6)
    rig.until(lambda: rig.rd(REG_IRQ_STATUS) != 0)
    out += [rig.rd(REG_FACT), rig.rd(REG_STATUS), rig.rd(REG_IRQ_STATUS)]
    rig.wr(REG_IRQ_ACK, 1)
    rig.wr(REG_STATUS, 0)
    out += [rig.rd(REG_STATUS), rig.rd(REG_IRQ_STATUS)]
    return out


def interrupts(rig: Rig) -> list[int]:
    out = []
    for op, value in ((REG_IRQ_RAISE, 0x1234), (REG_IRQ_RAISE, 0x8000_0001), (REG_IRQ_ACK, 0x1004)):
        rig.wr(op, value)
        out.append(rig.rd(REG_IRQ_STATUS))
    rig.wr(REG_IRQ_ACK, 0xFFFF_FFFF)
    out.append(rig.rd(REG_IRQ_STATUS))
    return out


def dma(rig: Rig) -> list[object]:
    bus = rig.machine.bus
    src, dst = RAM + 0x1000, RAM + 0x2000
    bus.write(src, bytes(range(256)) * 2)
    bus.write(dst, bytes(512))
    out: list[object] = []
    # RAM -> buffer (at 0x100 into it), then buffer -> RAM, with an interrupt each
    for s, d, n, cmd in (
        (src, DMA_START + 0x100, 300, DMA_RUN | 0x4),
        (DMA_START + 0x100 + 8, dst + 16, 200, DMA_RUN | DMA_TO_RAM | 0x4),
        (DMA_START, dst + 300, 64, DMA_RUN | DMA_TO_RAM),  # the buffer's untouched start
    ):
        rig.wr(REG_DMA_SRC, s, 8)
        rig.wr(REG_DMA_DST, d, 8)
        rig.wr(REG_DMA_COUNT, n, 8)
        rig.wr(REG_DMA_CMD, cmd, 8)
        rig.until(lambda: not rig.rd(REG_DMA_CMD) & DMA_RUN)
        out += [rig.rd(REG_DMA_CMD, 8), rig.rd(REG_IRQ_STATUS)]
        rig.wr(REG_IRQ_ACK, 0xFFFF_FFFF)
    out.append(bus.read(dst, 512))
    return out


def msi(rig: Rig) -> list[object]:
    bus = rig.machine.bus
    mailbox = RAM + 0x3000
    bus.write(mailbox, bytes(8))
    rig.set_cfg(MSI_OFFSET + 4, 4, mailbox & 0xFFFF_FFFF)
    rig.set_cfg(MSI_OFFSET + 8, 4, mailbox >> 32)
    rig.set_cfg(MSI_OFFSET + 12, 2, 0xA5C3)
    rig.set_cfg(MSI_OFFSET + 2, 2, 1)  # MSI enable
    rig.wr(REG_IRQ_RAISE, 0x10)
    out: list[object] = [bus.read(mailbox, 8), rig.rd(REG_IRQ_STATUS)]
    bus.write(mailbox, bytes(8))
    rig.wr(REG_IRQ_ACK, 0x10)  # lowering sends nothing
    out += [bus.read(mailbox, 8), rig.rd(REG_IRQ_STATUS)]
    rig.set_cfg(MSI_OFFSET + 2, 2, 0)
    return out


EDU_INTA = 34
"""The PLIC source of 00:02.0's INTA on both machines: 32 + (pin 0 + device 2) % 4."""


def intx(rig: Rig) -> list[object]:
    """INTA's level as the PLIC sees it, Status.INTERRUPT and the interrupt status after
    each step: raise/ack, the factorial's and the DMA's completion interrupts (and none
    without their enable bits), Command.INTX_DISABLE, MSI enabled while the line is high."""
    seen: list[object] = []

    def look(step: str) -> None:
        status = bool(rig.cfg(Cfg.STATUS, 2) & Status.INTERRUPT)
        seen.append((step, rig.line(EDU_INTA), status, rig.rd(REG_IRQ_STATUS)))

    look("quiet")
    rig.wr(REG_IRQ_RAISE, 0x30)
    look("raise 0x30")
    rig.wr(REG_IRQ_ACK, 0x10)
    look("ack 0x10: 0x20 left")
    rig.wr(REG_IRQ_ACK, 0x20)
    look("ack 0x20: none left")
    rig.wr(REG_FACT, 4)  # without status 0x80: no interrupt
    rig.until(lambda: not rig.rd(REG_STATUS) & STATUS_COMPUTING)
    look("factorial, no 0x80")
    rig.wr(REG_STATUS, STATUS_IRQFACT)
    rig.wr(REG_FACT, 5)
    rig.until(lambda: rig.rd(REG_IRQ_STATUS) != 0)
    look("factorial with 0x80")
    rig.wr(REG_IRQ_ACK, FACT_IRQ)
    rig.wr(REG_STATUS, 0)
    look("factorial acknowledged")
    for cmd in (DMA_RUN, DMA_RUN | DMA_IRQ_ENABLE):
        rig.wr(REG_DMA_SRC, RAM + 0x1000, 8)
        rig.wr(REG_DMA_DST, DMA_START, 8)
        rig.wr(REG_DMA_COUNT, 16, 8)
        rig.wr(REG_DMA_CMD, cmd, 8)
        rig.until(lambda: not rig.rd(REG_DMA_CMD) & DMA_RUN)
        look(f"DMA command {cmd:#x} done")
    rig.wr(REG_IRQ_ACK, DMA_IRQ)
    look("DMA acknowledged")
    command = rig.cfg(Cfg.COMMAND, 2)
    rig.set_cfg(Cfg.COMMAND, 2, command | Command.INTX_DISABLE)
    rig.wr(REG_IRQ_RAISE, 0x2)
    look("raise with INTX_DISABLE")
    rig.set_cfg(Cfg.COMMAND, 2, command)
    look("INTX_DISABLE cleared")
    rig.set_cfg(MSI_OFFSET + 2, 2, 1)  # MSI on while INTA is high
    look("MSI enabled")
    rig.wr(REG_IRQ_ACK, 0x2)
    look("acknowledged with MSI on")
    rig.set_cfg(MSI_OFFSET + 2, 2, 0)
    rig.wr(REG_IRQ_ACK, 0xFFFF_FFFF)
    look("acknowledged with MSI off")
    return seen


SEQUENCES: dict[str, Callable[[Rig], object]] = {
    "identity": identity,
    "registers": registers,
    "factorial": factorials,
    "interrupts": interrupts,
    "dma": dma,
    "msi": msi,
    "intx": intx,
}


def run_all(rig: Rig) -> dict[str, object]:
    results: dict[str, object] = {}
    for name, sequence in SEQUENCES.items():
        if name != "identity":
            attach(rig)
        results[name] = sequence(rig)
    return results


@pytest.mark.qemu
def test_the_model_answers_every_sequence_as_qemu_does() -> None:
    builtin = run_all(next(builtin_rig()))
    qemu_gen = qemu_rig()
    try:
        qemu = run_all(next(qemu_gen))
    finally:
        qemu_gen.close()
    for name in SEQUENCES:
        assert builtin[name] == qemu[name], (name, builtin[name], qemu[name])

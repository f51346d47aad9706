"""The edu model's behaviours that QEMU cannot show without aborting or racing: timing on
the board's clock, frozen DMA registers, the DMA mask, refused transfers, INTx."""

from __future__ import annotations

import pytest

from qrv.hw.clock import VirtualClock
from qrv.hw.edu import (
    DMA_IRQ,
    DMA_IRQ_ENABLE,
    DMA_RUN,
    DMA_START,
    DMA_TIME,
    DMA_TO_RAM,
    FACT_IRQ,
    FACT_TIME,
    MSI_OFFSET,
    REG_DMA_CMD,
    REG_DMA_COUNT,
    REG_DMA_DST,
    REG_DMA_SRC,
    REG_FACT,
    REG_IRQ_ACK,
    REG_IRQ_RAISE,
    REG_STATUS,
    STATUS_IRQFACT,
    Edu,
    factorial32,
)
from qrv.hw.pcidev import DmaError
from qrv.spec.pci import Cfg, Command, Status


class Ram:
    """A DMA port over 1 MiB at 0x8000_0000 (anything else is not RAM)."""

    BASE = 0x8000_0000

    def __init__(self) -> None:
        self.data = bytearray(1 << 20)
        self.writes: list[int] = []

    def _off(self, addr: int, size: int) -> int:
        if not self.BASE <= addr <= self.BASE + len(self.data) - size:
            raise DmaError(f"{addr:#x} is not RAM")
        return addr - self.BASE

    def dma_read(self, addr: int, size: int) -> bytes:
        off = self._off(addr, size)
        return bytes(self.data[off : off + size])

    def dma_write(self, addr: int, data: bytes) -> None:
        off = self._off(addr, len(data))
        self.writes.append(addr)
        self.data[off : off + len(data)] = data


def device(mask: int = (1 << 32) - 1, master: bool = True) -> tuple[Edu, VirtualClock, Ram]:
    clock, ram = VirtualClock(), Ram()
    edu = Edu(clock, dma_mask=mask)
    edu.dma = ram
    command = Command.MEMORY_SPACE | (Command.BUS_MASTER if master else 0)
    edu.config_write(Cfg.COMMAND, 2, int(command))
    return edu, clock, ram


def start_dma(edu: Edu, src: int, dst: int, count: int, cmd: int) -> None:
    for reg, value in ((REG_DMA_SRC, src), (REG_DMA_DST, dst), (REG_DMA_COUNT, count)):
        edu.bar_write(0, reg, 8, value)
    edu.bar_write(0, REG_DMA_CMD, 8, cmd)


def test_factorial_is_busy_until_its_time_and_ignores_writes_meanwhile() -> None:
    edu, clock, _ = device()
    edu.bar_write(0, REG_FACT, 4, 10)
    edu.bar_write(0, REG_FACT, 4, 3)  # busy: ignored
    assert edu.bar_read(0, REG_STATUS, 4) == 1 and edu.bar_read(0, REG_FACT, 4) == 10
    clock.advance(FACT_TIME)
    assert edu.bar_read(0, REG_STATUS, 4) == 0 and edu.bar_read(0, REG_FACT, 4) == 3628800
    assert factorial32(34) == 0 and factorial32(13) == 6227020800 % (1 << 32)


def test_a_running_dma_freezes_its_registers_and_ends_after_100_ms() -> None:
    edu, clock, ram = device()
    ram.data[0:4] = b"abcd"
    start_dma(edu, Ram.BASE, DMA_START, 4, DMA_RUN)
    edu.bar_write(0, REG_DMA_SRC, 8, 0x1234)
    edu.bar_write(0, REG_DMA_CMD, 8, DMA_RUN | DMA_TO_RAM)
    assert edu.bar_read(0, REG_DMA_SRC, 8) == Ram.BASE
    clock.advance(DMA_TIME / 2)
    assert edu.bar_read(0, REG_DMA_CMD, 8) == DMA_RUN and edu.buffer[:4] == bytes(4)
    clock.advance(DMA_TIME / 2)
    assert edu.bar_read(0, REG_DMA_CMD, 8) == 0 and edu.buffer[:4] == b"abcd"


def test_the_ram_address_is_masked_to_28_bits_by_default() -> None:
    edu, clock, ram = device(mask=(1 << 28) - 1)
    edu.buffer[:4] = b"wxyz"
    start_dma(edu, DMA_START, Ram.BASE + 16, 4, DMA_RUN | DMA_TO_RAM)
    clock.advance(DMA_TIME)
    edu.tick()
    assert ram.writes == [] and ram.data[16:20] == bytes(4)  # clamped to 0x10: no RAM there


@pytest.mark.parametrize(
    ("local", "count"),
    [(DMA_START - 1, 4), (DMA_START + 4094, 4), (DMA_START, 0), (0, 4), (DMA_START, 4096)],
)
def test_a_transfer_outside_the_buffer_is_dropped(local: int, count: int) -> None:
    edu, clock, ram = device()
    start_dma(edu, local, Ram.BASE, count, DMA_RUN | DMA_TO_RAM | 0x4)
    clock.advance(DMA_TIME)
    assert edu.bar_read(0, REG_DMA_CMD, 8) == DMA_TO_RAM | 0x4  # ended, no interrupt
    assert edu.irq_status == 0 and edu.dma_errors == 1 and ram.writes == []


def test_a_transfer_may_not_reach_the_buffers_last_byte_as_in_qemu_7_2() -> None:
    edu, clock, ram = device()
    edu.buffer[:] = bytes(range(256)) * 16
    start_dma(edu, DMA_START, Ram.BASE, 4095, DMA_RUN | DMA_TO_RAM)
    clock.advance(DMA_TIME)
    assert edu.bar_read(0, REG_DMA_CMD, 8) == DMA_TO_RAM and ram.data[:4095] == edu.buffer[:4095]
    start_dma(edu, DMA_START + 4095, Ram.BASE, 1, DMA_RUN | DMA_TO_RAM)
    clock.advance(DMA_TIME)
    edu.tick()
    assert edu.dma_errors == 1


def test_without_bus_mastering_nothing_reaches_ram() -> None:
    edu, clock, ram = device(master=False)
    edu.buffer[:4] = b"wxyz"
    start_dma(edu, DMA_START, Ram.BASE, 4, DMA_RUN | DMA_TO_RAM)
    clock.advance(DMA_TIME)
    assert edu.bar_read(0, REG_DMA_CMD, 8) == DMA_TO_RAM and ram.writes == []


def test_intx_follows_the_interrupt_status_without_msi() -> None:
    edu, _, _ = device()
    edu.bar_write(0, REG_IRQ_RAISE, 4, 0x3)
    assert edu.intx_asserted
    edu.bar_write(0, REG_IRQ_ACK, 4, 0x1)
    assert edu.intx_asserted
    edu.bar_write(0, REG_IRQ_ACK, 4, 0x2)
    assert not edu.intx_asserted


def test_completions_come_at_their_time_without_an_access() -> None:
    """The interrupt is due when the work is done, not when the driver next looks."""
    edu, clock, _ = device()
    edu.bar_write(0, REG_STATUS, 4, STATUS_IRQFACT)
    edu.bar_write(0, REG_FACT, 4, 5)
    assert clock.next_alarm() == FACT_TIME
    clock.advance_to(FACT_TIME)
    assert edu.intx_asserted and edu.irq_status == FACT_IRQ and edu.fact == 120
    edu.bar_write(0, REG_IRQ_ACK, 4, FACT_IRQ)
    start_dma(edu, Ram.BASE, DMA_START, 8, DMA_RUN | DMA_IRQ_ENABLE)
    clock.advance(DMA_TIME / 2)
    assert not edu.intx_asserted
    clock.advance(DMA_TIME / 2)
    assert edu.intx_asserted and edu.irq_status == DMA_IRQ and clock.next_alarm() is None


def test_enabling_msi_deasserts_intx_as_qemus_msi_write_config() -> None:
    edu, _, _ = device()
    edu.bar_write(0, REG_IRQ_RAISE, 4, 0x2)
    assert edu.intx_asserted
    edu.config_write(MSI_OFFSET + 2, 2, 0)  # a write into the capability, MSI still off
    assert edu.intx_asserted
    edu.config_write(MSI_OFFSET + 2, 2, 1)
    assert not edu.intx_asserted and not edu.cfg16(Cfg.STATUS) & Status.INTERRUPT
    assert edu.irq_status == 0x2  # the device's own status is untouched
    edu.bar_write(0, REG_IRQ_ACK, 4, 0x2)
    edu.config_write(MSI_OFFSET + 2, 2, 0)
    edu.bar_write(0, REG_IRQ_RAISE, 4, 0x4)
    assert edu.intx_asserted  # MSI off again: INTx as before

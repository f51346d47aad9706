"""The PCI 16550 model (qrv.hw.serial) on its own: identity, the line in both
directions, FIFOs, overrun and interrupt identification (PC16550D data sheet; the
register-by-register comparison with QEMU's pci-serial is tests/hw/test_board_vs_qemu.py)."""

from __future__ import annotations

import pytest

from qrv.hw.board import PIO_BASE, VirtBoard
from qrv.hw.serial import Serial16550
from qrv.spec.pci import Cfg, Command, ecam_offset

ECAM = 0x3000_0000
PORT = 0x1000
RBR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)


@pytest.fixture
def uart() -> tuple[Serial16550, list[bytes], VirtBoard]:
    sent: list[bytes] = []
    dev = Serial16550(output=sent.append)
    board = VirtBoard(ram_size=1 << 20)
    board.plug_pci(dev, dev=1)
    cfg = ECAM + ecam_offset(0, 1, 0)
    board.bus.store(cfg + Cfg.BAR0, 4, PORT)
    board.bus.store(cfg + Cfg.COMMAND, 2, Command.IO_SPACE)
    return dev, sent, board


def rd(board: VirtBoard, reg: int) -> int:
    return board.bus.load(PIO_BASE + PORT + reg, 1)


def wr(board: VirtBoard, reg: int, value: int) -> None:
    board.bus.store(PIO_BASE + PORT + reg, 1, value)


def test_identity() -> None:
    board = VirtBoard(ram_size=1 << 20)
    board.plug_pci(Serial16550(), dev=1)
    cfg = ECAM + ecam_offset(0, 1, 0)
    assert board.bus.load(cfg, 4) == 0x0002_1B36
    assert board.bus.load(cfg + Cfg.REVISION_ID, 4) == 0x0700_0201
    assert board.bus.load(cfg + Cfg.INTERRUPT_PIN, 1) == 1
    board.bus.store(cfg + Cfg.BAR0, 4, 0xFFFF_FFFF)
    assert board.bus.load(cfg + Cfg.BAR0, 4) == 0xFFFF_FFF9  # 8 I/O ports


def test_transmit_goes_to_the_output(uart: tuple[Serial16550, list[bytes], VirtBoard]) -> None:
    _, sent, board = uart
    for byte in b"hi\n":
        assert rd(board, LSR) & 0x20  # THR empty before each byte
        wr(board, RBR, byte)
    assert b"".join(sent) == b"hi\n"


def test_receive_and_overrun(uart: tuple[Serial16550, list[bytes], VirtBoard]) -> None:
    dev, _, board = uart
    assert rd(board, LSR) == 0x60
    dev.receive(b"a")
    assert rd(board, LSR) == 0x61 and rd(board, RBR) == ord("a") and rd(board, LSR) == 0x60
    dev.receive(b"bc")  # no FIFO: c overwrites b
    assert rd(board, LSR) == 0x63 and rd(board, LSR) == 0x61 and rd(board, RBR) == ord("c")
    wr(board, IIR, 0x01)  # FIFOs on: 16 bytes, the 17th is lost
    dev.receive(bytes(range(17)))
    assert rd(board, LSR) & 0x02
    assert bytes(rd(board, RBR) for _ in range(16)) == bytes(range(16))
    assert rd(board, LSR) == 0x60


def test_interrupt_identification_order(uart: tuple[Serial16550, list[bytes], VirtBoard]) -> None:
    """Line status before received data before THR empty before modem status."""
    dev, _, board = uart
    wr(board, IER, 0x0F)
    assert rd(board, IIR) == 0x02  # THR empty (raised by enabling it), read acknowledges
    assert rd(board, IIR) == 0x01
    dev.receive(b"xy")
    assert rd(board, IIR) == 0x06  # overrun: receiver line status
    rd(board, LSR)
    assert rd(board, IIR) == 0x04
    rd(board, RBR)
    assert rd(board, IIR) == 0x01


def test_loopback_and_reset(uart: tuple[Serial16550, list[bytes], VirtBoard]) -> None:
    dev, sent, board = uart
    wr(board, MCR, 0x13)  # loop, RTS, DTR
    assert rd(board, MSR) == 0x30  # CTS, DSR
    wr(board, RBR, 0x55)
    assert sent == [] and rd(board, RBR) == 0x55
    wr(board, LCR, 0x80)
    wr(board, RBR, 0x01)
    wr(board, IER, 0x00)
    assert (rd(board, RBR), rd(board, IER)) == (0x01, 0x00)  # 115200 baud
    wr(board, SCR, 0x77)
    dev.reset()
    assert [dev.lcr, dev.mcr, dev.scr, dev.divisor] == [0, 0x08, 0, 0x0C]


def test_wide_accesses_read_consecutive_registers(
    uart: tuple[Serial16550, list[bytes], VirtBoard],
) -> None:
    _, _, board = uart
    assert board.bus.load(PIO_BASE + PORT + 4, 4) == 0x00_B0_60_08  # SCR MSR LSR MCR

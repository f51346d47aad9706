"""QEMU's PLIC gateways over a scripted qtest peer: with posted stores, the kernel is
signalled only on the levels QEMU reports after every store sent so far (a source served
and unmasked right after the doorbell that lowered it is not taken for a new one)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from qrv.hw.qemu_irq import QemuInterrupts
from qrv.hw.qtest import QtestClient
from tests.hw.test_qtest import recv_line

LINE = 34


@pytest.fixture
def gateways() -> Iterator[tuple[QemuInterrupts, socket.socket, list[int]]]:
    ours, theirs = socket.socketpair()
    client = QtestClient(ours, timeout=2)
    threading.Thread(target=lambda: (recv_line(theirs), theirs.sendall(b"OK\n"))).start()
    irq = QemuInterrupts(client, "/machine/unattached/device[2]")
    kicks: list[int] = []
    irq.connect(lambda: kicks.append(1))
    yield irq, theirs, kicks
    irq.close()
    client.close()
    theirs.close()


def served_and_high(irq: QemuInterrupts, theirs: socket.socket) -> None:
    """Line high, claimed, completed (still high: pending again) while masked."""
    theirs.sendall(b"IRQ raise 34\n")
    irq.client.flush()
    irq.enable(LINE, True)
    deadline = time.monotonic() + 2
    while irq.level(LINE) is False and time.monotonic() < deadline:
        irq.client.wait_events(0.1)
    assert irq.claim() == LINE
    irq.enable(LINE, False)
    irq.complete(LINE)


def test_unmasking_before_the_lowering_store_is_answered_signals_nothing(
    gateways: tuple[QemuInterrupts, socket.socket, list[int]],
) -> None:
    irq, theirs, kicks = gateways
    served_and_high(irq, theirs)
    kicks.clear()
    irq.client.post_store(0x4000_1004, 4, 1)  # the CQ head doorbell: QEMU will lower
    irq.enable(LINE, True)  # the driver unmasks at once: the level seen is stale
    assert recv_line(theirs) == b"writel 0x40001004 0x1\n"
    assert kicks == [], "signalled on a level QEMU has not confirmed"
    theirs.sendall(b"IRQ lower 34\nOK\n")
    irq.client.flush()
    assert kicks == []
    assert irq.claim() == 0


def test_a_line_still_high_after_the_store_signals_once_answered(
    gateways: tuple[QemuInterrupts, socket.socket, list[int]],
) -> None:
    irq, theirs, kicks = gateways
    served_and_high(irq, theirs)
    kicks.clear()
    irq.client.post_store(0x4000_1004, 4, 0)  # a head that consumes nothing
    irq.enable(LINE, True)
    recv_line(theirs)
    assert kicks == []
    theirs.sendall(b"OK\n")  # read by the pump thread, off the kernel's path
    deadline = time.monotonic() + 2
    while not kicks and time.monotonic() < deadline:
        time.sleep(0.01)
    assert kicks, "the pump never signalled the line that stayed high"
    assert irq.claim() == LINE

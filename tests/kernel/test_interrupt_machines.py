"""The kernel's interrupt path on both machines: an NVMe admin completion's INTx reaches an
InterruptAttachEvent attachment through the board's PLIC (claimed and completed by the
kernel) or QEMU's PLIC inputs (qtest), and an MSI-X message reaches one through the
board's MSI target.  The process drives the controller through the bus directly."""

from __future__ import annotations

import errno
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.msi import IMSIC_S_BASE
from qrv.hw.nvme.pci import MSIX_TABLE_OFFSET
from qrv.kernel import Kernel, Stdio
from qrv.lib.c import interrupt as ic
from qrv.lib.c import proc
from qrv.spec.nvme import AdminOpcode, Command
from qrv.spec.pci import MSIX_ENABLE, CapId
from tests.hw.machines import KINDS, nvme_machine
from tests.hw.nvme.host import NvmeHost

pytestmark = pytest.mark.qemu

ECAM = 0x3000_0000
RAM = 0x8000_0000
NVME_INTA = 34
T = 20.0


@pytest.fixture(params=KINDS)
def machine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Machine]:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    with nvme_machine(request.param, image) as m:
        yield m


def run_on(machine: Machine, body: Callable[[], object]) -> object:
    k = Kernel(machine, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()))
    box: list[object] = []

    def main(argv: list[str]) -> int:
        box.append(body())
        return 0

    try:
        assert k.waitpid(k.spawn(main, ["isr"]), T) == 0
    finally:
        k.shutdown()
    return box[0]


def identify(h: NvmeHost) -> Command:
    return Command(AdminOpcode.IDENTIFY, prp1=h.buffer(4096), cdw10=1)


def test_an_admin_completion_interrupts_the_attached_thread(machine: Machine) -> None:
    def body() -> list[object]:
        h = NvmeHost(machine.bus, ecam_base=ECAM, dma_base=RAM, dma_size=4 << 20)
        h.setup_pci()
        h.enable()
        iid = ic.InterruptAttachEvent(NVME_INTA, ic.SIGEV_INTR_INIT())
        out: list[object] = []
        for _ in range(3):  # each one claimed, masked, completed, then unmasked again
            h.submit(0, identify(h))
            out.append(ic.InterruptWait(0, 5.0))
            h.poll(0)  # consume it and ring the CQ head doorbell: the line goes low
            out.append(ic.InterruptUnmask(NVME_INTA, iid))
        try:
            ic.InterruptWait(0, 0.05)
        except OSError as exc:
            out.append(exc.errno)
        ic.InterruptDetach(iid)
        return out

    assert run_on(machine, body) == [0, 0, 0, 0, 0, 0, errno.ETIMEDOUT]


def test_a_qemu_interrupt_reaches_a_waiting_thread_while_another_keeps_the_cpu_busy(
    tmp_path: Path,
) -> None:
    """The CPU thread never idles here (a lower-priority thread spins in kernel calls),
    so the line is read by the interrupt pump's look at the socket while the kernel is
    busy, not by the idle loop: the waiting thread still gets its interrupt at the
    spinner's next kernel call and preempts it.  (QEMU only: the built-in board's
    controller completes on its virtual clock, which reaches the deadline when idle.)"""
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    with nvme_machine("qemu", image) as machine:
        assert run_on(machine, lambda: spin_until_interrupted(machine)) == [0]


def spin_until_interrupted(machine: Machine) -> list[object]:
    """A thread of priority 20 waits for an Identify's interrupt while the caller spins
    in sched_yield (for 5 s at most): what the waiter got during the spin."""
    h = NvmeHost(machine.bus, ecam_base=ECAM, dma_base=RAM, dma_size=4 << 20)
    h.setup_pci()
    h.enable()
    got: list[object] = []
    attached: list[int] = []

    def waiter() -> None:
        proc.SchedSet(0, 0, None, 20)
        attached.append(ic.InterruptAttachEvent(NVME_INTA, ic.SIGEV_INTR_INIT()))
        got.append(ic.InterruptWait(0, 5.0))

    tid = proc.pthread_create(waiter)
    while not attached:
        proc.sched_yield()
    h.submit(0, identify(h))
    end = time.monotonic() + 5.0
    while not got and time.monotonic() < end:
        proc.sched_yield()  # a scheduling point; the CPU thread never idles
    during_spin = list(got)
    proc.pthread_join(tid, T)
    h.poll(0)
    ic.InterruptDetach(attached[0])
    return during_spin


def test_msix_reaches_the_attached_thread_on_the_builtin_board(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    builtin = BuiltinMachine(image)
    board = builtin.board

    def body() -> list[object]:
        h = NvmeHost(board.bus, ecam_base=ECAM, dma_base=RAM, dma_size=4 << 20)
        h.setup_pci()
        cap = builtin.controllers[0].capability(CapId.MSIX)
        assert cap is not None
        h.write64(MSIX_TABLE_OFFSET, IMSIC_S_BASE)
        h.write32(MSIX_TABLE_OFFSET + 8, 9)
        h.write32(MSIX_TABLE_OFFSET + 12, 0)
        h.cfg_write(cap.offset + 2, MSIX_ENABLE, 2)
        h.enable()
        iid = ic.InterruptAttachEvent(ic.msi_intr(9), ic.SIGEV_INTR_INIT())
        out: list[object] = []
        for _ in range(2):
            h.submit(0, identify(h))
            out.append(ic.InterruptWait(0, 5.0))
            h.poll(0)
            out.append(ic.InterruptUnmask(ic.msi_intr(9), iid))
        out.append(board.plic.level >> NVME_INTA & 1)
        return out

    try:
        assert run_on(board, body) == [0, 0, 0, 0, 0]
    finally:
        builtin.close()

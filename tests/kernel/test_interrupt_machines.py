"""The kernel's interrupt path on both machines: an NVMe admin completion's INTx reaches an
InterruptAttachEvent attachment through the board's PLIC (claimed and completed by the
kernel) or QEMU's PLIC inputs (qtest), and an MSI-X message reaches one through the
board's MSI target; edu's INTx runs an InterruptAttach handler that acknowledges the
device through the process's mapping.  The process drives the controller through the
bus directly (NVMe) or its mappings (edu)."""

from __future__ import annotations

import errno
import io
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.edu import REG_IRQ_ACK, REG_IRQ_RAISE, REG_IRQ_STATUS
from qrv.hw.msi import IMSIC_S_BASE
from qrv.hw.nvme.pci import MSIX_TABLE_OFFSET
from qrv.kernel import Kernel, Stdio
from qrv.lib.c import interrupt as ic
from qrv.lib.c import proc
from qrv.lib.c.mman import mmap_phys
from qrv.spec.interrupt import SigEvent
from qrv.spec.nvme import AdminOpcode
from qrv.spec.nvme import Command as NvmeCommand
from qrv.spec.pci import MSIX_ENABLE, CapId, Cfg, Command, ecam_offset
from tests.hw.machines import KINDS, edu_machine, nvme_machine
from tests.hw.nvme.host import NvmeHost

pytestmark = pytest.mark.qemu

ECAM = 0x3000_0000
RAM = 0x8000_0000
NVME_INTA = 34
EDU_SLOT = 2  # after the serial port: INTA is source 32 + (1 - 1 + 2) % 4 (the swizzle)
EDU_INTA = 34
EDU_BAR0 = 0x4000_0000
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


def identify(h: NvmeHost) -> NvmeCommand:
    return NvmeCommand(AdminOpcode.IDENTIFY, prp1=h.buffer(4096), cdw10=1)


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


@pytest.fixture(params=KINDS)
def edu(request: pytest.FixtureRequest) -> Iterator[Machine]:
    with edu_machine(request.param) as m:
        yield m


def test_an_edu_interrupt_runs_the_handler_which_acks_the_device(edu: Machine) -> None:
    def body() -> list[object]:
        cfg = mmap_phys(ECAM + ecam_offset(0, EDU_SLOT, 0, 0), 4096)
        cfg.write32(Cfg.BAR0, EDU_BAR0)
        cfg.write16(Cfg.COMMAND, int(Command.MEMORY_SPACE))
        regs = mmap_phys(EDU_BAR0, 4096)
        regs.write32(REG_IRQ_ACK, 0xFFFF_FFFF)
        seen: list[int] = []

        def handler(area: list[int], iid: int) -> SigEvent | None:
            status = regs.read32(REG_IRQ_STATUS)
            regs.write32(REG_IRQ_ACK, status)  # the device is quiet: its line drops
            area.append(status)
            return ic.SIGEV_INTR_INIT() if status & 1 else None

        iid = ic.InterruptAttach(EDU_INTA, handler, seen)
        out: list[object] = []
        for bits in (0x5, 0x30, 0x9):  # 0x30: the handler returns None
            regs.write32(REG_IRQ_RAISE, bits)
            try:
                out.append(ic.InterruptWait(0, 2.0 if bits & 1 else 0.2))
            except OSError as exc:
                out.append(exc.errno)
        out += [seen, regs.read32(REG_IRQ_STATUS)]
        ic.InterruptDetach(iid)
        return out

    assert run_on(edu, body) == [0, errno.ETIMEDOUT, 0, [0x5, 0x30, 0x9], 0]

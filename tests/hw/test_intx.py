"""NVMe INTx on both machines (NVMe 1.4 §7.5.1): an admin completion raises the PLIC source
of 00:02.0's INTA (34: 32 + (pin 0 + device 2) % 4), INTMS masks it, INTMC unmasks it,
Command.INTX_DISABLE silences the pin (Status.INTERRUPT still shows the request), and
consuming the completion and ringing the CQ head doorbell lowers it.  On QEMU the level is
what its PLIC input line does, seen through qtest's ``irq_intercept_in``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qrv.hw.board import VirtBoard
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.spec.nvme import AdminOpcode, Command, Reg
from qrv.spec.pci import Cfg, Status
from qrv.spec.pci import Command as PciCommand
from tests.hw.machines import KINDS, nvme_machine
from tests.hw.nvme.host import NvmeHost

pytestmark = pytest.mark.qemu

ECAM = 0x3000_0000
RAM = 0x8000_0000
DMA_SIZE = 4 << 20
NVME_INTA = 34


@pytest.fixture(scope="module", params=KINDS)
def machine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Machine]:
    image = tmp_path_factory.mktemp("intx") / "disk.img"
    image.write_bytes(bytes(1 << 20))
    with nvme_machine(request.param, image) as m:
        yield m


def line(machine: Machine, source: int) -> bool:
    """The PLIC input `source`'s level now."""
    if isinstance(machine, VirtBoard):
        return bool(machine.plic.level >> source & 1)
    assert isinstance(machine, QemuMachine)
    machine.bus.load(ECAM, 4)  # one exchange: QEMU's event lines come before its reply
    return machine.interrupts.level(source)


def host(machine: Machine) -> NvmeHost:
    h = NvmeHost(machine.bus, ecam_base=ECAM, dma_base=RAM, dma_size=DMA_SIZE)
    h.setup_pci()
    h.enable()
    return h


def identify(h: NvmeHost) -> Command:
    buf = h.buffer(4096)
    return Command(AdminOpcode.IDENTIFY, prp1=buf, cdw10=1)


def status_interrupt(h: NvmeHost) -> bool:
    return bool(h.cfg_read(Cfg.STATUS, 2) & Status.INTERRUPT)


def test_a_completion_raises_intms_masks_and_the_head_doorbell_lowers(machine: Machine) -> None:
    h = host(machine)
    assert not line(machine, NVME_INTA)
    h.submit(0, identify(h))
    h.poll(0, ack=False)
    seen = [line(machine, NVME_INTA), status_interrupt(h)]
    h.write32(Reg.INTMS, 1)
    seen += [line(machine, NVME_INTA), status_interrupt(h)]
    h.write32(Reg.INTMC, 1)
    seen += [line(machine, NVME_INTA)]
    h.ack(0)
    seen += [line(machine, NVME_INTA), status_interrupt(h)]
    assert seen == [True, True, False, False, True, False, False]


def test_intx_disable_silences_the_pin_but_not_the_status(machine: Machine) -> None:
    h = host(machine)
    h.submit(0, identify(h))
    h.poll(0, ack=False)
    cmd = h.cfg_read(Cfg.COMMAND, 2)
    h.cfg_write(Cfg.COMMAND, cmd | PciCommand.INTX_DISABLE, 2)
    seen = [line(machine, NVME_INTA), status_interrupt(h)]
    h.cfg_write(Cfg.COMMAND, cmd, 2)
    seen.append(line(machine, NVME_INTA))
    h.ack(0)
    seen.append(line(machine, NVME_INTA))
    assert seen == [False, True, True, False]


def test_two_completions_keep_the_line_until_both_are_consumed(machine: Machine) -> None:
    h = host(machine)
    h.submit(0, identify(h))
    h.poll(0, ack=False)
    h.submit(0, identify(h))
    h.poll(0, ack=False)
    q = h.queues[0]
    h.ack(0, (q.cq_head - 1) % q.cq_size)  # one of the two consumed
    seen = [line(machine, NVME_INTA)]
    h.ack(0)
    seen.append(line(machine, NVME_INTA))
    assert seen == [True, False]

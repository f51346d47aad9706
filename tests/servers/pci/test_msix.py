"""MSI-X through pci-server (QNX 8.0 names): an owner enables the NVMe function's MSI-X,
the server programs its table for the board's MSI target, read_irq answers the vectors,
entries mask and unmask, a detach gives everything back; an interrupt then reaches a
thread attached to a vector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.msi import IMSIC_S_BASE
from qrv.kernel import Kernel
from qrv.lib import pci
from qrv.lib.c import interrupt as ic
from qrv.spec.interrupt import msi_intr
from qrv.spec.nvme import AdminOpcode, Command
from qrv.spec.pci import MSIX_ENABLE, CapId, Cfg
from qrv.spec.pci import Command as PciCommand
from qrv.spec.pci_msg import PciErr
from tests.hw.nvme.host import NvmeHost
from tests.servers.pci.pcibus import running

NVME = pci.PCI_BDF(0, 2, 0)
NVME_INTA = 34
OWNER = pci.pci_attachFlags_OWNER


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[BuiltinMachine, Kernel]]:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    builtin = BuiltinMachine(image)
    try:
        with running(builtin.board) as (kernel, _pid, _out):
            yield builtin, kernel
    finally:
        builtin.close()


def msix_cap(bdf: int = NVME) -> pci.PciCap:
    idx = pci.pci_device_find_capid(bdf, CapId.MSIX)
    err, cap = pci.pci_device_read_cap(bdf, idx)
    assert err is PciErr.OK and cap is not None
    return cap


def entry(builtin: BuiltinMachine, vector: int, field: int) -> int:
    value = builtin.controllers[0].msix_table.load(16 * vector + field, 4)
    assert value is not None
    return value


def test_enable_programs_the_table_and_read_irq_answers_the_vectors(system) -> None:  # type: ignore[no-untyped-def]
    builtin, kernel = system
    ctrl = builtin.controllers[0]
    with kernel.adopt("driver"):
        hdl, _err = pci.pci_device_attach(NVME, OWNER)
        assert hdl is not None
        assert pci.pci_device_read_irq(hdl) == (PciErr.OK, [NVME_INTA])
        cap = msix_cap()
        assert pci.cap_msix_get_nirq(cap) == ctrl.params.msix_vectors
        assert pci.cap_msix_set_nirq(NVME, cap, 0) is PciErr.CAP_NIRQ
        assert pci.cap_msix_set_nirq(NVME, cap, 2) is PciErr.OK
        assert pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap) is PciErr.OK
        assert cap.irqs == [msi_intr(1), msi_intr(2)]
        assert pci.pci_device_read_irq(hdl) == (PciErr.OK, cap.irqs)
        assert ctrl.cfg16(cap.offset + 2) & MSIX_ENABLE
        assert ctrl.cfg16(Cfg.COMMAND) & PciCommand.INTX_DISABLE
        assert [entry(builtin, v, 0) for v in (0, 1)] == [IMSIC_S_BASE] * 2
        assert [entry(builtin, v, 8) for v in (0, 1)] == [1, 2]
        assert [entry(builtin, v, 12) for v in (0, 1, 2)] == [0, 0, 1]
        again = pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap)
        assert again is PciErr.MSIX_ENABLED
        assert pci.cap_msix_mask_irq_entry(hdl, cap, 1) is PciErr.OK
        assert entry(builtin, 1, 12) == 1
        assert pci.cap_msix_unmask_irq_entry(hdl, cap, 1) is PciErr.OK
        assert pci.cap_msix_mask_irq_entry(hdl, cap, 5) is PciErr.EINVAL  # not enabled
        assert pci.pci_device_cfg_cap_disable(hdl, pci.pci_reqType_e_MANDATORY, cap) is PciErr.OK
        assert pci.pci_device_read_irq(hdl) == (PciErr.OK, [NVME_INTA])
        assert not ctrl.cfg16(cap.offset + 2) & MSIX_ENABLE
        assert not ctrl.cfg16(Cfg.COMMAND) & PciCommand.INTX_DISABLE
        assert entry(builtin, 0, 12) == 1
        pci.pci_device_detach(hdl)


def test_owners_only_and_a_detach_gives_the_vectors_back(system) -> None:  # type: ignore[no-untyped-def]
    builtin, kernel = system
    with kernel.adopt("driver"):
        shared, _ = pci.pci_device_attach(NVME, pci.pci_attachFlags_e_SHARED)
        assert shared is not None
        cap = msix_cap()
        refused = pci.pci_device_cfg_cap_enable(shared, pci.pci_reqType_e_MANDATORY, cap)
        assert refused is PciErr.NOT_OWNER
        serial = msix_cap_or_none(pci.PCI_BDF(0, 1, 0))
        assert serial is None  # the 16550 has no MSI-X
        hdl, _ = pci.pci_device_attach(NVME, OWNER)
        assert hdl is not None
        assert pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap) is PciErr.OK
        first = list(cap.irqs)
        pci.pci_device_detach(hdl)
        assert not builtin.controllers[0].cfg16(cap.offset + 2) & MSIX_ENABLE
        hdl, _ = pci.pci_device_attach(NVME, OWNER)
        assert hdl is not None
        assert pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap) is PciErr.OK
        assert cap.irqs == first  # the identities came back
        pci.pci_device_detach(hdl)
        pci.pci_device_detach(shared)


def msix_cap_or_none(bdf: int) -> pci.PciCap | None:
    idx = pci.pci_device_find_capid(bdf, CapId.MSIX)
    return None if idx < 0 else pci.pci_device_read_cap(bdf, idx)[1]


def test_a_vector_wakes_the_attached_thread(system) -> None:  # type: ignore[no-untyped-def]
    builtin, kernel = system

    def driver(argv: list[str]) -> int:
        hdl, _ = pci.pci_device_attach(NVME, OWNER | pci.PCI_MASTER_ENABLE)
        assert hdl is not None
        cap = msix_cap()
        assert pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap) is PciErr.OK
        _, bas = pci.pci_device_read_ba(hdl)
        h = NvmeHost(
            builtin.board.bus,
            ecam_base=0x3000_0000,
            dma_base=0x8800_0000,
            dma_size=1 << 20,
            bar0=bas[0].addr,
        )
        h.enable()
        iid = ic.InterruptAttachEvent(cap.irqs[0], ic.SIGEV_INTR_INIT())
        h.submit(0, Command(AdminOpcode.IDENTIFY, prp1=h.buffer(4096), cdw10=1))
        ic.InterruptWait(0, 5.0)
        h.poll(0)
        ic.InterruptUnmask(cap.irqs[0], iid)
        return 0 if builtin.board.plic.level == 0 else 1

    pid = kernel.spawn(driver, ["driver"])
    assert kernel.waitpid(pid, 20) == 0


def test_a_legacy_attach_with_use_msix_gets_every_vector(system) -> None:  # type: ignore[no-untyped-def]
    builtin, kernel = system
    vectors = builtin.controllers[0].params.msix_vectors
    with kernel.adopt("driver"):
        flags = pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE | pci.PCI_INIT_IRQ | pci.PCI_USE_MSIX
        hdl, _err = pci.pci_device_attach(NVME, flags)
        assert hdl is not None
        err, irqs = pci.pci_device_read_irq(hdl)
        assert err is PciErr.OK and irqs == [msi_intr(i) for i in range(1, vectors + 1)]
        pci.pci_device_detach(hdl)
        hdl, _err = pci.pci_device_attach(NVME, pci.PCI_INIT_IRQ)
        assert hdl is not None
        assert pci.pci_device_read_irq(hdl) == (PciErr.OK, [NVME_INTA])

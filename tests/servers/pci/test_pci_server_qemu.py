"""pci-server and libpci on QEMU's real riscv64 virt machine (qtest), as on the built-in board.

Expected values from the reference README (QEMU 7.2 driven over qtest), on the seed's
bus: the serial port (pci-serial, 1b36:0002) at 00:01.0, NVMe at 00:02.0, 1b36:0010
class 010802, BAR0 a 64-bit 16 KiB memory BAR, CAP = 0x004018200f0107ff; INTA of slot 2
is PLIC source 0x22 (QEMU's interrupt-map).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qrv.hw.qemu import QemuMachine
from qrv.lib import pci
from qrv.userland.lspci import main as lspci
from tests.conftest import require_tool
from tests.servers.pci.pcibus import running

pytestmark = pytest.mark.qemu

QEMU_NVME_CAP = 0x0040_1820_0F01_07FF


def test_enumerate_attach_and_list_on_qemu(tmp_path: Path) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = tmp_path / "nvme.img"
    image.write_bytes(bytes(1 << 20))
    with QemuMachine(image, ram_size=64 << 20) as machine:
        with running(machine) as (kernel, _pid, out), kernel.adopt("drv"):
            bdf = pci.pci_device_find(0, pci.PCI_VID_ANY, pci.PCI_DID_ANY, pci.PCI_CCODE(1, 8, 2))
            assert bdf == pci.PCI_BDF(0, 2, 0)  # behind the seed's serial port at 00:01.0
            assert pci.pci_device_read_vid(bdf) == (pci.PCI_ERR_OK, 0x1B36)
            assert pci.pci_device_read_did(bdf) == (pci.PCI_ERR_OK, 0x0010)
            hdl, err = pci.pci_device_attach(bdf, pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE)
            assert hdl is not None, err
            err, bas = pci.pci_device_read_ba(hdl)
            bar0 = next(b for b in bas if b.bar_num == 0)
            assert (bar0.size, bar0.is_64bit, bar0.enabled) == (0x4000, True, True)
            assert machine.bus.load(bar0.addr, 8) == QEMU_NVME_CAP
            assert pci.pci_device_read_irq(hdl) == (pci.PCI_ERR_OK, [0x22])  # slot 2 INTA
            assert pci.pci_device_find_capid(bdf, 0x11) >= 0  # MSI-X
            start = len(out.getvalue())
            pid = kernel.spawn(lspci, ["lspci", "-n"])
            assert kernel.waitpid(pid, timeout=30) == 0
            listing = out.getvalue()[start:].decode().splitlines()
        assert listing[:3] == [
            "00:00.0 0600: 1b36:0008",
            "00:01.0 0700: 1b36:0002 (rev 01)",
            "00:02.0 0108: 1b36:0010 (rev 02)",
        ]


def test_qemu_without_nvme_has_the_host_bridge_and_serial_port() -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    with (
        QemuMachine(None, ram_size=64 << 20) as machine,
        running(machine, ["pci-server", "-v"]) as (kernel, _pid, out),
        kernel.adopt("drv"),
    ):
        assert list(pci.find_all()) == [pci.PCI_BDF(0, 0, 0), pci.PCI_BDF(0, 1, 0)]
    assert b"2 function(s)" in out.getvalue()


def _enable_msix(machine: QemuMachine) -> tuple[pci.pci_err_t, list[int], int]:
    """Attach the NVMe function and enable MSI-X with 2 vectors: (err, vectors, table addr)."""
    with running(machine) as (kernel, _pid, _out), kernel.adopt("drv"):
        bdf = pci.PCI_BDF(0, 2, 0)
        hdl, _err = pci.pci_device_attach(bdf, pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE)
        assert hdl is not None
        err, cap = pci.pci_device_read_cap(bdf, pci.pci_device_find_capid(bdf, 0x11))
        assert cap is not None
        assert pci.cap_msix_set_nirq(bdf, cap, 2) == pci.PCI_ERR_OK
        err = pci.pci_device_cfg_cap_enable(hdl, pci.pci_reqType_e_MANDATORY, cap)
        _, bas = pci.pci_device_read_ba(hdl)
        table = next(b for b in bas if b.bar_num == 0).addr + 0x2000  # QEMU's table offset
        irqs = pci.pci_device_read_irq(hdl)[1]
        pci.pci_device_detach(hdl)
        return err, irqs, table


def test_msix_needs_an_msi_controller_on_qemu(tmp_path: Path) -> None:
    """Plain virt has no MSI target: IRQ_NOT_AVAIL, INTx stays.  With aia=aplic-imsic the
    server programs QEMU's table for the S-mode IMSIC (whose delivery qtest cannot see)."""
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = tmp_path / "nvme.img"
    image.write_bytes(bytes(1 << 20))
    with QemuMachine(image, ram_size=64 << 20) as machine:
        err, irqs, _table = _enable_msix(machine)
        assert (err, irqs) == (pci.PCI_ERR_IRQ_NOT_AVAIL, [0x22])
    aia = ["-machine", "aia=aplic-imsic"]
    with QemuMachine(image, ram_size=64 << 20, extra_args=aia) as machine:
        err, irqs, table = _enable_msix(machine)
        assert (err, irqs) == (pci.PCI_ERR_OK, [0x101, 0x102])
        entries = [machine.bus.load(table + 16 * v + f, 4) for v in (0, 1) for f in (0, 8)]
        assert entries == [0x2800_0000, 1, 0x2800_0000, 2]

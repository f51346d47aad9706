"""MSI-X on the built-in board (PCI 3.0 6.8.2, NVMe 1.4 §7.5.2): a completion on a CQ with
IEN sends the table entry's data to its address (the board's MSI target), a masked vector
(function mask or per-vector mask) sets its Pending Bit instead and fires when unmasked,
and INTx stays quiet while MSI-X is enabled."""

from __future__ import annotations

from pathlib import Path

from qrv.emu import BuiltinMachine
from qrv.hw.msi import IMSIC_S_BASE
from qrv.hw.nvme.pci import MSIX_PBA_OFFSET, MSIX_TABLE_OFFSET
from qrv.spec.nvme import AdminOpcode, Command, Completion
from qrv.spec.pci import MSIX_ENABLE, MSIX_FUNCTION_MASK, CapId
from tests.hw.nvme.host import NvmeHost

ECAM = 0x3000_0000
RAM = 0x8000_0000
NVME_INTA = 34
EIID = 7


def rig(tmp_path: Path) -> tuple[BuiltinMachine, NvmeHost, int]:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    m = BuiltinMachine(image)
    h = NvmeHost(m.board.bus, ecam_base=ECAM, dma_base=RAM, dma_size=4 << 20)
    h.setup_pci()
    cap = m.controllers[0].capability(CapId.MSIX)
    assert cap is not None
    h.write64(MSIX_TABLE_OFFSET, IMSIC_S_BASE)
    h.write32(MSIX_TABLE_OFFSET + 8, EIID)
    h.write32(MSIX_TABLE_OFFSET + 12, 0)  # vector 0 unmasked
    h.cfg_write(cap.offset + 2, MSIX_ENABLE, 2)
    h.enable()
    m.board.msi.set_enabled(EIID, True)
    return m, h, cap.offset


def identify(h: NvmeHost) -> Completion:
    return h.admin(Command(AdminOpcode.IDENTIFY, prp1=h.buffer(4096), cdw10=1))


def test_a_completion_sends_its_vector_to_the_msi_target(tmp_path: Path) -> None:
    m, h, _ = rig(tmp_path)
    try:
        identify(h)
        assert m.board.msi.claim() == EIID
        assert m.board.msi.claim() == 0
        assert not m.board.plic.level >> NVME_INTA & 1  # INTx stays low with MSI-X
    finally:
        m.close()


def test_masked_vectors_pend_and_fire_on_unmask(tmp_path: Path) -> None:
    m, h, cap = rig(tmp_path)
    try:
        h.write32(MSIX_TABLE_OFFSET + 12, 1)  # per-vector mask
        identify(h)
        seen = [m.board.msi.pending >> EIID & 1, h.read32(MSIX_PBA_OFFSET) & 1]
        h.write32(MSIX_TABLE_OFFSET + 12, 0)
        seen += [m.board.msi.claim(), h.read32(MSIX_PBA_OFFSET) & 1]
        h.cfg_write(cap + 2, MSIX_ENABLE | MSIX_FUNCTION_MASK, 2)  # function mask
        identify(h)
        seen += [m.board.msi.pending >> EIID & 1, h.read32(MSIX_PBA_OFFSET) & 1]
        h.cfg_write(cap + 2, MSIX_ENABLE, 2)
        seen += [m.board.msi.claim(), h.read32(MSIX_PBA_OFFSET) & 1]
        assert seen == [0, 1, EIID, 0, 0, 1, EIID, 0]
    finally:
        m.close()

"""Registers, PCI identity and the enable/disable/shutdown state machine (NVMe 1.4 §3.1,
§7.6), checked through the bus only.  Reference values: NVMe 1.4 and QEMU 7.2's device."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from qrv.hw.nvme import Faults, Namespace
from qrv.spec.nvme import AdminOpcode, Cap, CapField, Cc, Command, Csts, FeatureId, Reg, Shn
from qrv.spec.pci import CapId, Cfg
from tests.hw.nvme.conftest import Rig, file_bytes
from tests.hw.nvme.host import HostError

QEMU_CAP = 0x004018200F0107FF  # observed on QEMU 7.2 (reference/README.md)
QEMU_VS = 0x00010400


def test_pci_identity_matches_qemu(rig: Rig) -> None:
    h = rig.host
    assert h.cfg_read(Cfg.VENDOR_ID, 2) == 0x1B36
    assert h.cfg_read(Cfg.DEVICE_ID, 2) == 0x0010
    assert h.cfg_read(Cfg.REVISION_ID, 4) >> 8 == 0x010802
    assert h.cfg_read(Cfg.REVISION_ID, 1) == 2


def test_bar0_sizes_like_qemu(rig_factory: Callable[..., Rig]) -> None:
    h = rig_factory().host
    h.cfg_write(Cfg.BAR0, 0xFFFF_FFFF)
    assert h.cfg_read(Cfg.BAR0) == 0xFFFF_C004  # QEMU 7.2: 64-bit, 16 KiB


def test_capabilities_msix_in_bar0(rig: Rig) -> None:
    h = rig.host
    found = {}
    ptr = h.cfg_read(Cfg.CAPABILITIES_PTR, 1)
    while ptr:
        found[h.cfg_read(ptr, 1)] = ptr
        ptr = h.cfg_read(ptr + 1, 1)
    assert set(found) == {CapId.POWER_MANAGEMENT, CapId.PCI_EXPRESS, CapId.MSIX}
    pm = found[CapId.POWER_MANAGEMENT]
    assert h.cfg_read(pm + 2, 2) & 0b111 == 0b011  # PM spec 1.2 (PMC version field)
    h.cfg_write(pm + 4, 0b11, 2)  # PMCSR: D3hot
    assert h.cfg_read(pm + 4, 2) & 0b11 == 0b11
    msix = found[CapId.MSIX]
    vectors = (h.cfg_read(msix + 2, 2) & 0x7FF) + 1
    table, pba = h.cfg_read(msix + 4), h.cfg_read(msix + 8)
    assert table & 7 == 0 and pba & 7 == 0  # BIR 0
    table_off, pba_off = table & ~7, pba & ~7
    assert table_off >= 0x1000 and table_off + 16 * vectors <= pba_off
    assert pba_off + ((vectors + 63) // 64) * 8 <= 0x4000
    # every vector starts masked (PCI 3.0 6.8.2.9) and the table is writable
    assert h.read32(table_off + 12) & 1 == 1
    h.write32(table_off + 16, 0xFEE0_1000)
    assert h.read32(table_off + 16) == 0xFEE0_1000
    assert h.read64(pba_off) == 0


def test_cap_and_vs(rig: Rig) -> None:
    h = rig.host
    cap = h.read64(Reg.CAP)
    css = CapField.CSS.mask
    assert cap & ~css == QEMU_CAP & ~css  # MQES, CQR, TO, DSTRD, MPSMIN/MAX as QEMU
    assert Cap.decode(cap).css & 1  # NVM command set
    assert h.read32(Reg.CAP) | h.read32(Reg.CAP + 4) << 32 == cap
    assert h.read32(Reg.VS) == QEMU_VS
    assert h.bus.load(h.bar0 + Reg.VS + 2, 2) == 0x0001  # MJR by a 16-bit read


def test_reserved_bits_and_read_only_registers(rig: Rig) -> None:
    h = rig.host
    h.write32(Reg.AQA, 0xFFFF_FFFF)
    assert h.read32(Reg.AQA) == 0x0FFF_0FFF
    h.write64(Reg.ASQ, 0x8000_1FFF)
    assert h.read64(Reg.ASQ) == 0x8000_1000
    h.write32(Reg.CC, 0xFF00_0000 | (6 << 16))  # reserved bits 31:24 and EN=0
    assert h.read32(Reg.CC) == 6 << 16
    h.write32(Reg.CSTS, 0xFFFF_FFFF)
    assert h.read32(Reg.CSTS) == 0
    before = h.read64(Reg.CAP)
    h.write64(Reg.CAP, 0)
    h.write32(Reg.VS, 0)
    assert h.read64(Reg.CAP) == before and h.read32(Reg.VS) == QEMU_VS
    for off in (0x20, 0x38, 0x3C, 0x50, 0xE00, 0xF00):
        h.write32(off, 0xFFFF_FFFF)
        assert h.read32(off) == 0


def test_enable_disable(rig: Rig) -> None:
    h = rig.host
    assert h.csts() == 0
    assert h.enable() & Csts.RDY
    h.write32(Reg.CC, h.read32(Reg.CC) & ~1)
    assert h.csts() & Csts.RDY == 0
    # after the reset the admin queue is gone: a doorbell is ignored, nothing completes
    h.queues.clear()
    h.configure()
    h.submit(0, bytes(64))
    with pytest.raises(HostError):
        h.poll(0, timeout=0.05)


@pytest.mark.parametrize(
    "cc",
    [
        Cc(en=True, mps=5, iosqes=6, iocqes=4),  # MPS above MPSMAX
        Cc(en=True, css=1, iosqes=6, iocqes=4),  # reserved CSS
        Cc(en=True, css=7, iosqes=6, iocqes=4),  # admin-only not in CAP.CSS
        Cc(en=True, ams=1, iosqes=6, iocqes=4),  # WRR not in CAP.AMS
        Cc(en=True, iosqes=0, iocqes=4),
        Cc(en=True, iosqes=6, iocqes=5),
    ],
)
def test_invalid_configuration_sets_cfs(rig: Rig, cc: Cc) -> None:
    h = rig.host
    csts = h.enable(cc=cc, wait=False)
    assert csts & Csts.CFS and not csts & Csts.RDY
    h.disable()  # a reset clears the fatal status
    assert h.csts() == 0
    assert h.enable() == Csts.RDY


def test_admin_queue_one_entry_or_misaligned_is_fatal(rig: Rig) -> None:
    h = rig.host
    h.disable()
    h.configure()
    h.write32(Reg.AQA, 0)  # one-entry admin queues
    h.write32(Reg.CC, Cc(en=True, iosqes=6, iocqes=4).encode())
    assert h.csts() & Csts.CFS
    h.disable()
    h.configure()
    h.write64(Reg.ASQ, h.read64(Reg.ASQ) + 0x1000)  # 4 KiB but not 8 KiB aligned
    h.write32(Reg.CC, Cc(en=True, mps=1, iosqes=6, iocqes=4).encode())
    assert h.csts() & Csts.CFS


def test_shutdown_sets_shst_and_flushes(ready: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    h = ready.host
    for shn in (Shn.NORMAL, Shn.ABRUPT):
        cc = h.read32(Reg.CC)
        h.write32(Reg.CC, replace(Cc.decode(cc), shn=shn).encode())
        assert Csts(h.read32(Reg.CSTS)) & (Csts.SHST_COMPLETE | Csts.SHST_OCCURRING) == (
            Csts.SHST_COMPLETE
        )
        assert synced  # the namespace was made durable before SHST reported complete
        synced.clear()
        h.write32(Reg.CC, cc)  # SHN back to 0
        assert h.csts() & Csts.SHST_COMPLETE == 0
    h.disable()
    assert h.csts() == 0


def test_ready_delay_within_timeout(rig_factory: Callable[..., Rig]) -> None:
    r = rig_factory(ready_delay=0.15)
    h = r.host
    h.setup_pci()
    start = time.monotonic()
    assert h.enable(wait=False) & Csts.RDY == 0
    h.wait_csts(Csts.RDY, Csts.RDY)
    elapsed = time.monotonic() - start
    assert 0.15 <= elapsed < h.cap.timeout_ms / 1000


def test_fault_never_ready(rig_factory: Callable[..., Rig]) -> None:
    r = rig_factory(faults=Faults(never_ready=True))
    r.host.setup_pci()
    r.host.enable(wait=False)
    with pytest.raises(HostError):
        r.host.wait_csts(Csts.RDY, Csts.RDY, timeout=0.05)


def test_fault_fatal_and_wrong_cid(ready: Rig) -> None:
    h = ready.host
    ready.ctrl.faults.wrong_cid = 1
    cid = h.submit(0, Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES))
    assert h.poll(0).cid != cid
    ready.ctrl.faults.fatal = True
    assert h.csts() & Csts.CFS


def test_namespace_image_not_modified_when_read_only(image: Path) -> None:
    before = file_bytes(image, 0, 4096)
    ns = Namespace(image, read_only=True)
    ns.close()
    assert file_bytes(image, 0, 4096) == before


def test_msix_table_accesses_straddling_its_end_change_nothing(rig: Rig) -> None:
    h = rig.host
    msix = rig.ctrl.capability(CapId.MSIX)
    assert msix is not None
    vectors = (h.cfg_read(msix.offset + 2, 2) & 0x7FF) + 1
    table_off = h.cfg_read(msix.offset + 4) & ~7
    end = table_off + 16 * vectors
    last_entry = [h.read32(end - 16 + i) for i in range(0, 16, 4)]
    for offset in (end - 4, end - 3, end - 1):  # each store reaches past the table's end
        h.write64(offset, 0x1122_3344_5566_7788)
    assert h.read32(end) == 0 and h.read64(end - 4) == 0  # nothing was stored beyond the end
    assert [h.read32(end - 16 + i) for i in range(0, 16, 4)] == last_entry
    assert len(rig.ctrl.msix_table) == 16 * vectors

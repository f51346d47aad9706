"""NVM commands and PRP handling through the bus (NVMe 1.4 §4.3, §6)."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable

import pytest

from qrv.hw.nvme import Namespace
from qrv.spec.nvme import Command, NvmOpcode
from tests.hw.nvme.conftest import IMAGE_SIZE, RAM_BASE, Rig, file_bytes
from tests.hw.nvme.test_admin import INVALID_FIELD, INVALID_NS, INVALID_OPCODE, OK, status

LBA_OUT_OF_RANGE = (0, 0x80, True)
DATA_TRANSFER = (0, 0x04, False)
PRP_OFFSET = (0, 0x13, True)
WRITE_PROTECTED = (0, 0x20, True)
COMPARE_FAILURE = (2, 0x85, True)
NLBA = IMAGE_SIZE // 512
PAGE = 4096


def sector(lba: int) -> bytes:
    """What conftest.make_image put in LBA `lba`."""
    return f"LBA{lba:08d}".encode().ljust(512, b".")


def io(r: Rig, opc: int, **fields: int) -> tuple[int, int, bool]:
    return status(r.host.command(1, Command(opc, **fields)))


def test_read_matches_image(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(3 * 512)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 100, 3, buf, 3 * 512)) == OK
    assert h.bus.read(buf, 3 * 512) == sector(100) + sector(101) + sector(102)
    assert status(h.rw(NvmOpcode.READ, 1, 1, NLBA - 1, 1, buf, 512)) == OK


def test_write_flush_reaches_file(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(2 * PAGE)
    payload = os.urandom(2 * PAGE)
    h.bus.write(buf, payload)
    assert status(h.rw(NvmOpcode.WRITE, 1, 1, 64, 16, buf, 2 * PAGE)) == OK
    assert io(ready, NvmOpcode.FLUSH, nsid=1) == OK
    assert file_bytes(ready.image, 64 * 512, 2 * PAGE) == payload
    back = h.buffer(2 * PAGE)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 64, 16, back, 2 * PAGE)) == OK
    assert h.bus.read(back, 2 * PAGE) == payload
    assert io(ready, NvmOpcode.FLUSH, nsid=0xFFFF_FFFF) == OK  # broadcast (VWC bits 2:1)


def test_lba_range_and_namespace_checks(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(PAGE)
    assert status(h.rw(NvmOpcode.READ, 1, 1, NLBA, 1, buf, 512)) == LBA_OUT_OF_RANGE
    assert status(h.rw(NvmOpcode.READ, 1, 1, NLBA - 1, 2, buf, 1024)) == LBA_OUT_OF_RANGE
    assert status(h.rw(NvmOpcode.WRITE, 1, 1, 1 << 40, 1, buf, 512)) == LBA_OUT_OF_RANGE
    assert status(h.rw(NvmOpcode.READ, 1, 0, 0, 1, buf, 512)) == INVALID_NS
    assert status(h.rw(NvmOpcode.READ, 1, 257, 0, 1, buf, 512)) == INVALID_NS
    assert status(h.rw(NvmOpcode.READ, 1, 2, 0, 1, buf, 512)) == INVALID_FIELD  # inactive
    assert status(h.rw(NvmOpcode.READ, 1, 0xFFFF_FFFF, 0, 1, buf, 512)) == INVALID_FIELD
    assert io(ready, 0x7F, nsid=1) == INVALID_OPCODE
    assert io(ready, NvmOpcode.WRITE_UNCORRECTABLE, nsid=1) == INVALID_OPCODE
    assert io(ready, NvmOpcode.READ, nsid=1, flags=0xC0) == INVALID_FIELD  # PSDT 11b


def test_mdts(ready: Rig) -> None:
    h = ready.host
    limit = (1 << 7) * PAGE  # MDTS 7 in units of the CAP.MPSMIN page
    buf = h.buffer(limit + PAGE)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 0, limit // 512, buf, limit)) == OK
    assert h.bus.read(buf + limit - 512, 512) == sector(limit // 512 - 1)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 0, limit // 512 + 1, buf, limit + 512)) == (
        INVALID_FIELD
    )


def test_prp_list_scattered_and_chained(ready: Rig) -> None:
    """Data in non-adjacent pages; the list starts 3 entries before its page ends, so it
    chains (the last entry points to the next list page, NVMe 1.4 Figure 112)."""
    h = ready.host
    pages = [h.buffer(2 * PAGE) + PAGE for _ in range(9)]  # every other page
    first = pages[0] + 0x200  # PRP1 with an offset
    list_page = h.buffer(PAGE)
    nlb = (9 * PAGE - 0x200) // 512
    prp1, prp2 = h.prp_pair([first, *pages[1:]], list_addr=list_page + PAGE - 24)
    cmd = Command(NvmOpcode.READ, nsid=1, prp1=prp1, prp2=prp2, cdw10=8, cdw12=nlb - 1)
    assert status(h.command(1, cmd)) == OK
    got = h.bus.read(first, PAGE - 0x200) + b"".join(h.bus.read(p, PAGE) for p in pages[1:])
    want = b"".join(sector(8 + i) for i in range(nlb))
    assert got == want


def test_prp_errors(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(4 * PAGE)
    read2 = {"nsid": 1, "cdw12": 15}  # 8 KiB: PRP1 + PRP2 as a data pointer
    assert io(ready, NvmOpcode.READ, prp1=buf, prp2=buf + PAGE + 8, **read2) == PRP_OFFSET
    read3 = {"nsid": 1, "cdw12": 23}  # 12 KiB: PRP2 is a list pointer
    assert io(ready, NvmOpcode.READ, prp1=buf, prp2=buf + PAGE + 4, **read3) == PRP_OFFSET
    lst = h.buffer(PAGE)
    h.bus.write(lst, struct.pack("<2Q", buf + PAGE, buf + 2 * PAGE + 0x100))
    assert io(ready, NvmOpcode.READ, prp1=buf, prp2=lst, **read3) == PRP_OFFSET
    assert io(ready, NvmOpcode.READ, prp1=buf, prp2=0x1000, **read3) == DATA_TRANSFER
    assert io(ready, NvmOpcode.READ, prp1=0x1000, nsid=1) == DATA_TRANSFER
    h.bus.write(lst, struct.pack("<2Q", buf + PAGE, RAM_BASE - PAGE))
    assert io(ready, NvmOpcode.WRITE, prp1=buf, prp2=lst, **read3) == DATA_TRANSFER


def test_write_zeroes_compare_and_deallocate(ready: Rig) -> None:
    h = ready.host
    assert io(ready, NvmOpcode.WRITE_ZEROES, nsid=1, cdw10=10, cdw12=1) == OK
    assert file_bytes(ready.image, 10 * 512, 1024) == bytes(1024)
    assert file_bytes(ready.image, 12 * 512, 512) == sector(12)
    assert io(ready, NvmOpcode.WRITE_ZEROES, nsid=1, cdw10=NLBA - 1, cdw12=1) == (LBA_OUT_OF_RANGE)
    buf = h.buffer(PAGE)
    h.bus.write(buf, sector(12))
    assert status(h.rw(NvmOpcode.COMPARE, 1, 1, 12, 1, buf, 512)) == OK
    assert status(h.rw(NvmOpcode.COMPARE, 1, 1, 13, 1, buf, 512)) == COMPARE_FAILURE
    ranges = h.buffer(PAGE)
    h.bus.write(ranges, struct.pack("<IIQ", 0, 2, 20) + struct.pack("<IIQ", 0, 1, 30))
    assert io(ready, NvmOpcode.DATASET_MANAGEMENT, nsid=1, prp1=ranges, cdw10=1, cdw11=4) == OK
    assert file_bytes(ready.image, 20 * 512, 1024) == bytes(1024)
    assert file_bytes(ready.image, 30 * 512, 512) == bytes(512)
    assert file_bytes(ready.image, 31 * 512, 512) == sector(31)
    h.bus.write(ranges, struct.pack("<IIQ", 0, 2, NLBA - 1))
    assert io(ready, NvmOpcode.DATASET_MANAGEMENT, nsid=1, prp1=ranges, cdw11=4) == (
        LBA_OUT_OF_RANGE
    )


def test_read_only_image_is_never_modified(rig_factory: Callable[..., Rig]) -> None:
    img = rig_factory().image
    digest, mtime = hashlib.sha256(img.read_bytes()).digest(), img.stat().st_mtime_ns
    r = rig_factory(namespaces=[Namespace(img, read_only=True)])
    h = r.host
    h.setup_pci()
    h.enable()
    h.create_io_queues(1)
    buf = h.buffer(PAGE)
    h.bus.write(buf, b"x" * PAGE)
    assert status(h.rw(NvmOpcode.WRITE, 1, 1, 0, 8, buf, PAGE)) == WRITE_PROTECTED
    assert io(r, NvmOpcode.WRITE_ZEROES, nsid=1, cdw12=7) == WRITE_PROTECTED
    assert io(r, NvmOpcode.DATASET_MANAGEMENT, nsid=1, prp1=buf, cdw11=4) in (
        WRITE_PROTECTED,
        LBA_OUT_OF_RANGE,
    )
    assert io(r, NvmOpcode.FLUSH, nsid=1) == OK
    assert status(h.rw(NvmOpcode.READ, 1, 1, 5, 1, buf, 512)) == OK
    assert h.bus.read(buf, 512) == sector(5)
    h.disable()
    r.ctrl.close()
    assert hashlib.sha256(img.read_bytes()).digest() == digest
    assert img.stat().st_mtime_ns == mtime


def test_namespaces_over_file_ranges_and_4k(rig_factory: Callable[..., Rig]) -> None:
    img = rig_factory().image
    half = IMAGE_SIZE // 2
    r = rig_factory(
        namespaces=[Namespace(img, size=half), Namespace(img, offset=half, lba_size=4096)]
    )
    h = r.host
    h.setup_pci()
    h.enable()
    h.create_io_queues(1)
    buf = h.buffer(PAGE)
    assert status(h.rw(NvmOpcode.READ, 1, 2, 1, 1, buf, PAGE)) == OK
    assert h.bus.read(buf, 512) == sector((half + PAGE) // 512)
    assert status(h.rw(NvmOpcode.READ, 1, 2, half // PAGE, 1, buf, PAGE)) == LBA_OUT_OF_RANGE
    h.bus.write(buf, b"\xab" * PAGE)
    assert status(h.rw(NvmOpcode.WRITE, 1, 2, 0, 1, buf, PAGE)) == OK
    assert status(h.rw(NvmOpcode.READ, 1, 1, half // 512 - 1, 1, buf, 512)) == OK
    assert h.bus.read(buf, 512) == sector(half // 512 - 1)  # ns 1 ends before ns 2
    assert io(r, NvmOpcode.FLUSH, nsid=2) == OK
    assert file_bytes(img, half, PAGE) == b"\xab" * PAGE


def test_write_cache_disabled_syncs_each_write(ready: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    h = ready.host
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    buf = h.buffer(PAGE)
    assert status(h.rw(NvmOpcode.WRITE, 1, 1, 0, 1, buf, 512)) == OK
    assert not synced  # volatile write cache on: durable only at Flush
    set_vwc_off = Command(0x09, cdw10=0x06, cdw11=0)
    assert status(h.admin(set_vwc_off)) == OK
    synced.clear()
    assert status(h.rw(NvmOpcode.WRITE, 1, 1, 0, 1, buf, 512)) == OK
    assert synced
    synced.clear()
    fua = Command(NvmOpcode.WRITE, nsid=1, prp1=buf, cdw12=1 << 30)
    assert status(h.admin(Command(0x09, cdw10=0x06, cdw11=1))) == OK
    synced.clear()
    assert status(h.command(1, fua)) == OK
    assert synced


def test_bus_master_off_is_fatal(ready: Rig) -> None:
    h = ready.host
    h.cfg_write(0x04, 0x2, 2)  # memory decode only
    h.submit(1, Command(NvmOpcode.FLUSH, nsid=1))
    assert h.csts() & 0x2  # CFS: the SQE could not be fetched

"""Byte-exact Read and Write data across PRP boundaries, on every machine's DMA path.

The same bus-only host (tests/hw/nvme/host.py) moves data of many sizes at many offsets
inside a page (PRP1 only, PRP1 + PRP2, a PRP list) through the built-in model (RAM a
region of the board's address space) and QEMU's NVMe device with its RAM shared with
qrv (plain memory) and without (every DMA buffer access a qtest round trip).  What is
read must be the medium's bytes exactly, with the bytes around the buffer untouched;
what is written must read back and reach the image."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qrv.hw.bus import PhysicalBus
from qrv.hw.qemu import RAM_BASE, QemuMachine
from qrv.spec.nvme import Command, MediaStatus, NvmOpcode
from tests.conftest import require_tool
from tests.hw.nvme.conftest import IMAGE_SIZE, build_rig, file_bytes, make_image
from tests.hw.nvme.host import NvmeHost, expect_ok

PAGE = 4096
LBA = 512
QEMU_ECAM = 0x3000_0000
DMA_SIZE = 8 << 20
MAX_BLOCKS = 264  # 132 KiB: up to 34 pages, a PRP list of 33 entries
GUARD = 0xEE
SIZES_BLOCKS = (1, 7, 8, 9, 16, 17, 64, MAX_BLOCKS)
OFFSETS = (0, 4, 2052, PAGE - 4)  # PRP1 is dword aligned (NVMe 1.4 §4.3)
MACHINES = ("builtin", "qemu-shared", "qemu-qtest")


@dataclass
class Setup:
    host: NvmeHost
    image: Path
    read_buf: int
    write_buf: int
    span: int


def _host(bus: PhysicalBus) -> NvmeHost:
    host = NvmeHost(bus, ecam_base=QEMU_ECAM, dma_base=RAM_BASE, dma_size=DMA_SIZE)
    host.setup_pci()
    host.enable()
    host.create_io_queues(1, sq_size=8, cq_size=8)
    return host


@pytest.fixture(scope="module", params=MACHINES)
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Setup]:
    image = make_image(tmp_path_factory.mktemp("prp") / "nvme.img")
    span = MAX_BLOCKS * LBA + 2 * PAGE  # the largest transfer at the largest offset, + guards
    if request.param == "builtin":
        rig = build_rig(image)
        host = _host(rig.space)
        yield Setup(host, image, host.buffer(span), host.buffer(span), span)
        rig.ctrl.close()
        return
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    shared = request.param == "qemu-shared"
    with QemuMachine(image, read_only=False, shared_ram=shared) as machine:
        assert machine.shared_ram is shared
        host = _host(machine.bus)
        yield Setup(host, image, host.buffer(span), host.buffer(span), span)


def _read(s: Setup, slba: int, nlb: int, offset: int) -> bytes:
    """Read into the read buffer at `offset` (the rest guard bytes): the data, with the
    guards checked."""
    s.host.bus.write(s.read_buf, bytes([GUARD]) * s.span)
    cqe = s.host.rw(NvmOpcode.READ, 1, 1, slba, nlb, s.read_buf + offset, nlb * LBA)
    expect_ok(cqe, f"Read {nlb} blocks at buffer offset {offset}")
    raw = s.host.bus.read(s.read_buf, s.span)
    end = offset + nlb * LBA
    assert raw[:offset] == bytes([GUARD]) * offset, "bytes before the buffer changed"
    assert raw[end:] == bytes([GUARD]) * (s.span - end), "bytes after the buffer changed"
    return raw[offset:end]


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("nlb", SIZES_BLOCKS)
def test_read_is_the_image_bytes(setup: Setup, nlb: int, offset: int) -> None:
    slba = (nlb * 37 + offset) % (IMAGE_SIZE // LBA - MAX_BLOCKS)
    assert _read(setup, slba, nlb, offset) == file_bytes(setup.image, slba * LBA, nlb * LBA)


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("nlb", SIZES_BLOCKS)
def test_write_reads_back_and_reaches_the_image(setup: Setup, nlb: int, offset: int) -> None:
    slba = IMAGE_SIZE // LBA - MAX_BLOCKS - nlb - offset // 4 % 64
    data = os.urandom(nlb * LBA)
    setup.host.bus.write(setup.write_buf + offset, data)
    cqe = setup.host.rw(NvmOpcode.WRITE, 1, 1, slba, nlb, setup.write_buf + offset, len(data))
    expect_ok(cqe, f"Write {nlb} blocks from buffer offset {offset}")
    assert _read(setup, slba, nlb, (offset + 512) % PAGE) == data
    expect_ok(setup.host.command(1, Command(NvmOpcode.FLUSH, nsid=1)), "Flush")
    assert file_bytes(setup.image, slba * LBA, len(data)) == data


def test_scattered_pages_with_and_without_cached_lines(setup: Setup) -> None:
    """A PRP list of pages out of order (one segment per page): data written (into the
    write cache where there is one) reads back across the pages, before and after Flush
    (the built-in model then reads the medium straight into the pages)."""
    host, nlb = setup.host, 6 * PAGE // LBA
    pages = [setup.write_buf + i * PAGE for i in (4, 1, 5, 0, 3, 2)]
    slba = IMAGE_SIZE // LBA - 2 * MAX_BLOCKS
    data = os.urandom(nlb * LBA)
    for i, page in enumerate(pages):
        host.bus.write(page, data[i * PAGE : (i + 1) * PAGE])
    prp1, prp2 = host.prp_pair(pages)
    write = Command(NvmOpcode.WRITE, nsid=1, prp1=prp1, prp2=prp2, cdw10=slba, cdw12=nlb - 1)
    expect_ok(host.command(1, write), "Write to scattered pages")
    for flushed in (False, True):
        for page in pages:
            host.bus.write(page, bytes([GUARD]) * PAGE)
        read = write._replace(opc=NvmOpcode.READ)
        expect_ok(host.command(1, read), f"Read into scattered pages (flushed: {flushed})")
        assert b"".join(host.bus.read(page, PAGE) for page in pages) == data
        expect_ok(host.command(1, Command(NvmOpcode.FLUSH, nsid=1)), "Flush")
    assert file_bytes(setup.image, slba * LBA, len(data)) == data


@pytest.mark.parametrize("scattered", [False, True])
def test_a_shrunken_image_is_an_unrecovered_read_error(tmp_path: Path, scattered: bool) -> None:
    """The medium read in place comes up short (the file shrank under the model): Unrecovered
    Read Error (SCT 2h, SC 81h), whatever the host memory looks like."""
    image = make_image(tmp_path / "nvme.img")
    rig = build_rig(image)
    try:
        host = _host(rig.space)
        os.truncate(image, IMAGE_SIZE - 4 * LBA)
        buf = host.buffer(3 * PAGE)
        pages = [buf + 2 * PAGE, buf] if scattered else [buf, buf + PAGE]
        prp1, prp2 = host.prp_pair(pages)
        slba = IMAGE_SIZE // LBA - 16
        cmd = Command(NvmOpcode.READ, nsid=1, prp1=prp1, prp2=prp2, cdw10=slba, cdw12=15)
        status = host.command(1, cmd).status_field
        assert (status.sct, status.sc) == (2, MediaStatus.UNRECOVERED_READ_ERROR)
        good = host.command(1, cmd._replace(cdw10=0)).status_field
        assert good.ok
        assert host.bus.read(pages[0], LBA) == file_bytes(image, 0, LBA)
    finally:
        rig.ctrl.close()

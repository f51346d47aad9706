"""The seed's boot, end to end on QEMU's riscv64 virt with QEMU's NVMe device (issue 7).

The same in-process stack as test_nvme_boot.py (kernel, pci-server, devb-nvme,
sh), with :class:`qrv.hw.qemu.QemuMachine` underneath.  Expected values come
from the seed's release notes, from the image file itself (os.pread), and
from QEMU: its ``--version`` (the Identify firmware string: QEMU 7.2's
hw/nvme/ctrl.c fills FR with QEMU_VERSION), and its own monitor's ``info
pci`` (vendor/device ids, BAR0 size) on the same command line; never from
the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qrv.hw.qemu import QemuMachine
from qrv.tools.mkgpt import create_seed_image, write_gpt
from tests.conftest import require_tool
from tests.system.stack import SEED_BOOT_LINES, SEED_LS, Stack, booted

pytestmark = pytest.mark.qemu

QEMU = "qemu-system-riscv64"
QEMU_PACKAGE = "qemu-system-misc"
MiB = 1 << 20
KiB = 1 << 10
SECTOR = 512
T = 60  # seconds for a subprocess

# The seed's partitions (release notes): first LBA, LBA count.
P1 = (34, 32768)
P2 = (32802, 32768)
# QEMU hw/riscv/virt.c virt_memmap[VIRT_PCIE_MMIO]: the 32-bit PCI memory window,
# where pci-server places the first (and only) BAR.
VIRT_PCIE_MMIO = 0x4000_0000
# QEMU's PCI IDs (include/hw/pci/pci.h): Red Hat, gpex host bridge, NVMe.
QEMU_BUS = [
    "00:00.0 0600: 1b36:0008",
    "00:01.0 0700: 1b36:0002 (rev 01)",  # the seed's -device pci-serial
    "00:02.0 0108: 1b36:0010 (rev 02)",  # hw/nvme/ctrl.c: revision 2
]
FOUR_K = ("logical_block_size=4096", "physical_block_size=4096")


def image_bytes(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as f:
        return os.pread(f.fileno(), size, offset)


def qemu_version(binary: str) -> str:
    """`QEMU emulator version 7.2.22 (Debian ...)` -> ``7.2.22``."""
    out = subprocess.run([binary, "--version"], capture_output=True, check=True, timeout=T)
    m = re.search(r"version (\S+)", out.stdout.decode())
    assert m, out.stdout
    return m.group(1)


@dataclass(frozen=True)
class InfoPciDevice:
    bus: int
    dev: int
    func: int
    ids: str  # "vvvv:dddd"
    bar_sizes: dict[int, int]


def qemu_info_pci(binary: str, image: Path) -> list[InfoPciDevice]:
    """QEMU's own view of the bus: its monitor's ``info pci``, same devices as QemuMachine.

    No firmware has run, so BARs are unassigned: QEMU prints ``at ADDR [END]`` with
    ADDR all-ones and END = ADDR + size - 1 (modulo 2^64)."""
    args = [binary, "-machine", "virt", "-m", "256M", "-bios", "none", "-S"]
    args += ["-display", "none", "-serial", "none", "-monitor", "stdio"]
    args += ["-device", "pci-serial"]  # the seed's emu.sh, as QemuMachine
    args += ["-drive", f"file={image},if=none,format=raw,id=nvm0,readonly=on"]
    args += ["-device", "nvme,drive=nvm0,serial=qrv-test"]
    out = subprocess.run(
        args, input=b"info pci\nquit\n", capture_output=True, check=True, timeout=T
    ).stdout.decode(errors="replace")
    devices: list[InfoPciDevice] = []
    for block in re.split(r"Bus\s+(?=\d+, device)", out)[1:]:
        loc = re.match(r"(\d+), device\s+(\d+), function (\d+)", block)
        ids = re.search(r"PCI device ([0-9a-f]{4}:[0-9a-f]{4})", block)
        assert loc and ids, block
        bars = {
            int(n): (int(end, 16) - int(addr, 16) + 1) % (1 << 64)
            for n, addr, end in re.findall(
                r"BAR(\d+): .*? at (0x[0-9a-f]+) \[(0x[0-9a-f]+)\]", block
            )
        }
        bus, dev, func = (int(g) for g in loc.groups())
        devices.append(InfoPciDevice(bus, dev, func, ids.group(1), bars))
    return devices


def size_suffix(size: int) -> str:
    """lspci -v's size notation (pciutils): the largest unit that divides exactly."""
    for unit, suffix in ((1 << 30, "G"), (MiB, "M"), (KiB, "K")):
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


@pytest.fixture(scope="module")
def qemu() -> str:
    return require_tool(QEMU, QEMU_PACKAGE)


@pytest.fixture(scope="module")
def seed_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed's 64 MiB image, both partitions filled with random bytes."""
    path = tmp_path_factory.mktemp("qemu-boot") / "nvme.img"
    create_seed_image(path)
    with path.open("r+b") as f:
        for first, count in (P1, P2):
            os.pwrite(f.fileno(), os.urandom(count * SECTOR), first * SECTOR)
    return path


@pytest.fixture(scope="module")
def stack(qemu: str, seed_image: Path) -> Iterator[Stack]:
    """One QEMU boot shared by the read-only checks of this module."""
    with booted(QemuMachine(seed_image)) as st:
        yield st


def test_boot_prints_the_seed_lines_with_qemus_identify(qemu: str, stack: Stack) -> None:
    log = stack.log.splitlines()
    start = log.index(SEED_BOOT_LINES[0])
    assert log[start : start + 4] == SEED_BOOT_LINES
    assert "  Model:    QEMU NVMe Ctrl" in log
    fr_len = 8  # Identify Controller FR is 8 bytes (NVMe 1.4 5.15.2.2), QEMU_VERSION cut to fit
    assert f"  Firmware: {qemu_version(qemu)[:fr_len]}" in log
    assert "Traceback" not in stack.log
    assert stack.driver_status() is None  # resident


def test_ls_dev_gives_the_seed_listing(stack: Stack) -> None:
    status, out, _ = stack.sh("ls -l /dev")
    assert status == 0
    assert [line for line in out.decode().splitlines() if "nvme" in line] == SEED_LS


def test_lspci_shows_qemus_bus(qemu: str, seed_image: Path, stack: Stack) -> None:
    reference = qemu_info_pci(qemu, seed_image)
    assert [(d.bus, d.dev, d.func, d.ids) for d in reference] == [
        (0, 0, 0, "1b36:0008"),
        (0, 1, 0, "1b36:0002"),
        (0, 2, 0, "1b36:0010"),
    ]
    status, out, _ = stack.sh("lspci -n")
    assert status == 0
    assert out.decode().splitlines() == QEMU_BUS

    status, out, _ = stack.sh("lspci -nv")
    assert status == 0
    text = out.decode()
    bar0 = reference[2].bar_sizes[0]
    assert bar0 == 16 * KiB  # QEMU 7.2: registers, doorbells, MSI-X table and PBA
    expected = (
        f"\tMemory at {VIRT_PCIE_MMIO:08x} (64-bit, non-prefetchable) [size={size_suffix(bar0)}]"
    )
    blocks = text.split("\n\n")
    nvme_block = blocks[2].splitlines()
    assert nvme_block[0].startswith(QEMU_BUS[2] + " (prog-if 02")
    assert expected in nvme_block
    serial_block = blocks[1].splitlines()
    assert serial_block[0].startswith(QEMU_BUS[1])
    assert reference[1].bar_sizes == {0: 8}  # the 16550's eight I/O ports
    assert any(line.startswith("\tI/O ports at ") and "[size=8]" in line for line in serial_block)
    # the host bridge has no BARs in QEMU's view, nor in lspci's
    assert reference[0].bar_sizes == {}
    assert "Memory at" not in text.split("\n\n")[0]


@pytest.mark.parametrize(("node", "part"), [("nvme0n1p1", P1), ("nvme0n1p2", P2)])
def test_every_partition_byte_is_the_images(
    seed_image: Path, stack: Stack, node: str, part: tuple[int, int]
) -> None:
    first, count = part
    status, out, _ = stack.sh(f"cat /dev/{node}")
    assert status == 0
    assert len(out) == count * SECTOR
    assert out == image_bytes(seed_image, first * SECTOR, count * SECTOR)


def test_unaligned_reads_and_reads_at_a_partition_end_are_clipped(
    seed_image: Path, stack: Stack
) -> None:
    p1_base = P1[0] * SECTOR
    status, out, _ = stack.sh("dd if=/dev/nvme0n1p1 bs=1000 skip=16777")
    assert status == 0
    assert len(out) == 216  # 16 MiB = 16777 * 1000 + 216
    assert out == image_bytes(seed_image, p1_base + 16777 * 1000, 216)
    status, out, _ = stack.sh("dd if=/dev/nvme0n1p1 bs=512 skip=32768 count=4")
    assert (status, out) == (0, b"")  # at the end: EOF, nothing from p2
    status, out, _ = stack.sh("dd if=/dev/nvme0n1p2 bs=3000 skip=7 count=5")
    assert status == 0
    assert out == image_bytes(seed_image, P2[0] * SECTOR + 7 * 3000, 5 * 3000)


def test_boot_does_not_modify_the_image(qemu: str, tmp_path: Path) -> None:
    img = tmp_path / "nvme.img"
    create_seed_image(img)
    with img.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(4 * MiB), P1[0] * SECTOR)
    os.utime(img, ns=(1_000_000_000, 1_000_000_000))  # an mtime any write would change
    before = hashlib.sha256(img.read_bytes()).hexdigest()
    with booted(QemuMachine(img)) as st:
        status, out, _ = st.sh("cat /dev/nvme0n1")
        assert status == 0 and hashlib.sha256(out).hexdigest() == before
    assert hashlib.sha256(img.read_bytes()).hexdigest() == before
    assert img.stat().st_mtime_ns == 1_000_000_000


def test_4096_byte_lba_namespace(qemu: str, tmp_path: Path) -> None:
    img = tmp_path / "4k.img"
    write_gpt(img, [4, 4], lba_size=4096, size_bytes=16 * MiB)
    table = subprocess.run(
        [sys.executable, "-m", "qrv", "gpt", "--json", str(img)],
        capture_output=True,
        check=True,
        timeout=T,
    ).stdout
    parts = json.loads(table)["partitions"]
    with img.open("r+b") as f:
        for part in parts:
            nbytes = (part["end_lba"] - part["start_lba"] + 1) * 4096
            os.pwrite(f.fileno(), os.urandom(nbytes), part["start_lba"] * 4096)
    with booted(QemuMachine(img, nvme_options=FOUR_K)) as st:
        assert "nvme: ns 1  size=4096 LBAs  lba=4096 B  capacity=16 MiB" in st.log
        assert "ready (3 path(s), first NS 16 MiB 4096 B/LBA)" in st.log
        for i, part in enumerate(parts, start=1):
            size = (part["end_lba"] - part["start_lba"] + 1) * 4096
            status, out, _ = st.sh(f"cat /dev/nvme0n1p{i}")
            assert status == 0
            assert out == image_bytes(img, part["start_lba"] * 4096, size)
        # a read not aligned to the 4 KiB LBA: the driver's span covers two LBAs
        status, out, _ = st.sh("dd if=/dev/nvme0n1p2 bs=1000 skip=3 count=9")
        assert status == 0
        assert out == image_bytes(img, parts[1]["start_lba"] * 4096 + 3000, 9000)


def test_the_readme_command_boots_like_the_seed(qemu: str, tmp_path: Path) -> None:
    """`qrv emu --nvme --machine qemu` creates nvme.img on first use, prints the seed's lines."""
    r = subprocess.run(
        [sys.executable, "-m", "qrv", "emu", "--nvme", "--machine", "qemu", "-c", "ls -l /dev"],
        cwd=tmp_path,
        capture_output=True,
        timeout=T,
        check=False,
    )
    assert r.returncode == 0, r.stderr.decode()
    log = r.stderr.decode().splitlines()
    assert "created nvme.img" in log[0]
    start = log.index(SEED_BOOT_LINES[0])
    assert log[start : start + 4] == SEED_BOOT_LINES
    assert "  Model:    QEMU NVMe Ctrl" in log
    assert [line for line in r.stdout.decode().splitlines() if "nvme" in line] == SEED_LS
    assert (tmp_path / "nvme.img").stat().st_size == 64 * MiB

"""The seed's boot, end to end on the built-in board (issue 6).

Expected values come from the seed's release notes and from the image file
itself, read with os.pread: never from the code under test.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qrv.emu import NVME_SLOT, BuiltinMachine
from qrv.hw.nvme import NvmeController
from qrv.lib.c.posix import close, devctl, open
from qrv.spec.blk import DCMD_BLK_GEOMETRY, BlkGeometry
from qrv.spec.iomsg import O_RDONLY, O_RDWR, O_WRONLY
from qrv.tools.mkgpt import create_seed_image, write_gpt
from tests.system.stack import SEED_BOOT_LINES, SEED_LS, booted

MiB = 1 << 20


def image_bytes(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as f:
        return os.pread(f.fileno(), size, offset)


@pytest.fixture
def seed_image(tmp_path: Path) -> Path:
    path = tmp_path / "nvme.img"
    create_seed_image(path)
    # a recognisable pattern in p2, as the seed planted one in LBA 0
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(16 * MiB), 32802 * 512)
    return path


def test_the_readme_command_boots_like_the_seed(tmp_path: Path) -> None:
    """`qrv emu --nvme` creates nvme.img on first use and prints the seed's lines."""
    r = subprocess.run(
        [sys.executable, "-m", "qrv", "emu", "--nvme", "-c", "ls -l /dev"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stderr.decode()
    log = r.stderr.decode().splitlines()
    assert "created nvme.img" in log[0]
    start = log.index(SEED_BOOT_LINES[0])
    assert log[start : start + 4] == SEED_BOOT_LINES
    for phase in ("controller at 00:02.0 BAR0", "controller enabled (CSTS.RDY=1)", "nvme: ns 1"):
        assert any(phase in line for line in log[:start]), phase
    listing = r.stdout.decode().splitlines()
    assert [line for line in listing if "nvme" in line] == SEED_LS
    assert any(line.endswith(" pci") for line in listing)
    assert (tmp_path / "nvme.img").stat().st_size == 64 * MiB


def test_boot_does_not_modify_the_image(seed_image: Path) -> None:
    before = seed_image.read_bytes()
    mtime = seed_image.stat().st_mtime_ns
    with booted(BuiltinMachine(seed_image)) as st:
        status, out, _ = st.sh("cat /dev/nvme0n1")
        assert status == 0 and out == before
    assert seed_image.read_bytes() == before and seed_image.stat().st_mtime_ns == mtime


def test_partition_reads_are_the_image_bytes(seed_image: Path) -> None:
    with booted(BuiltinMachine(seed_image)) as st:
        assert [ln for ln in st.log.splitlines() if ln.startswith(("devb", "  p"))][-4:] == (
            SEED_BOOT_LINES
        )
        status, out, _ = st.sh("cat /dev/nvme0n1p2")
        assert status == 0
        assert out == image_bytes(seed_image, 32802 * 512, 16 * MiB)
        status, out, _ = st.sh("dd if=/dev/nvme0n1 bs=4096 count=3 skip=5")
        assert out == image_bytes(seed_image, 5 * 4096, 3 * 4096)


def test_reads_are_clipped_at_a_partition_end(seed_image: Path) -> None:
    with booted(BuiltinMachine(seed_image)) as st:
        status, out, _ = st.sh("dd if=/dev/nvme0n1p1 bs=1000 skip=16777")
        assert status == 0
        assert len(out) == 216  # 16 MiB = 16777 * 1000 + 216
        assert out == image_bytes(seed_image, 34 * 512 + 16777 * 1000, 216)
        status, out, _ = st.sh("dd if=/dev/nvme0n1p1 bs=512 skip=32768 count=4")
        assert (status, out) == (0, b"")  # at the end: EOF, nothing from p2


def test_open_for_write_is_erofs_and_geometry_devctl(seed_image: Path) -> None:
    with booted(BuiltinMachine(seed_image)) as st, st.kernel.adopt("client"):
        for flags in (O_WRONLY, O_RDWR):
            with pytest.raises(OSError) as err:
                open("/dev/nvme0n1p1", flags)
            assert err.value.errno == errno.EROFS
        fd = open("/dev/nvme0n1p2", O_RDONLY)
        try:
            geo = BlkGeometry.unpack(devctl(fd, DCMD_BLK_GEOMETRY))
        finally:
            close(fd)
        assert (geo.nsid, geo.lba_size, geo.start_lba, geo.nlba) == (1, 512, 32802, 32768)
        status, _, err_text = st.sh("dd if=/dev/nvme0n1p2 of=/dev/nvme0n1p1 count=1")
        assert status != 0 and "Read-only file system" in err_text


def test_image_without_gpt_serves_only_the_namespace(tmp_path: Path) -> None:
    img = tmp_path / "blank.img"
    img.write_bytes(bytes(8 * MiB))
    with booted(BuiltinMachine(img)) as st:
        assert "GPT_ERR_NO_PMBR" in st.log
        assert "ready (1 path(s), first NS 8 MiB 512 B/LBA)" in st.log
        _, out, _ = st.sh("ls /dev")
        assert out.decode().split() == ["null", "nvme0", "nvme0n1", "pci", "pipe", "zero"]


def test_damaged_primary_gpt_is_recovered_from_the_backup(seed_image: Path) -> None:
    with seed_image.open("r+b") as f:
        os.pwrite(f.fileno(), b"XXXX", 512 + 16)  # over the primary header CRC32 (offset 16)
    with booted(BuiltinMachine(seed_image)) as st:
        assert "using the backup copy" in st.log
        assert "GPT OK, 2 partition(s)" in st.log
        _, out, _ = st.sh("ls /dev")
        assert out.decode().split() == [
            "null",
            "nvme0",
            "nvme0n1",
            "nvme0n1p1",
            "nvme0n1p2",
            "pci",
            "pipe",
            "zero",
        ]


def test_4096_byte_lba_namespace(tmp_path: Path) -> None:
    img = tmp_path / "4k.img"
    write_gpt(img, [4, 4], lba_size=4096, size_bytes=16 * MiB)
    table_lines = subprocess.run(
        [sys.executable, "-m", "qrv", "gpt", "--json", str(img)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    with booted(BuiltinMachine(img, lba_size=4096)) as st:
        assert "nvme: ns 1  size=4096 LBAs  lba=4096 B  capacity=16 MiB" in st.log
        assert "ready (3 path(s), first NS 16 MiB 4096 B/LBA)" in st.log
        p1 = json.loads(table_lines)["partitions"][0]
        _, out, _ = st.sh("cat /dev/nvme0n1p1")
        size = (p1["end_lba"] - p1["start_lba"] + 1) * 4096
        assert out == image_bytes(img, p1["start_lba"] * 4096, size)


def test_without_nvme_the_driver_finds_none_and_exits_0() -> None:
    with booted(BuiltinMachine(None)) as st:
        assert "devb-nvme: no NVMe controller found" in st.log
        assert st.driver_status(timeout=5) == 0


def test_no_active_namespace_is_no_usable_namespace_and_exit_1() -> None:
    """A controller without namespaces (the seed's driver: `no usable namespace`, 1)."""
    machine = BuiltinMachine(None)
    ctrl = NvmeController([], clock=machine.board.clock)
    machine.board.plug_pci(ctrl, dev=NVME_SLOT)
    machine.controllers.append(ctrl)
    with booted(machine) as st:
        assert "devb-nvme: no usable namespace" in st.log
        assert st.driver_status(timeout=5) == 1


# -- faults injected into the model ------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "message"),
    [("never_ready", "did not become 1 within CAP.TO"), ("fatal", "CSTS.CFS")],
)
def test_controller_faults_at_bring_up(seed_image: Path, fault: str, message: str) -> None:
    machine = BuiltinMachine(seed_image, timeout=1)  # CAP.TO = 500 ms
    assert machine.nvme is not None
    setattr(machine.nvme.faults, fault, True)
    with booted(machine) as st:
        assert st.driver_status(timeout=10) == 1
        assert message in st.log
        assert "Traceback" not in st.log
        _, out, _ = st.sh("ls /dev")
        assert out.decode().split() == ["null", "pci", "pipe", "zero"]


def test_wrong_cid_and_lba_out_of_range_surface_as_eio(seed_image: Path) -> None:
    machine = BuiltinMachine(seed_image)
    assert machine.nvme is not None
    with booted(machine) as st:
        machine.nvme.faults.wrong_cid = 1
        status, _, err = st.sh("dd if=/dev/nvme0n1p1 count=1")
        assert status != 0 and "Input/output error" in err
        assert "expected CID" in st.log
        # the namespace shrinks behind the driver's back (another host resized it)
        machine.nvme.state.namespaces[1].nlba = 40000
        status, _, err = st.sh("dd if=/dev/nvme0n1p2 bs=512 skip=8000 count=1")
        assert status != 0 and "Input/output error" in err
        assert "LBA_OUT_OF_RANGE" in st.log
        # the driver keeps serving what still exists
        status, out, _ = st.sh("dd if=/dev/nvme0n1p1 count=1")
        assert status == 0 and out == image_bytes(seed_image, 34 * 512, 512)

"""A power cut under a mounted qrvfs, the whole system: ``qrv emu --rw
--power-cut-after N --mount /dev/nvme0n1p1:/mnt`` runs a shell workload
(create, write, fsync, sync, mv over, rm, mkdir) and is cut after the device's
N-th write; the next boot mounts the partition (replaying the log) and
unmounts it; then ``qrv fsck`` finds it clean, everything the workload had
made durable (the markers it printed after each fsync/sync) holds its bytes,
and the ``mv`` over an existing file happened whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qrv.cli import main as qrv_main
from qrv.lib.qrvfs import Filesystem, FsError
from qrv.tools.fsimage import FsImage
from qrv.tools.mkgpt import create_seed_image

T = 120
MOUNT = "/dev/nvme0n1p1:/mnt"
WORKLOAD = "; ".join(
    [
        "echo one > /mnt/a",
        "echo first > /mnt/f0",
        "dd if=/mnt/f0 of=/mnt/f conv=fsync 2>/dev/null",
        "echo S1",
        "mkdir /mnt/d",
        "echo two > /mnt/d/b",
        "echo new > /mnt/tmp",
        "sync",
        "echo S2",
        "mv /mnt/tmp /mnt/a",
        "rm /mnt/d/b",
        "mkdir /mnt/e",
        "sync",
        "echo S3",
    ]
)
EXIT_POWER_CUT = 3
WORKLOAD_WRITES = 40
"""Device writes the workload makes (a cut after any of them is a cut; after 41 none is)."""


def emu(image: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    argv = [sys.executable, "-m", "qrv", "emu", "--nvme", "--image", str(image), "--rw"]
    return subprocess.run(
        [*argv, "--mount", MOUNT, *args], capture_output=True, timeout=T, check=False
    )


def formatted(tmp_path: Path) -> Path:
    image = tmp_path / "nvme.img"
    create_seed_image(image)
    assert qrv_main(["mkfs", "--partition", "1", str(image)]) == 0
    return image


def files(image: Path) -> dict[str, bytes | None]:
    """What the host reads of the workload's files (None: missing)."""
    got: dict[str, bytes | None] = {}
    with FsImage(image, writable=False, partition=1) as fsi:
        fs = Filesystem.mount(fsi.device, read_only=True)
        for name in ("a", "f", "tmp", "d/b", "e"):
            try:
                inum = fs.lookup(name)
                got[name] = b"<dir>" if name == "e" else fs.read(inum, 0, 100)
            except FsError:
                got[name] = None
    return got


def run_cut(tmp_path: Path, n: int) -> bool:
    """Cut after write `n`; check the next boot and the image.  Whether a cut happened."""
    image = formatted(tmp_path)
    r = emu(image, "--power-cut-after", str(n), "--seed", str(n), "-c", WORKLOAD)
    cut = r.returncode == EXIT_POWER_CUT
    assert cut or r.returncode == 0, r.stderr.decode()
    marks = r.stdout.decode().split()
    again = emu(image, "-c", "ls /mnt > /dev/null")  # fails unless fs-qrv mounted it
    assert again.returncode == 0 and b"Traceback" not in again.stderr, again.stderr.decode()
    assert qrv_main(["fsck", "--partition", "1", str(image)]) == 0
    got = files(image)
    if "S1" in marks:
        assert got["f"] == b"first\n"
        assert got["a"] in (b"one\n", b"new\n")
    if "S2" in marks:
        assert got["d/b"] in (b"two\n", None)  # rm may have reached the disk
        # mv all or nothing: either the new name holds the file, or both are as before
        assert (got["a"], got["tmp"]) in ((b"one\n", b"new\n"), (b"new\n", None))
    if "S3" in marks:
        assert (got["a"], got["tmp"], got["d/b"], got["e"]) == (b"new\n", None, None, b"<dir>")
    if not cut:
        assert marks == ["S1", "S2", "S3"]
    return cut


@pytest.mark.parametrize("n", [8, 30, 40])  # before S1, after S2 (the mv), at the end
def test_power_cut_under_a_mounted_filesystem(tmp_path: Path, n: int) -> None:
    run_cut(tmp_path, n)


@pytest.mark.slow
@pytest.mark.parametrize("n", range(1, WORKLOAD_WRITES + 2))
def test_power_cut_at_every_write(tmp_path: Path, n: int) -> None:
    cut = run_cut(tmp_path, n)
    assert cut == (n <= WORKLOAD_WRITES), f"cut after write {n}: {cut}"

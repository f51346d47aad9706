"""The shell's write path: dd of= with conv=/oflag=, sync, /dev/null and /dev/zero, and
``qrv emu --rw --power-cut-after``.  Expected bytes come from the image file (os.pread)."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.tools.mkgpt import create_seed_image
from tests.system.stack import Stack, booted, image_bytes
from tests.system.test_image_errors import emu as run_emu

MiB = 1 << 20
P1, P2 = 34 * 512, 32802 * 512  # the seed's partitions' byte offsets


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "nvme.img"
    create_seed_image(path)
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(32 * MiB), P1)
    return path


@pytest.fixture
def rw(image: Path) -> Iterator[Stack]:
    with booted(BuiltinMachine(image, writable=True), writable=True) as stack:
        yield stack


def test_dd_from_zero_with_fsync_reaches_the_image(rw: Stack, image: Path) -> None:
    status, _, err = rw.sh(
        "dd if=/dev/zero of=/dev/nvme0n1p1 bs=4096 count=2 seek=1 conv=notrunc,fsync"
    )
    assert status == 0, err
    assert err.splitlines()[:2] == ["2+0 records in", "2+0 records out"]
    assert image_bytes(image, P1 + 4096, 8192) == bytes(8192)  # durable while still running


def test_dd_oflag_sync_is_durable_per_write(rw: Stack, image: Path) -> None:
    want = image_bytes(image, P2, 1536)
    status, _, err = rw.sh("dd if=/dev/nvme0n1p2 of=/dev/nvme0n1p1 bs=512 count=3 oflag=sync")
    assert status == 0, err
    assert image_bytes(image, P1, 1536) == want


def test_sync_flushes_what_dd_left_in_the_cache(rw: Stack, image: Path) -> None:
    old = image_bytes(image, P1, 4096)
    status, _, err = rw.sh("dd if=/dev/zero of=/dev/nvme0n1p1 bs=4096 count=1")
    assert status == 0, err
    assert image_bytes(image, P1, 4096) == old  # in the device's volatile write cache
    status, _, err = rw.sh("sync")
    assert (status, err) == (0, "")
    assert image_bytes(image, P1, 4096) == bytes(4096)
    status, _, err = rw.sh("sync now")
    assert (status, err) == (2, "sync: unknown argument 'now'\nusage: sync\n")


def test_dev_null_and_dev_zero(rw: Stack) -> None:
    _, out, _ = rw.sh("ls -l /dev")
    listing = out.decode().splitlines()
    assert "crw-rw-rw-  1     0     0        0 null" in listing
    assert "crw-rw-rw-  1     0     0        0 zero" in listing
    status, out, err = rw.sh("dd if=/dev/nvme0n1p1 of=/dev/null bs=1M count=3")
    assert status == 0 and out == b"" and err.startswith("3+0 records in\n3+0 records out\n")
    assert rw.sh("cat /dev/null") == (0, b"", "")
    status, out, _ = rw.sh("dd if=/dev/zero bs=1000 count=3")
    assert (status, out) == (0, bytes(3000))
    status, out, _ = rw.sh("hexdump -C -n 32 /dev/zero")
    assert status == 0 and out.decode().startswith("00000000  00 00 00 00")


def test_sync_leaves_read_only_nodes_alone(image: Path) -> None:
    with booted(BuiltinMachine(image)) as stack:
        assert stack.sh("sync") == (0, b"", "")


# -- qrv emu: --rw and the power cut --------------------------------------------------------


def emu(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    r = run_emu(*args, cwd=cwd)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())


def test_emu_power_cut_after_n_writes(image: Path, tmp_path: Path) -> None:
    gpt = image_bytes(image, 0, P1)
    r = emu(
        "--nvme",
        "--image",
        str(image),
        "--rw",
        "--power-cut-after",
        "3",
        "--seed",
        "5",
        "-c",
        "dd if=/dev/zero of=/dev/nvme0n1p1 bs=4096 count=10; echo after",
        cwd=tmp_path,
    )
    assert r.returncode == 3, r.stderr
    last = r.stderr.splitlines()[-1]
    m = re.fullmatch(r"power cut after 3 writes \((\d) unflushed writes lost\)", last)
    assert m, r.stderr
    assert "Traceback" not in r.stderr and "after" not in r.stdout
    # each of the 3 writes was one 4 KiB block: it is either all zeros or all old
    blocks = [image_bytes(image, P1 + i * 4096, 4096) for i in range(4)]
    zeroed = sum(block == bytes(4096) for block in blocks[:3])
    assert zeroed == 3 - int(m[1])
    assert blocks[3] != bytes(4096)  # the 4th write never reached the device
    assert image_bytes(image, 0, P1) == gpt
    again = emu("--nvme", "--image", str(image), "-c", "ls /dev", cwd=tmp_path)
    assert again.returncode == 0 and "nvme0n1p1" in again.stdout


def test_emu_without_rw_refuses_writes(image: Path, tmp_path: Path) -> None:
    before = image.read_bytes()
    mtime = image.stat().st_mtime_ns
    r = emu(
        "--nvme", "--image", str(image), "-c", "dd if=/dev/zero of=/dev/nvme0n1p1", cwd=tmp_path
    )
    assert r.returncode == 1
    assert "dd: /dev/nvme0n1p1: Read-only file system" in r.stderr
    assert image.read_bytes() == before and image.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--power-cut-after", "0"], "qrv emu: --power-cut-after must be at least 1, got 0"),
        (
            ["--power-cut-after", "x"],
            "qrv emu: argument --power-cut-after: invalid int value: 'x' (try 'qrv emu --help')",
        ),
        (
            ["--machine", "qemu", "--power-cut-after", "2"],
            "qrv emu: --power-cut-after needs the built-in machine",
        ),
    ],
)
def test_emu_power_cut_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    r = emu(*args, "-c", "echo hi", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (2, message)


def test_emu_power_cut_at_the_last_write_of_the_last_command(image: Path, tmp_path: Path) -> None:
    r = emu(
        *("--nvme", "--image", str(image), "--rw", "--power-cut-after", "2"),
        *("-c", "dd if=/dev/zero of=/dev/nvme0n1p1 bs=4096 count=2"),
        cwd=tmp_path,
    )
    assert r.returncode == 3, r.stderr
    assert re.fullmatch(
        r"power cut after 2 writes \(\d unflushed writes lost\)", r.stderr.splitlines()[-1]
    )

"""`qrv emu --nvme --image X` with an unusable X: one line on stderr, exit 2, no boot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool

T = 60
USAGE_STATUS = 2  # qrv.cli: a QrvError is one line and exit status 2


def emu(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "qrv", "emu", *args],
        cwd=cwd,
        capture_output=True,
        timeout=T,
        check=False,
    )


def assert_one_line_refusal(r: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    err = r.stderr.decode()
    assert r.returncode == USAGE_STATUS, err
    assert err.count("\n") == 1 and err.startswith("qrv emu: "), err
    assert "Traceback" not in err
    assert "devb-nvme" not in err and "procnto" not in err  # refused before booting
    for needle in needles:
        assert needle in err
    assert r.stdout == b""


def test_builtin_refuses_a_directory(tmp_path: Path) -> None:
    d = tmp_path / "images"
    d.mkdir()
    r = emu("--nvme", "--image", str(d), "-c", "exit", cwd=tmp_path)
    assert_one_line_refusal(r, str(d), "not a regular file or block device")


@pytest.mark.parametrize(
    ("size", "why"),
    [(300, "smaller than one 512-byte LBA"), (1000, "not a whole number of 512-byte LBAs")],
)
def test_builtin_refuses_an_image_of_partial_blocks(tmp_path: Path, size: int, why: str) -> None:
    img = tmp_path / "odd.img"
    img.write_bytes(bytes(size))
    r = emu("--nvme", "--image", str(img), "-c", "exit", cwd=tmp_path)
    assert_one_line_refusal(r, str(img), why)
    assert img.read_bytes() == bytes(size)  # not replaced by a seed image either


MACHINES = ["builtin", pytest.param("qemu", marks=pytest.mark.qemu)]


def machine_args(machine: str) -> list[str]:
    if machine == "qemu":
        require_tool("qemu-system-riscv64", "qemu-system-misc")
    return ["--machine", machine]


@pytest.mark.parametrize("machine", MACHINES)
def test_both_machines_refuse_a_directory(tmp_path: Path, machine: str) -> None:
    d = tmp_path / "images"
    d.mkdir()
    r = emu("--nvme", *machine_args(machine), "--image", str(d), "-c", "exit", cwd=tmp_path)
    assert_one_line_refusal(r, f"{d}: not a regular file or block device (a directory)")


@pytest.mark.parametrize("machine", MACHINES)
def test_both_machines_refuse_partial_blocks_and_dev_null(tmp_path: Path, machine: str) -> None:
    odd = tmp_path / "odd.img"
    odd.write_bytes(bytes(1000))
    cases = [
        (str(odd), f"{odd}: 1000 bytes is not a whole number of 512-byte LBAs"),
        ("/dev/null", "/dev/null: not a regular file or block device (a character device)"),
    ]
    for image, message in cases:
        r = emu("--nvme", *machine_args(machine), "--image", image, "-c", "exit", cwd=tmp_path)
        assert_one_line_refusal(r, message)


@pytest.mark.parametrize("machine", MACHINES)
def test_a_dangling_symlink_image_is_named(tmp_path: Path, machine: str) -> None:
    link = tmp_path / "link.img"
    link.symlink_to(tmp_path / "missing.img")
    r = emu("--nvme", *machine_args(machine), "--image", str(link), "-c", "exit", cwd=tmp_path)
    assert_one_line_refusal(r, f"{link}: dangling symlink (its target {tmp_path}/missing.img")

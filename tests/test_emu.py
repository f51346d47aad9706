"""`qrv emu`'s command line: usage errors name the fix (issue 10)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qrv.emu import DEFAULT_IMAGE, boot_programs, parse_args
from qrv.errors import UsageError


def test_usage_errors_point_at_help() -> None:
    for argv in (["--bogus"], ["--machine", "bochs"], ["-c"]):
        with pytest.raises(UsageError, match=r"\(try 'qrv emu --help'\)$"):
            parse_args(argv)


def test_image_without_nvme_is_an_error() -> None:
    with pytest.raises(UsageError, match=r"--image needs --nvme"):
        parse_args(["--image", "disk.img"])
    assert parse_args(["--nvme", "--image", "disk.img"]).image == "disk.img"
    assert parse_args(["--nvme"]).image == DEFAULT_IMAGE
    assert not parse_args([]).nvme


def test_mount_option_is_device_colon_dir() -> None:
    opts = parse_args(["--nvme", "--mount", "/dev/nvme0n1p1:/mnt/", "--mount", "/dev/x:/y"])
    assert opts.mounts == (("/dev/nvme0n1p1", "/mnt"), ("/dev/x", "/y"))
    progs = boot_programs(True, opts.mounts)
    assert [(p.name, p.argv) for p in progs[-2:]] == [
        ("fs-qrv", ["/dev/nvme0n1p1", "/mnt"]),
        ("fs-qrv", ["/dev/x", "/y"]),
    ]
    for bad in ("/dev/x", "dev:/mnt", "/dev/x:mnt", ":/mnt"):
        with pytest.raises(UsageError):
            parse_args(["--mount", bad])


BOOT_NEEDS_NOT = (
    "pathlib",
    "qrv.servers.fs_qrv.main",
    "qrv.lib.qrvfs",
    "qrv.tools.mkgpt",
    "qrv.kernel.lineedit",
)
"""Modules a boot to the shell does without (issue 16: every import is boot time)."""


def test_a_boot_imports_only_what_it_runs(tmp_path: Path) -> None:
    """fs-qrv (only for --mount), the image tools (only to create a missing image), the line
    editor (only an interactive shell) and pathlib (only for a user's programs) stay unimported."""
    image = tmp_path / "nvme.img"
    probe = (
        "import sys\n"
        "from qrv.emu import main\n"
        "status = main(['--nvme', '--image', sys.argv[1], '-c', 'exit 0'])\n"
        "print(' '.join(m for m in sys.argv[2:] if m in sys.modules))\n"
        "sys.exit(status)\n"
    )
    argv = [sys.executable, "-c", probe, str(image), *BOOT_NEEDS_NOT]
    first = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "emu: created" in first.stderr
    assert "qrv.tools.mkgpt" in first.stdout.split()  # creating the image needs them
    again = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.split() == []

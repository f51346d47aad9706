"""`qrv emu`'s command line: usage errors name the fix (issue 10)."""

from __future__ import annotations

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

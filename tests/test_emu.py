"""`qrv emu`'s command line: usage errors name the fix (issue 10)."""

from __future__ import annotations

import pytest

from qrv.emu import DEFAULT_IMAGE, parse_args
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

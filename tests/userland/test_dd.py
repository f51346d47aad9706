"""dd: failed and 0-byte writes, short writes, seek= without of=, numbers, progress."""

from __future__ import annotations

import pytest

from qrv.userland import dd
from tests.userland.conftest import BIG, BLOB
from tests.userland.shell import ClosedPipe, run

RAM = 32
ENOSPC_LINE = "dd: /dev/ram: No space left on device\n"  # GNU dd's iwrite(): 0 bytes is ENOSPC


def test_dd_reports_a_write_past_the_end_of_a_device(box) -> None:
    r = run(box, "dd if=/dev/blob of=/dev/ram bs=16 count=1 seek=2")
    assert (r.status, r.errtext) == (1, ENOSPC_LINE)
    assert "bytes copied" not in r.errtext


def test_dd_fills_a_device_then_reports_the_end(box) -> None:
    r = run(box, "dd if=/dev/blob of=/dev/ram bs=16 count=3")
    assert (r.status, r.errtext) == (1, ENOSPC_LINE)
    assert run(box, "cat /dev/ram").out == BLOB[:RAM]


def test_dd_continues_a_short_write(box) -> None:
    # 20 bytes at offset 20 of a 32-byte device: 12 fit, the rest hits the end
    r = run(box, "dd if=/dev/blob of=/dev/ram bs=20 count=1 seek=1")
    assert (r.status, r.errtext) == (1, ENOSPC_LINE)
    assert run(box, "cat /dev/ram").out == bytes(20) + BLOB[:12]


def test_dd_exact_fit_succeeds(box) -> None:
    r = run(box, "dd if=/dev/blob of=/dev/ram bs=16 count=2")
    assert r.status == 0, r.errtext
    assert r.errtext.splitlines()[:2] == ["2+0 records in", "2+0 records out"]
    assert r.errtext.splitlines()[2].startswith("32 bytes copied, ")


def test_dd_seek_needs_an_output_file(box) -> None:
    r = run(box, "dd if=/dev/blob bs=16 count=1 seek=1")
    assert (r.status, r.out) == (2, b"")
    assert r.errtext == "dd: seek= needs of= (stdout cannot seek)\n"


@pytest.mark.parametrize(
    ("operand", "message"),
    [
        ("bs=²", "dd: invalid number '²'"),  # a Unicode digit: str.isdigit() but not a number
        ("bs=1x", "dd: invalid number '1x'"),
        ("count=-1", "dd: invalid number '-1'"),
        ("skip=", "dd: invalid number ''"),
        ("bs=0", "dd: invalid number '0' for bs"),
        ("status=bogus", "dd: invalid status level 'bogus'"),
        ("bogus", "dd: invalid operand 'bogus'"),
    ],
)
def test_dd_bad_operands_are_one_line_usage_errors(box, operand: str, message: str) -> None:
    r = run(box, f"dd if=/dev/blob {operand}")
    assert (r.status, r.out, r.errtext) == (2, b"", message + "\n")


@pytest.mark.parametrize(
    ("bs", "size"), [("1k", 1024), ("1K", 1024), ("1kB", 1000), ("1KiB", 1024), ("2b", 1024)]
)
def test_dd_size_suffixes(box, bs: str, size: int) -> None:
    r = run(box, f"dd if=/dev/blob bs={bs} count=1 status=none")
    assert (r.status, r.out) == (0, BLOB[:size])


def test_dd_progress_lines_while_copying(box, monkeypatch) -> None:
    monkeypatch.setattr(dd, "PROGRESS_EVERY", 0.0)  # a line after every block
    r = run(box, "dd if=/dev/blob bs=1000 status=progress")
    assert r.status == 0 and r.out == BLOB
    lines = r.errtext.splitlines()
    copied = [int(line.split()[0]) for line in lines if " bytes copied, " in line]
    assert copied[:4] == [1000, 2000, 3000, 3069]
    assert lines[-3:-1] == ["3+1 records in", "3+1 records out"]


def test_dd_ends_quietly_on_a_broken_pipe(box) -> None:
    r = run(box, "dd if=/dev/blob bs=100", stdout=ClosedPipe(150))
    assert (r.status, r.out, r.err) == (141, BLOB[:150], b"")


def test_dd_block_beyond_a_read_is_capped(box) -> None:
    """bs=2G is more than one read may ask for (ssize_t): each read asks for the most it
    may, as Linux caps read(2), so dd copies what there is (issue 10: was struct.error)."""
    r = run(box, "dd if=/dev/big bs=2G count=1")
    assert r.status == 0, r.errtext
    assert r.out == BIG
    assert r.errtext.splitlines()[:2] == ["0+1 records in", "0+1 records out"]


def test_dd_skip_beyond_the_largest_offset(box) -> None:
    r = run(box, "dd if=/dev/big bs=1G skip=9000000000 count=1")
    assert (r.status, r.out) == (1, b"")
    assert r.errtext == "dd: /dev/big: Value too large for defined data type\n"


@pytest.mark.parametrize(
    ("operand", "message"),
    [
        ("conv=notrunc,sparse", "dd: invalid conversion 'sparse'"),
        ("conv=", "dd: invalid conversion ''"),
        ("oflag=direct", "dd: invalid output flag 'direct'"),
    ],
)
def test_dd_refuses_unknown_conversions_and_flags(box, operand: str, message: str) -> None:
    r = run(box, f"dd if=/dev/blob of=/dev/ram {operand}")
    assert (r.status, r.errtext) == (2, message + "\n")


def test_dd_reports_a_failed_fsync_after_the_copy(box) -> None:
    # the test box's /dev/ram has no _IO_SYNC handler (ENOSYS, as any such server)
    r = run(box, "dd if=/dev/blob of=/dev/ram bs=16 count=2 conv=notrunc,fsync oflag=sync")
    assert run(box, "cat /dev/ram").out == BLOB[:RAM]
    assert (r.status, r.errtext) == (1, "dd: /dev/ram: Function not implemented\n")

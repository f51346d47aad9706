"""hexdump: seeking with -s, chunked reads, past-EOF offsets, usage and directory errors."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest

from qrv.userland import hexdump
from tests.conftest import require_tool
from tests.userland.conftest import BIG, BIG_SIZE, BLOB, SECTOR
from tests.userland.shell import ClosedPipe, run


def host_hexdump(tmp_path: Path, args: list[str], *files: bytes) -> str:
    """util-linux hexdump's output for `files` (as host regular files)."""
    tool = require_tool("hexdump", "bsdextrautils")
    paths = []
    for i, data in enumerate(files):
        path = tmp_path / f"f{i}"
        path.write_bytes(data)
        paths.append(str(path))
    return subprocess.run([tool, *args, *paths], capture_output=True, check=True).stdout.decode()


@pytest.mark.parametrize(
    "args",
    [
        ["-C", "-s", "100000"],  # past EOF: the end offset is the file's size
        ["-s", "100000"],
        ["-C", "-s", "3069"],  # exactly at EOF
        ["-C", "-s", "3068"],
        ["-C", "-s", "5000", "-n", "16"],
        ["-C", "-s", "3000", "-n", "0"],  # -n 0: no output at all
        ["-C", "-n", "0"],
        ["-C", "-s", "0x10", "-n", "20"],
    ],
    ids="".join,
)
def test_hexdump_skip_matches_the_real_hexdump(box, tmp_path, args: list[str]) -> None:
    want = host_hexdump(tmp_path, args, BLOB)
    r = run(box, " ".join(["hexdump", *args, "/dev/blob"]))
    assert (r.status, r.text) == (0, want)


@pytest.mark.parametrize("skip", ["3100", "7000", "3060"])
def test_hexdump_skip_spans_files_as_the_real_hexdump(box, tmp_path, skip: str) -> None:
    want = host_hexdump(tmp_path, ["-C", "-s", skip], BLOB, BLOB)
    r = run(box, f"hexdump -C -s {skip} /dev/blob /dev/blob")
    assert (r.status, r.text) == (0, want)


def test_hexdump_seeks_and_reads_big_chunks(box, monkeypatch) -> None:
    reads: list[int] = []
    seeks: list[int] = []
    real_read, real_lseek = hexdump.read, hexdump.lseek

    def counting_read(fd: int, n: int) -> bytes:
        reads.append(n)
        return real_read(fd, n)

    def counting_lseek(fd: int, offset: int, whence: int) -> int:
        seeks.append(offset)
        return real_lseek(fd, offset, whence)

    monkeypatch.setattr(hexdump, "read", counting_read)
    monkeypatch.setattr(hexdump, "lseek", counting_lseek)
    off = BIG_SIZE - SECTOR
    r = run(box, f"hexdump -C -s {off:#x} -n 16 /dev/big")
    assert r.status == 0, r.errtext
    assert r.text == (
        f"{off:08x}  45 46 49 20 50 41 52 54  00 01 02 03 04 05 06 07  |EFI PART........|\n"
        f"{off + 16:08x}\n"
    )
    assert seeks == [off]
    assert len(reads) == 1 and reads[0] >= SECTOR  # one message, not 16-byte ones


def test_hexdump_past_the_end_of_a_device_prints_its_size(box) -> None:
    r = run(box, f"hexdump -C -s {2 * BIG_SIZE} /dev/big")
    assert (r.status, r.text) == (0, f"{BIG_SIZE:08x}\n")


def test_hexdump_skips_stdin_by_reading(box, tmp_path) -> None:
    want = host_hexdump(tmp_path, ["-C", "-s", "2000"], BLOB)
    r = run(box, "hexdump -C -s 2000 -", stdin=BLOB)
    assert (r.status, r.text) == (0, want)


def test_hexdump_falls_back_to_reading_when_lseek_says_espipe(box, tmp_path, monkeypatch) -> None:
    def no_seek(fd: int, offset: int, whence: int) -> int:
        raise OSError(errno.ESPIPE, "Illegal seek")

    monkeypatch.setattr(hexdump, "lseek", no_seek)
    want = host_hexdump(tmp_path, ["-C", "-s", "2000"], BLOB)
    r = run(box, "hexdump -C -s 2000 /dev/blob")
    assert (r.status, r.text) == (0, want)


def test_hexdump_other_lseek_errors_are_reported(box, monkeypatch) -> None:
    def bad_seek(fd: int, offset: int, whence: int) -> int:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(hexdump, "lseek", bad_seek)
    r = run(box, "hexdump -C -s 2000 /dev/blob")
    assert (r.status, r.errtext) == (1, "hexdump: /dev/blob: Input/output error\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("-s -5", "hexdump: bad offset '-5'"),
        ("-n -1", "hexdump: bad length '-1'"),
        ("-C -s x", "hexdump: bad offset 'x'"),
    ],
)
def test_hexdump_bad_numbers_are_usage_errors(box, args: str, message: str) -> None:
    r = run(box, f"hexdump {args} /dev/blob")
    assert (r.status, r.out, r.errtext) == (2, b"", message + "\n")


def test_hexdump_on_a_directory(box, tmp_path) -> None:
    r = run(box, "hexdump /dev")
    assert (r.status, r.out, r.errtext) == (1, b"", "hexdump: /dev: Is a directory\n")
    r = run(box, "hexdump -C /dev /dev/blob")
    assert r.status == 1 and r.errtext == "hexdump: /dev: Is a directory\n"
    assert r.text == host_hexdump(tmp_path, ["-C"], BLOB)


def test_hexdump_ends_quietly_on_a_broken_pipe(box) -> None:
    r = run(box, "hexdump -C /dev/big", stdout=ClosedPipe(100))
    assert (r.status, r.err) == (141, b"")
    first = b"00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|\n*\n"
    assert len(r.out) == 100 and r.out.startswith(first)


def test_big_fixture_is_what_the_tests_assume() -> None:
    assert len(BIG) == BIG_SIZE and BIG[-SECTOR:].startswith(b"EFI PART\0\1")

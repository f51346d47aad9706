"""`qrv gpt`: output, JSON shape, LBA-size detection and exit status 0 / 1 / 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qrv import cli
from qrv.tools import mkgpt

MIB = 1 << 20
JSON_KEYS = {
    "lba_size", "disk_guid", "first_usable_lba", "last_usable_lba", "header", "problems",
    "partitions",
}  # fmt: skip
PART_KEYS = {
    "index", "start_lba", "end_lba", "size", "bytes", "type_guid", "type_name", "part_guid",
    "attributes", "name",
}  # fmt: skip


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["gpt", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    image = tmp_path / "nvme.img"
    mkgpt.write_gpt(image, [16, 16], size_bytes=64 * MIB, qrv=2)
    return image


def test_clean_human_output(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run([str(seed)], capsys)
    assert (code, err) == (0, "")
    assert "primary header" in out and "512 B" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert rows[0][:7] == [
        "1", "34", "32801", "16", "MiB", "0fc63daf-8483-4772-8e79-3d69d8477de4", "Linux",
    ]  # fmt: skip
    assert rows[1][:6] == [
        "2",
        "32802",
        "65569",
        "16",
        "MiB",
        "51525611-322e-4017-bae8-e4d9c9d4e979",
    ]
    assert rows[1][-2:] == ["QRV", "qrv"]
    assert "problems" not in out


def test_json_shape(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--json", str(seed)], capsys)
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= JSON_KEYS
    assert (doc["lba_size"], doc["first_usable_lba"], doc["last_usable_lba"]) == (512, 34, 131038)
    assert doc["header"] == "primary" and doc["problems"] == []
    assert doc["disk_guid"] == doc["disk_guid"].lower() and len(doc["disk_guid"]) == 36
    assert [set(p) for p in doc["partitions"]] == [PART_KEYS, PART_KEYS]
    p1 = doc["partitions"][0]
    assert (p1["index"], p1["start_lba"], p1["end_lba"], p1["attributes"]) == (1, 34, 32801, 0)
    assert p1["type_guid"] == "0fc63daf-8483-4772-8e79-3d69d8477de4"
    assert p1["name"] == "qrv-test-p1"


def test_primary_damaged_exit_1(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(seed.read_bytes())
    data[512 + 60] ^= 0xFF  # primary header disk GUID, CRC now wrong
    seed.write_bytes(data)
    code, out, _ = run([str(seed)], capsys)
    assert code == 1
    assert "backup header" in out and "problems (1):" in out and "CRC32" in out
    code, out, _ = run(["--json", str(seed)], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["header"] == "backup" and len(doc["problems"]) == 1


def test_backup_missing_exit_1(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with seed.open("r+b") as f:
        f.seek(64 * MIB - 512)
        f.write(bytes(512))
    code, out, _ = run(["--json", str(seed)], capsys)
    assert code == 1
    assert json.loads(out)["header"] == "primary"


def test_4096_detected_and_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "4k.img"
    mkgpt.write_gpt(image, [16], size_bytes=64 * MIB, lba_size=4096)
    code, out, _ = run(["--json", str(image)], capsys)
    assert code == 0 and json.loads(out)["lba_size"] == 4096
    code, _, err = run(["--lba-size", "512", str(image)], capsys)
    assert code == 2 and "GPT_ERR_BAD_SIG" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        (b"", "empty file"),
        (bytes(MIB), "GPT_ERR_NO_PMBR"),
        (bytes(510) + b"\x55\xaa" + bytes(MIB), "GPT_ERR_NO_PMBR"),
    ],
)
def test_unusable_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    image = tmp_path / "x.img"
    if content is not None:
        image.write_bytes(content)
    code, out, err = run([str(image)], capsys)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], capsys)[0] == 2
    assert run(["--lba-size", "1000", "x.img"], capsys)[0] == 2
    assert run([str(tmp_path)], capsys)[0] == 2  # a directory
    assert run(["--help"], capsys)[0] == 0


def test_problem_partitions_listed(seed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.lib.gpt_images import Disk

    disk = Disk(bytearray(seed.read_bytes()), 512)
    disk.entry_set(2, "starting_lba", 32000)  # overlaps partition 1
    disk.entry_set(2, "attributes", 1 << 2)
    seed.write_bytes(disk.buf)
    code, out, _ = run([str(seed)], capsys)
    assert code == 1
    assert "partition 1 (LBA 34..32801) overlaps partition 2 (LBA 32000..65569)" in out
    assert "legacy-bios-bootable" in out


def test_two_protective_entries_parse_with_a_problem(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A protective MBR with two 0xEE records (sgdisk only warns): listed, status 1."""
    from tests.lib.gpt_images import Disk

    disk = Disk(bytearray(seed.read_bytes()), 512)
    disk.mbr_set(1, 0xEE, 1, 100)
    seed.write_bytes(disk.buf)
    code, out, err = run([str(seed)], capsys)
    assert (code, err) == (1, "")
    assert "protective MBR has 2 0xEE entries (slots 1, 2)" in out
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  1 ")] == ["1"]


def test_4096_detected_from_the_backup_when_primary_is_wiped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "4k.img"
    mkgpt.write_gpt(image, [16], size_bytes=64 * MIB, lba_size=4096)
    with image.open("r+b") as f:
        f.seek(4096)
        f.write(bytes(4096))  # primary header gone
    code, out, _ = run(["--json", str(image)], capsys)
    doc = json.loads(out)
    assert code == 1 and doc["lba_size"] == 4096 and doc["header"] == "backup"
    assert "GPT header at LBA 1: signature" in doc["problems"][0]


def test_partial_lba_at_the_end_is_a_problem(
    seed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with seed.open("ab") as f:
        f.write(b"\0" * 100)  # as after `mkgpt --force` on a 64 MiB + 100 B file
    code, out, _ = run(["--json", str(seed)], capsys)
    assert code == 1
    assert json.loads(out)["problems"] == [
        "image is 67108964 bytes, not a whole number of 512-byte LBAs: its last 100 bytes "
        "are outside every LBA (qrv emu refuses such an image)"
    ]

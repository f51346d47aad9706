"""`qrv gpt -l` against `sfdisk -l`, the JSON's size/bytes/type_name and error objects,
hybrid MBRs read as sgdisk reads them, and mkgpt's rest-of-disk size, sgdisk type codes,
partition GUIDs and attribute flags checked by sgdisk -i."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from qrv import cli
from qrv.errors import UsageError
from qrv.spec.gpt import MBR_SIZE
from qrv.tools import mkgpt
from qrv.tools.gptlist import human
from tests.tools.test_mkgpt_peers import tool

MIB = 1 << 20
P1_GUID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "disk.img"
    argv = ["mkgpt", "--size", "48M", "--align-mib", "1", str(path), "8:ef00:ESP", "4:8200"]
    argv += ["16:fd00", "-:8300:rest", "--guid", f"1={P1_GUID}", "--attrs", "1=required,60"]
    code, _, err = run(argv, capsys)
    assert (code, err) == (0, "")
    return path


def test_mkgpt_codes_rest_guid_and_attributes_as_sgdisk_reads_them(image: Path) -> None:
    info = tool("sgdisk", "gdisk", "-i", "1", str(image))
    esp = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B (EFI system partition)"
    assert f"Partition GUID code: {esp}" in info
    assert f"Partition unique GUID: {str(P1_GUID).upper()}" in info
    assert "Attribute flags: 1000000000000001" in info
    assert "(Linux swap)" in tool("sgdisk", "gdisk", "-i", "2", str(image))
    assert "(Linux RAID)" in tool("sgdisk", "gdisk", "-i", "3", str(image))
    rest = tool("sgdisk", "gdisk", "-i", "4", str(image))
    assert "(Linux filesystem)" in rest and "Partition name: 'rest'" in rest
    last_usable = (48 * MIB // 512) - 34
    assert f"Last sector: {last_usable} " in rest  # the rest of the disk


def test_list_is_sfdisk_l(image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed = tmp_path / "seed.img"
    mkgpt.create_seed_image(seed)
    code, out, err = run(["gpt", "-l", str(image), str(seed)], capsys)
    assert (code, err) == (0, "")
    reference = (
        tool("sfdisk", "fdisk", "-l", str(image)) + "\n" + tool("sfdisk", "fdisk", "-l", str(seed))
    )
    assert out.splitlines() == reference.splitlines()


def test_list_goes_on_after_a_bad_image(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.img"
    empty.write_bytes(bytes(MIB))
    code, out, err = run(["gpt", "-l", str(empty), str(image)], capsys)
    assert code == 2
    assert err.startswith("qrv gpt: GPT_ERR_NO_PMBR: ") and err.count("\n") == 1
    assert out.startswith(f"Disk {image}: 48 MiB, ")


def test_json_adds_size_bytes_type_name_and_error_objects(
    image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["gpt", "--json", str(image)], capsys)
    doc = json.loads(out)
    assert code == 0
    p1 = doc["partitions"][0]
    assert (p1["size"], p1["bytes"], p1["type_name"]) == (8 * MIB // 512, 8 * MIB, "EFI System")
    assert (p1["part_guid"], p1["attributes"]) == (str(P1_GUID), 1 | 1 << 60)
    missing = tmp_path / "missing.img"
    code, out, err = run(["gpt", "--json", str(missing)], capsys)
    assert (code, err) == (2, "")
    assert set(json.loads(out)) == {"image", "error"}
    code, out, err = run(["gpt", "-l", "--json", str(image), str(missing)], capsys)
    docs = json.loads(out)
    assert (code, err, len(docs)) == (2, "", 2)
    assert docs[0]["image"] == str(image) and "error" in docs[1]


def test_a_hybrid_mbr_is_read_with_a_problem(
    image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with image.open("r+b") as f:  # 0xEE over LBA 1..2047, a FAT32 entry over the ESP
        mbr = bytearray(os.pread(f.fileno(), MBR_SIZE, 0))
        mbr[446 + 12 : 446 + 16] = (2047).to_bytes(4, "little")
        entry = bytes([0, 0, 0, 0, 0x0C, 0, 0, 0]) + (2048).to_bytes(4, "little")
        mbr[446 + 16 : 446 + 32] = entry + (8 * MIB // 512).to_bytes(4, "little")
        os.pwrite(f.fileno(), bytes(mbr), 0)
    sgdisk = tool("sgdisk", "gdisk", "-p", str(image))  # sgdisk reads the GPT too
    rows = [line.split() for line in sgdisk.splitlines()]
    assert rows[-2][-1:] == ["qrv-test-p3"] and rows[-1][-1:] == ["rest"]
    code, out, _ = run(["gpt", "-l", str(image)], capsys)
    assert code == 1
    assert "  - hybrid MBR (0xEE plus slot 2 type 0x0c): the GPT is used" in out
    assert f"{image}4" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-:8300", "8"], "partition 1: only the last partition may take the rest (-)"),
        (["8:9999"], "partition type '9999' is neither a GUID, an sgdisk code"),
        (["8", "--guid", "2=" + str(P1_GUID)], "--guid 2: there are 1 partition(s)"),
        (["8", "--guid", "1=nope"], "--guid 1=nope: 'nope' is not a GUID"),
        (["8", "--attrs", "1=bogus"], "attribute 'bogus' is neither a bit number"),
        (["8", "--attrs", "1=64"], "attribute '64' is neither a bit number"),
        (["8", "--attrs", "x=1"], "--attrs x=1: expected N=VALUE"),
        (["8", "--attrs", "1=0x1g"], "attribute mask '0x1g' is not hexadecimal"),
    ],
)
def test_mkgpt_refusals(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "refused.img"
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        mkgpt.main(["--size", "16M", str(path), *argv])
    assert not path.exists()


def test_human_sizes_as_util_linux() -> None:
    cases = [(512, "512B"), (MIB, "1M"), (1536 * 1024, "1.5M"), (16 * MIB - 512, "16M")]
    assert [human(n) for n, _ in cases] == [text for _, text in cases]
    assert human(64 * MIB, long=True) == "64 MiB"
    assert human(100, long=True) == "100 B"

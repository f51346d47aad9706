"""Images written by `qrv mkgpt` checked by the real tools: sgdisk -v, sfdisk
--verify / --json, and fdisk -b 4096 for 4 KiB LBAs.  (sgdisk -v and sfdisk
--verify exit 0 even when they find problems, so their text is read.)"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from qrv.lib.gpt import GptTable
from qrv.tools import mkgpt
from tests.conftest import require_tool

MIB = 1 << 20


def tool(name: str, package: str, *args: str) -> str:
    done = subprocess.run(
        [require_tool(name, package), *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


CASES = [
    pytest.param(["16", "16"], {}, id="seed"),
    pytest.param(["16", "16"], {"qrv": 1}, id="qrv"),
    pytest.param(["1", "2", "3", "4", "5", "6", "7"], {"align_mib": 1}, id="aligned"),
    pytest.param(["8:efi:ESP", "8::données ✓ 😀", "40"], {}, id="names"),
]


def write(tmp_path: Path, parts: list[str], opts: dict[str, int]) -> tuple[Path, GptTable]:
    image = tmp_path / "nvme.img"
    requests = [mkgpt.parse_part_arg(p) for p in parts]
    table = mkgpt.write_gpt(
        image,
        requests,
        size_bytes=64 * MIB,
        qrv=opts.get("qrv"),
        align_mib=opts.get("align_mib", 0),
    )
    return image, table


@pytest.mark.parametrize(("parts", "opts"), CASES)
def test_sgdisk_finds_no_problems(tmp_path: Path, parts: list[str], opts: dict[str, int]) -> None:
    image, _ = write(tmp_path, parts, opts)
    out = tool("sgdisk", "gdisk", "-v", str(image))
    assert "No problems found" in out, out


@pytest.mark.parametrize(("parts", "opts"), CASES)
def test_sfdisk_reads_the_same_table(
    tmp_path: Path, parts: list[str], opts: dict[str, int]
) -> None:
    image, table = write(tmp_path, parts, opts)
    assert "No errors detected" in tool("sfdisk", "fdisk", "--verify", str(image))
    ref = json.loads(tool("sfdisk", "fdisk", "--json", str(image)))["partitiontable"]
    assert ref["label"] == "gpt" and uuid.UUID(ref["id"]) == table.disk_guid
    assert (ref["firstlba"], ref["lastlba"]) == (34, 64 * MIB // 512 - 34)
    assert [
        (p["start"], p["size"], uuid.UUID(p["type"]), uuid.UUID(p["uuid"]), p.get("name", ""))
        for p in ref["partitions"]
    ] == [(p.start_lba, p.num_lbas, p.type_guid, p.part_guid, p.name) for p in table.partitions]


def test_seed_layout_as_sfdisk_sees_it(tmp_path: Path) -> None:
    image, _ = write(tmp_path, ["16", "16"], {})
    ref = json.loads(tool("sfdisk", "fdisk", "--json", str(image)))["partitiontable"]
    # The seed's boot log: p1 = LBA 34..32801, p2 = LBA 32802..65569, 16 MiB each.
    assert [(p["start"], p["size"], p["name"]) for p in ref["partitions"]] == [
        (34, 32768, "qrv-test-p1"),
        (32802, 32768, "qrv-test-p2"),
    ]
    assert {p["type"] for p in ref["partitions"]} == {"0FC63DAF-8483-4772-8E79-3D69D8477DE4"}


def test_4096_byte_lbas_as_fdisk_sees_them(tmp_path: Path) -> None:
    image = tmp_path / "4k.img"
    table = mkgpt.write_gpt(image, [16, 16], size_bytes=64 * MIB, lba_size=4096)
    out = tool("fdisk", "fdisk", "-b", "4096", "-l", "-o", "Device,Start,End,Type-UUID,UUID,Name",
               str(image))  # fmt: skip
    assert "Disklabel type: gpt" in out
    assert f"Disk identifier: {str(table.disk_guid).upper()}" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(str(image))]
    assert [row[1:] for row in rows] == [
        [str(p.start_lba), str(p.end_lba), str(p.type_guid).upper(), str(p.part_guid).upper(),
         p.name]
        for p in table.partitions
    ]  # fmt: skip
    assert [row[1:3] for row in rows] == [["6", "4101"], ["4102", "8197"]]

"""Peer cross-check: images written by sgdisk (gptfdisk) with generated layouts
parse to exactly what sfdisk (util-linux) reports for them."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.lib.gpt import GptTable, gpt_parse
from tests.conftest import require_tool

LBA = 512
DISK_LBAS = 8192  # 4 MiB
TYPES = [
    "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "51525611-322E-4017-BAE8-E4D9C9D4E979",
    "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
]
# util-linux's attribute words for bits 0..2 (libfdisk gpt.c); others as GUID:n
ATTR_WORDS = {0: "RequiredPartition", 1: "NoBlockIOProtocol", 2: "LegacyBIOSBootable"}
NAME_CHARS = "abcXYZ019-_.éßΩж✓日本😀"


def sfdisk_json(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [require_tool("sfdisk", "fdisk"), "--json", str(path)],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip
    doc: dict[str, Any] = json.loads(out)["partitiontable"]
    return doc


def sfdisk_attrs(bits: int) -> str | None:
    words = [ATTR_WORDS[b] for b in sorted(ATTR_WORDS) if bits >> b & 1]
    high = [str(b) for b in range(48, 64) if bits >> b & 1]
    if high:
        words.append("GUID:" + ",".join(high))
    return " ".join(words) or None


def parse_file(path: Path) -> GptTable:
    data = path.read_bytes()
    return gpt_parse(lambda lba, n: data[lba * LBA : (lba + n) * LBA], LBA, len(data) // LBA)


def assert_same_as_sfdisk(path: Path) -> GptTable:
    table = parse_file(path)
    ref = sfdisk_json(path)
    assert ref["label"] == "gpt"
    assert uuid.UUID(ref["id"]) == table.disk_guid
    assert (ref["firstlba"], ref["lastlba"]) == (table.first_usable_lba, table.last_usable_lba)
    expected = [
        (
            int(re.sub(r"^.*\.img", "", p["node"])),
            p["start"],
            p["start"] + p["size"] - 1,
            uuid.UUID(p["type"]),
            uuid.UUID(p["uuid"]),
            p.get("attrs"),
            p.get("name", ""),
        )
        for p in ref["partitions"]
    ]
    got = [
        (
            p.index, p.start_lba, p.end_lba, p.type_guid, p.part_guid,
            sfdisk_attrs(p.attributes), p.name,
        )
        for p in table.partitions
    ]  # fmt: skip
    assert got == expected
    return table


@st.composite
def sgdisk_layouts(draw: st.DrawFn) -> list[tuple[int, int, int, str, str, list[int]]]:
    count = draw(st.integers(1, 24))
    slots = draw(st.lists(st.integers(1, 128), min_size=count, max_size=count, unique=True))
    parts = []
    lba = 34
    for slot in slots:
        start = lba + draw(st.integers(0, 20))
        end = start + draw(st.integers(0, 200))
        if end > DISK_LBAS - 34:
            break
        name = draw(st.text(st.sampled_from(NAME_CHARS), max_size=16))
        bits = draw(st.lists(st.sampled_from([0, 1, 2, 48, 55, 60, 63]), unique=True, max_size=3))
        parts.append((slot, start, end, draw(st.sampled_from(TYPES)), name, bits))
        lba = end + 1
    return parts


def sgdisk_write(path: Path, parts: list[tuple[int, int, int, str, str, list[int]]]) -> None:
    path.write_bytes(b"")
    with path.open("r+b") as f:
        f.truncate(DISK_LBAS * LBA)
    cmd = [require_tool("sgdisk", "gdisk"), "-o", "-a", "1"]
    for slot, start, end, type_guid, name, bits in parts:
        cmd += [f"-n{slot}:{start}:{end}", f"-t{slot}:{type_guid}"]
        if name:
            cmd += [f"-c{slot}:{name}"]
        for bit in bits:
            cmd += [f"-A{slot}:set:{bit}"]
    subprocess.run([*cmd, str(path)], check=True, capture_output=True, timeout=30)


# sgdisk sleeps about a second after every write (it waits for the kernel to
# re-read the table), so a few generated layouts are all the suite can afford.
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(parts=sgdisk_layouts())
def test_sgdisk_layouts_parse_like_sfdisk(
    tmp_path: Path, parts: list[tuple[int, int, int, str, str, list[int]]]
) -> None:
    path = tmp_path / "disk.img"
    sgdisk_write(path, parts)
    table = assert_same_as_sfdisk(path)
    assert table.clean, table.problems
    assert len(table.partitions) == len(parts)


def test_many_partitions_and_non_ascii_names(tmp_path: Path) -> None:
    parts = [
        (i, 34 + (i - 1) * 50, 34 + i * 50 - 1, TYPES[i % 4], f"część-{i}-日本😀", [i % 3])
        for i in range(1, 129)
    ]
    path = tmp_path / "disk.img"
    sgdisk_write(path, parts)
    table = assert_same_as_sfdisk(path)
    assert len(table.partitions) == 128
    assert table.partitions[127].name == "część-128-日本😀"


def test_sfdisk_written_table_with_first_lba_2048(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    path.write_bytes(bytes(DISK_LBAS * LBA))
    script = 'label: gpt\nsize=1000, name="a"\nsize=2000, type=linux\n'
    subprocess.run(
        [require_tool("sfdisk", "fdisk"), "--quiet", str(path)],
        input=script, check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    table = assert_same_as_sfdisk(path)
    assert table.clean, table.problems
    assert [p.name for p in table.partitions] == ["a", ""]

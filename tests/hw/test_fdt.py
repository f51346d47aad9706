"""The board's DTB writer, checked by dtc (the reference implementation of the format)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qrv.hw.fdt import EMPTY, Node, build_dtb, cells, pairs, split, strings
from tests.conftest import require_tool


def decompile(blob: bytes, tmp_path: Path) -> str:
    dtc = require_tool("dtc", "device-tree-compiler")
    path = tmp_path / "t.dtb"
    path.write_bytes(blob)
    return subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", str(path)], check=True, capture_output=True, text=True
    ).stdout


def test_small_tree_decompiles_as_written(tmp_path: Path) -> None:
    root = Node("", {"#address-cells": cells(2), "#size-cells": cells(1), "model": strings("x")})
    bus = root.add(Node("bus@1000", {"ranges": EMPTY, "reg": pairs([(0x1000, 0x20)], 2, 1)}))
    bus.add(Node("dev@0", {"compatible": strings("a,b", "c"), "odd": b"\x01\x02\x03"}))
    text = decompile(build_dtb(root, reserved=[(0x8000_0000, 0x1000)]), tmp_path)
    assert "/memreserve/\t0x0000000080000000 0x0000000000001000;" in text
    assert "\tbus@1000 {\n\t\tranges;\n\t\treg = <0x00 0x1000 0x20>;" in text
    assert '\t\t\tcompatible = "a,b\\0c";' in text
    assert "\t\t\todd = [01 02 03];" in text


def test_dtc_reserialises_identically(tmp_path: Path) -> None:
    root = Node("", {"a": cells(1), "bb": strings("q")})
    root.add(Node("n", {"a": EMPTY, "x-a": cells(0xFFFF_FFFF)}))
    blob = build_dtb(root)
    dtc = require_tool("dtc", "device-tree-compiler")
    src, out = tmp_path / "in.dtb", tmp_path / "out.dtb"
    src.write_bytes(blob)
    subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dtb", "-o", str(out), str(src)], check=True)
    assert out.read_bytes() == blob


def test_value_encoders() -> None:
    assert cells(1, 0xDEADBEEF) == bytes.fromhex("00000001deadbeef")  # big-endian (DT spec 2.2.4)
    assert split(0x4_0000_0000, 2) == (4, 0)
    assert pairs([(0x3000_0000, 0x1000_0000)], 2, 2) == cells(0, 0x3000_0000, 0, 0x1000_0000)
    assert strings("ab", "c") == b"ab\0c\0"
    with pytest.raises(ValueError):
        cells(1 << 32)
    with pytest.raises(ValueError):
        split(1 << 32, 1)
    with pytest.raises(ValueError):
        build_dtb(Node("notroot"))

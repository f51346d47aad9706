"""The kernel's FDT parser, cross-checked against dtc on both blobs; malformed blobs."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.errors import FdtError
from qrv.hw.board import VirtBoard
from qrv.hw.fdt import Node, build_dtb, cells, strings
from qrv.kernel.fdt import FdtNode, parse_fdt
from tests.conftest import require_tool
from tests.data import qemu_virt_dtb

# -- an independent reading: dtc's dts output, parsed back into {path: {prop: bytes}} ----------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b"}


def _dts_string(text: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[i + 1 :])
            assert digits is not None
            out.append(int(digits.group(0), 8))
            i += 1 + len(digits.group(0))
        elif nxt == "x":
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            out += _ESCAPES[nxt].encode()
            i += 2
    return bytes(out)


def _dts_value(text: str) -> bytes:
    out = bytearray()
    for part in re.findall(r'<[^>]*>|"(?:[^"\\]|\\.)*"|\[[^\]]*\]', text):
        if part.startswith("<"):
            out += b"".join(struct.pack(">I", int(c, 0)) for c in part[1:-1].split())
        elif part.startswith('"'):
            out += _dts_string(part[1:-1]) + b"\0"
        else:
            out += bytes.fromhex(part[1:-1].replace(" ", ""))
    return bytes(out)


def dts_tree(blob: bytes, tmp_path: Path) -> dict[str, dict[str, bytes]]:
    dtc = require_tool("dtc", "device-tree-compiler")
    path = tmp_path / "x.dtb"
    path.write_bytes(blob)
    text = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", str(path)], check=True, capture_output=True, text=True
    ).stdout
    tree: dict[str, dict[str, bytes]] = {}
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("/dts-v1/", "/memreserve/")):
            continue
        if line.endswith("{"):
            name = line[:-1].strip()
            path_ = "/" if name == "/" else (stack[-1].rstrip("/") + "/" + name)
            stack.append(path_)
            tree[path_] = {}
        elif line == "};":
            stack.pop()
        else:
            name, _, value = line.rstrip(";").partition(" = ")
            tree[stack[-1]][name] = _dts_value(value)
    return tree


def our_tree(blob: bytes) -> dict[str, dict[str, bytes]]:
    return {n.path: dict(n.props) for n in parse_fdt(blob).nodes()}


@pytest.mark.parametrize("which", ["board", "qemu"])
def test_parser_agrees_with_dtc(which: str, tmp_path: Path) -> None:
    blob = VirtBoard().device_tree() if which == "board" else qemu_virt_dtb()
    assert our_tree(blob) == dts_tree(blob, tmp_path)


def test_header_agrees_with_fdtdump(tmp_path: Path) -> None:
    fdtdump = require_tool("fdtdump", "device-tree-compiler")
    path = tmp_path / "q.dtb"
    path.write_bytes(qemu_virt_dtb())
    text = subprocess.run([fdtdump, str(path)], check=True, capture_output=True, text=True).stdout
    fields = dict(re.findall(r"^// (\w+):\s+(\S+)", text, re.M))
    hdr = parse_fdt(qemu_virt_dtb()).header
    assert hdr.totalsize == int(fields["totalsize"].split("(")[0], 0)
    assert hdr.off_dt_struct == int(fields["off_dt_struct"], 0)
    assert hdr.off_dt_strings == int(fields["off_dt_strings"], 0)
    assert hdr.off_mem_rsvmap == int(fields["off_mem_rsvmap"], 0)
    assert hdr.version == int(fields["version"])
    assert hdr.last_comp_version == int(fields["last_comp_version"])
    assert hdr.size_dt_struct == int(fields["size_dt_struct"], 0)
    assert hdr.size_dt_strings == int(fields["size_dt_strings"], 0)


def test_qemu_blob_details() -> None:
    tree = parse_fdt(qemu_virt_dtb())
    pci = tree.find("/soc/pci@30000000")
    assert pci is not None and pci.basename == "pci"
    assert pci.string("compatible") == "pci-host-ecam-generic"
    assert pci.reg() == [(0x3000_0000, 0x1000_0000)]
    assert pci.cells("bus-range") == [0, 0xFF]
    assert pci.address_cells == 3 and pci.size_cells == 2
    serial = tree.find("/soc/serial@10000000")
    assert serial is not None and serial.reg() == [(0x1000_0000, 0x100)]
    assert tree.find("/soc/test@100000") is not None
    assert tree.find("/soc/test@100000").strings("compatible") == [  # type: ignore[union-attr]
        "sifive,test1",
        "sifive,test0",
        "syscon",
    ]
    cpu = tree.find("/cpus/cpu@0")
    assert cpu is not None and cpu.cells("reg") == [0]  # /cpus: 1 address cell, 0 size cells
    assert [n.path for n in tree.compatible("riscv,cpu-intc")] == [
        "/cpus/cpu@0/interrupt-controller"
    ]


def test_cell_inheritance_and_defaults() -> None:
    root = Node("", {"#address-cells": cells(1)})  # no #size-cells: default 1
    mid = root.add(Node("mid", {"#size-cells": cells(2)}))  # #address-cells inherited: 1
    mid.add(Node("leaf@10", {"reg": cells(0x10, 0, 0x20)}))
    root.add(Node("plain@5", {"reg": cells(5, 6)}))
    tree = parse_fdt(build_dtb(root))
    leaf = tree.find("/mid/leaf@10")
    plain = tree.find("/plain@5")
    assert leaf is not None and leaf.reg() == [(0x10, 0x20)]
    assert plain is not None and plain.reg() == [(5, 6)]
    bare = parse_fdt(build_dtb(Node("", {}, [Node("x", {"reg": cells(0, 1, 2)})])))
    x = bare.find("/x")
    assert x is not None and x.reg() == [(1, 2)]  # DT spec defaults: 2 address, 1 size cells


# -- malformed blobs ------------------------------------------------------------------------

GOOD = build_dtb(Node("", {"compatible": strings("t")}, [Node("a", {"v": cells(1)})]))


def _with_header(blob: bytes, index: int, value: int) -> bytes:
    out = bytearray(blob)
    struct.pack_into(">I", out, 4 * index, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"", "too short"),
        (GOOD[:20], "too short"),
        (GOOD[:-4], "truncated"),
        (_with_header(GOOD, 0, 0xEDFE0DD0), "bad DTB magic 0xedfe0dd0"),
        (_with_header(GOOD, 5, 1), "unsupported DTB version 1"),
        (_with_header(GOOD, 6, 18), "unsupported DTB version"),
        (_with_header(GOOD, 2, 0x10000), "structure block .* lies outside"),
        (_with_header(GOOD, 2, 0x3A), "not 4-byte aligned"),
        (_with_header(GOOD, 3, 0x10000), "strings block .* lies outside"),
        (_with_header(GOOD, 4, 0x4), "reservation map .* lies outside"),
        (_with_header(GOOD, 9, 12), "structure block truncated"),
    ],
)
def test_malformed_header(blob: bytes, message: str) -> None:
    with pytest.raises(FdtError, match=message):
        parse_fdt(blob)


def _patch_struct(token_index: int, value: int) -> bytes:
    off = struct.unpack_from(">I", GOOD, 8)[0]
    out = bytearray(GOOD)
    struct.pack_into(">I", out, off + 4 * token_index, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (_patch_struct(0, 0x7), "bad DTB structure token 0x7"),
        (_patch_struct(0, 0x2), "END_NODE without a node"),
        (_patch_struct(0, 0x9), "no root node"),
        (_patch_struct(0, 0x3), "property outside any node"),
        (_patch_struct(3, 0x1000), "value of 4096 bytes"),  # compatible's length
        (_patch_struct(4, 0x1000), "name offset 0x1000 lies outside"),
    ],
)
def test_malformed_structure(blob: bytes, message: str) -> None:
    with pytest.raises(FdtError, match=message):
        parse_fdt(blob)


def test_nop_tokens_are_skipped_and_unclosed_nodes_rejected() -> None:
    root = Node("", {}, [Node("a")])
    blob = bytearray(build_dtb(root))
    off = struct.unpack_from(">I", blob, 8)[0]
    end_token = off + struct.unpack_from(">I", blob, 36)[0] - 4
    struct.pack_into(">I", blob, end_token - 4, 0x4)  # the root's END_NODE becomes a NOP
    with pytest.raises(FdtError, match="inside node /"):
        parse_fdt(bytes(blob))


def test_property_decoding_errors() -> None:
    node = FdtNode("n", props={"odd": b"\1\2\3", "s": b"abc", "two": cells(1, 2)})
    with pytest.raises(FdtError, match="not whole cells"):
        node.cells("odd")
    with pytest.raises(FdtError, match="not a NUL-terminated"):
        node.string("s")
    with pytest.raises(FdtError, match="expected 1 cell, got 2"):
        node.u32("two")
    with pytest.raises(FdtError, match="no property 'missing'"):
        node.cells("missing")


@settings(max_examples=150, deadline=None)
@given(cut=st.integers(0, len(GOOD)), flips=st.lists(st.integers(0, 8 * len(GOOD) - 1), max_size=3))
def test_damaged_blobs_fail_cleanly(cut: int, flips: list[int]) -> None:
    blob = bytearray(GOOD[:cut])
    for bit in flips:
        if bit // 8 < len(blob):
            blob[bit // 8] ^= 1 << (bit % 8)
    try:
        tree = parse_fdt(bytes(blob))
    except FdtError:
        return
    assert tree.root.path == "/"


_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789,-", min_size=1, max_size=12)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> Node:
    props = draw(st.dictionaries(_names, st.binary(max_size=16), max_size=4))
    kids = [] if depth >= 3 else draw(st.lists(trees(depth + 1), max_size=3))
    names = draw(st.lists(_names, min_size=len(kids), max_size=len(kids), unique=True))
    for kid, name in zip(kids, names, strict=True):
        kid.name = name
    return Node("" if depth == 0 else "x", props, kids)


def _as_dict(node: Node, path: str = "/") -> dict[str, dict[str, bytes]]:
    out = {path: dict(node.props)}
    for kid in node.children:
        out |= _as_dict(kid, path.rstrip("/") + "/" + kid.name)
    return out


@settings(max_examples=60, deadline=None)
@given(root=trees())
def test_round_trip(root: Node) -> None:
    assert our_tree(build_dtb(root)) == _as_dict(root)


@pytest.mark.parametrize(
    "options",
    [["-V", "16"], ["-p", "512", "-R", "3"], ["-b", "0", "-a", "64"]],
    ids=["version-16", "padded-with-reserve-slots", "aligned"],
)
def test_other_layouts_dtc_writes(options: list[str], tmp_path: Path) -> None:
    """Blobs dtc lays out differently (v16 header, padding, reserve slots) parse the same."""
    dtc = require_tool("dtc", "device-tree-compiler")
    src, out = tmp_path / "in.dtb", tmp_path / "out.dtb"
    src.write_bytes(VirtBoard().device_tree())
    subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dtb", *options, "-o", str(out), str(src)], check=True
    )
    blob = out.read_bytes()
    assert our_tree(blob) == our_tree(src.read_bytes())
    assert parse_fdt(blob).reserved == []

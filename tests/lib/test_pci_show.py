"""lspci's decoder (qrv.lib.pci.show/caps) against pciutils itself: random configuration
spaces, each read back by the real ``lspci -F``; names from pci.ids (qrv.lib.pci.ids)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.lib.pci.config import ConfigBytes
from qrv.lib.pci.ids import Names, PciIds, load, parse
from qrv.lib.pci.show import Function, machine, size_text, terse, tree, verbose_lines
from tests.lib.pci_oracle import dump_text, pciutils

FEW = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
MANY = settings(FEW, max_examples=400)
# Vendor/device pairs pci.ids names (and one it does not), so hwdb never has to
IDS = [(0x1B36, 0x0010), (0x1B36, 0x0008), (0x8086, 0x1234), (0x1AF4, 0x1041), (0x1B36, 0x7777)]
CLASSES = [0x010802, 0x020000, 0x0C0330, 0x060000, 0x058000, 0xFF0000, 0x010185]
# Legacy endpoint and RCiEP; an Endpoint's DevCap2 FRS line is compared on the test bus
# (tests/userland/test_lspci.py) only: its TPH tail for random DevCap2 bits is open (docs)
EXPRESS_TYPES = [0x1, 0x9]
CAP_KINDS = ["pm", "msi", "msix", "express", "vendor", "other"]


def _u16(data: bytearray, off: int, value: int) -> None:
    struct.pack_into("<H", data, off, value)


def _u32(data: bytearray, off: int, value: int) -> None:
    struct.pack_into("<I", data, off, value)


@st.composite
def type0_config(draw: st.DrawFn) -> bytes:
    """A type-0 header with random registers, BARs and a chain of random capabilities."""
    data = bytearray(draw(st.binary(min_size=256, max_size=256)))
    vid, did = draw(st.sampled_from(IDS))
    _u16(data, 0x00, vid)
    _u16(data, 0x02, did)
    _u32(data, 0x08, draw(st.sampled_from(CLASSES)) << 8 | draw(st.integers(0, 255)))
    data[0x0E] = draw(st.sampled_from([0x00, 0x80]))
    data[0x0F] = draw(st.sampled_from([0, 0x80, 0xC0, 0x85]))
    _u16(data, 0x2C, draw(st.sampled_from([0x1AF4, 0x0000, 0xFFFF, 0x8086])))
    data[0x3D] = draw(st.integers(0, 4))
    data[0x30:0x34] = draw(st.sampled_from([bytes(4), b"\x01\x00\x0c\xfe", b"\x00\x00\x0c\xfe"]))
    for i in range(6):  # BARs: unused, I/O, 32-bit or 64-bit memory
        kind = draw(st.sampled_from(["none", "io", "mem32", "mem64", "raw"]))
        off = 0x10 + 4 * i
        if kind == "none":
            _u32(data, off, 0)
        elif kind == "io":
            _u32(data, off, draw(st.integers(0, 0xFFFF)) & ~3 | 1)
        elif kind != "raw":
            low = draw(st.integers(0, 0xFFFFFFFF)) & ~0xF
            _u32(data, off, low | (4 if kind == "mem64" else 0) | draw(st.sampled_from([0, 8])))
    kinds = draw(st.lists(st.sampled_from(CAP_KINDS), max_size=3))
    # no list: the Status bit clear or a null pointer (a pointer into random bytes would
    # reach IDs qrv does not decode: docs/lspci.md)
    at = 0x40
    if kinds:
        data[0x06] |= 0x10
        data[0x34] = at
    elif draw(st.booleans()):
        data[0x06] &= ~0x10
    else:
        data[0x34] = 0
    for n, kind in enumerate(kinds):
        nxt = at + 0x40 if n + 1 < len(kinds) else 0
        _cap(draw, data, at, kind, nxt)
        at += 0x40
    return bytes(data)


@st.composite
def bridge_config(draw: st.DrawFn) -> bytes:
    """A PCI-to-PCI bridge (type-1 header) with random forwarding windows: each base and
    limit register pair of any addressing type (matching, mismatched, reserved), the
    upper halves random; no capability list."""
    data = bytearray(draw(st.binary(min_size=256, max_size=256)))
    _u16(data, 0x00, 0x1B36)
    _u16(data, 0x02, 0x000C)
    _u32(data, 0x08, 0x060400 << 8 | draw(st.integers(0, 255)))
    data[0x0E] = 0x01
    data[0x06] &= ~0x10
    data[0x38:0x3C] = bytes(4)  # no expansion ROM
    data[0x3D] = draw(st.integers(0, 4))  # a pin pciutils prints as a letter
    types = st.sampled_from([0, 1, 2, 0xF])  # narrow, wide, reserved
    for base, limit, size in ((0x1C, 0x1D, 1), (0x20, 0x22, 2), (0x24, 0x26, 2)):
        btype = draw(types)
        ltype = btype if draw(st.booleans()) else draw(types)
        bits = 8 * size
        data[base : base + size] = (draw(st.integers(0, (1 << bits) - 1)) & ~0xF | btype).to_bytes(
            size, "little"
        )
        data[limit : limit + size] = (
            draw(st.integers(0, (1 << bits) - 1)) & ~0xF | ltype
        ).to_bytes(size, "little")
    return bytes(data)


@FEW
@given(configs=st.lists(bridge_config(), min_size=1, max_size=3))
def test_bridge_windows_are_pciutils(configs: list[bytes], tmp_path: Path) -> None:
    compare(configs, tmp_path, "-vv", verbose=2)
    compare(configs, tmp_path, "-vvv", verbose=3)


def _cap(draw: st.DrawFn, data: bytearray, at: int, kind: str, nxt: int) -> None:
    ids = {"pm": 0x01, "msi": 0x05, "msix": 0x11, "express": 0x10, "vendor": 0x09}
    # IDs qrv names by number only (AGP, SATA, EA, ... are not in the draw: docs/lspci.md)
    others = [0x00, 0x04, 0x06, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x16, 0x20]
    cap_id = ids.get(kind, draw(st.sampled_from(others)))
    data[at], data[at + 1] = cap_id, nxt
    if kind == "express":
        version = draw(st.sampled_from([1, 2]))
        flags = draw(st.sampled_from(EXPRESS_TYPES)) << 4 | version
        _u16(data, at + 2, flags | draw(st.integers(0, 31)) << 9)
    if kind == "vendor":
        data[at + 2] = draw(st.integers(0, 8))
        for i in range(3, 8):
            data[at + i] = 0  # pciutils decodes some vendors' layouts; keep them unknown


def functions_of(configs: list[bytes]) -> list[Function]:
    """Functions 00:01.0, 00:02.0, ... (an endpoint at 00:00.0 has LnkCtl2: docs/lspci.md)."""
    return [Function(0, dev, 0, ConfigBytes(c)) for dev, c in enumerate(configs, 1)]


def qrv_text(fns: list[Function], names: Names, verbose: int) -> str:
    lines: list[str] = []
    for f in fns:
        lines += [*verbose_lines(f, names, verbose), ""] if verbose else terse(f, names, 0)
    return "".join(line + "\n" for line in lines)


def compare(configs: list[bytes], tmp: Path, *options: str, verbose: int = 0) -> None:
    fns = functions_of(configs)
    numeric = sum(opt.count("n") for opt in options)
    text = qrv_text(fns, Names(load(), numeric), verbose)
    dump = dump_text([(f.slot, f.config.data) for f in fns])
    assert text.splitlines() == pciutils(dump, tmp, *options).splitlines()


@FEW
@given(configs=st.lists(type0_config(), min_size=1, max_size=3))
def test_vv_of_random_functions_is_pciutils(configs: list[bytes], tmp_path: Path) -> None:
    compare(configs, tmp_path, "-vv", verbose=2)


@FEW
@given(configs=st.lists(type0_config(), min_size=1, max_size=3))
def test_v_and_nn_of_random_functions_is_pciutils(configs: list[bytes], tmp_path: Path) -> None:
    compare(configs, tmp_path, "-v", verbose=1)
    compare(configs, tmp_path, "-nn")
    compare(configs, tmp_path, "-n")


@pytest.mark.slow
@MANY
@given(configs=st.lists(type0_config(), min_size=1, max_size=3))
def test_vv_of_random_functions_is_pciutils_many(configs: list[bytes], tmp_path: Path) -> None:
    compare(configs, tmp_path, "-vv", verbose=2)
    compare(configs, tmp_path, "-nnv", verbose=1)


def test_machine_readable_and_tree_of_random_functions(tmp_path: Path) -> None:
    configs = [bytes(256)] * 2
    for cfg in ([0x36, 0x1B, 0x10, 0x00], [0x86, 0x80, 0x34, 0x12]):
        configs.append(bytes(cfg) + bytes(252))
    fns = functions_of(configs[2:])
    dump = dump_text([(f.slot, f.config.data) for f in fns])
    names = Names(load())
    mine = [line for f in fns for line in machine(f, names, 0)]
    assert mine == pciutils(dump, tmp_path, "-m").splitlines()
    assert tree(fns) == pciutils(dump, tmp_path, "-t").splitlines()


# -- names ---------------------------------------------------------------------------------

IDS_TEXT = """\
# comment
1b36  Red Hat, Inc.
\t0010  QEMU NVM Express Controller
\t\t1af4 1100  QEMU Virtual Machine
1af4  Red Hat, Inc.
zzzz  not a vendor
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 06  Bridge
"""


def test_names_as_pci_lookup_name_formats_them() -> None:
    ids = parse(IDS_TEXT)
    names, mixed, numbers = Names(ids), Names(ids, 2), Names(ids, 1)
    assert names.vendor_device(0x1B36, 0x0010) == "Red Hat, Inc. QEMU NVM Express Controller"
    assert names.vendor_device(0x1B36, 0x0011) == "Red Hat, Inc. Device 0011"
    assert names.vendor_device(0x1234, 0x0011) == "Device 1234:0011"
    assert mixed.vendor_device(0x1B36, 0x0011) == "Red Hat, Inc. Device [1b36:0011]"
    assert numbers.vendor_device(0x1B36, 0x0010) == "1b36:0010"
    assert names.subsystem(0x1B36, 0x0010, 0x1AF4, 0x1100) == "Red Hat, Inc. QEMU Virtual Machine"
    assert names.subsystem(0x1B36, 0x0010, 0x1AF4, 0x1101) == "Red Hat, Inc. Device 1101"
    assert names.class_name(0x0108) == "Non-Volatile memory controller"
    assert names.class_name(0x0680) == "Bridge [0680]"  # the class alone: with its number
    assert names.class_name(0x0F00) == "Class 0f00"
    assert numbers.class_name(0x0680) == "0680"
    assert names.progif(0x0108, 0x02) == "NVM Express"
    assert names.progif(0x0101, 0x8A) == "Master SecP PriP"  # IDE's bits, as pciutils


def test_a_missing_database_gives_numbers(tmp_path: Path) -> None:
    names = Names(load(str(tmp_path / "absent.ids")))
    assert names.vendor_device(0x1B36, 0x0010) == "Device 1b36:0010"
    assert names.class_name(0x0108) == "Class 0108"
    assert load(str(tmp_path)) == PciIds()  # a directory: not a database


@FEW
@given(st.text(max_size=400))
def test_any_database_text_parses(text: str) -> None:
    ids = parse(text)
    Names(ids).vendor_device(0x1B36, 0x0010)


def test_size_text() -> None:
    sizes = (256, 0x4000, 1 << 20, 3 << 30, 0x1800, 1 << 40, 0)
    assert [size_text(s) for s in sizes] == [
        " [size=256]",
        " [size=16K]",
        " [size=1M]",
        " [size=3G]",
        " [size=6K]",
        " [size=1T]",
        "",
    ]

"""The built-in virt board: memory map, host bridge function, plugging, its device tree.

Expected values come from QEMU: the reference README and the dts QEMU 7.2
generated (reference/qemu-7.2-riscv64-virt-nvme.dts), decompiled with dtc.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from qrv.errors import MachineError
from qrv.hw.board import VirtBoard
from qrv.hw.bus import Machine
from qrv.hw.pcidev import BarKind, BarSpec, PciFunction, PciIdentity
from qrv.spec.pci import Cfg, Command, ecam_offset
from tests.conftest import require_tool
from tests.data import qemu_virt_dts

ECAM = 0x3000_0000  # from the reference dts: pci@30000000 reg
MIB = 1 << 20


class Probe(PciFunction):
    def __init__(self, bar: BarSpec) -> None:
        super().__init__(PciIdentity(0x1234, 0x5678, 0xFF0000), [bar])
        self.stores: list[tuple[int, int]] = []

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        return 0xA5A5_0000 | offset

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        self.stores.append((offset, value))


def machine(m: Machine) -> Machine:
    return m


def test_machine_protocol_and_ram() -> None:
    board = VirtBoard()
    m = machine(board)
    assert (m.ram_base, m.ram_size) == (0x8000_0000, 256 * MIB)
    m.bus.write(0x8000_0000 + 100, b"qrv")
    assert m.bus.read(0x8000_0000 + 100, 3) == b"qrv"
    assert m.bus.load(0x8000_0000 + 256 * MIB, 4) == 0xFFFF_FFFF  # past RAM: nothing answers
    m.close()
    m.close()
    assert board.closed


@pytest.mark.parametrize("size", [0, -4096, 1000, 0x4_0000_0000])
def test_bad_ram_size(size: int) -> None:
    with pytest.raises(MachineError, match="RAM size"):
        VirtBoard(ram_size=size)


def test_host_bridge_function_as_qemu() -> None:
    bus = VirtBoard(ram_size=MIB).bus
    # README: host bridge 00:00.0 is 1b36:0008 class 060000
    assert bus.load(ECAM + ecam_offset(0, 0, 0, Cfg.VENDOR_ID), 4) == 0x0008_1B36
    assert bus.load(ECAM + ecam_offset(0, 0, 0, Cfg.REVISION_ID), 4) >> 8 == 0x060000
    assert bus.load(ECAM + ecam_offset(0, 1, 0), 2) == 0xFFFF  # empty slot
    assert bus.load(ECAM + ecam_offset(0, 0, 1), 2) == 0xFFFF


def test_plug_and_decode_in_each_window() -> None:
    board = VirtBoard(ram_size=MIB)
    fn = Probe(BarSpec(0, 0x4000, BarKind.MEM64))
    board.plug_pci(fn, dev=1)
    with pytest.raises(MachineError, match="taken"):
        board.plug_pci(Probe(BarSpec(0, 0x1000)), dev=1)
    with pytest.raises(MachineError, match="bad PCI slot"):
        board.plug_pci(Probe(BarSpec(0, 0x1000)), dev=32)
    cfg = ECAM + ecam_offset(0, 1, 0)
    bus = board.bus
    # the 64-bit window of the reference dts: 0x4_0000_0000
    bus.store(cfg + Cfg.BAR0, 4, 0)
    bus.store(cfg + Cfg.BAR0 + 4, 4, 0x4)
    bus.store(cfg + Cfg.COMMAND, 2, Command.MEMORY_SPACE)
    assert bus.load(0x4_0000_0010, 4) == 0xA5A5_0010
    # moved into the 32-bit window: 0x4000_0000
    bus.store(cfg + Cfg.BAR0, 4, 0x4000_0000)
    bus.store(cfg + Cfg.BAR0 + 4, 4, 0)
    bus.store(0x4000_0020, 4, 99)
    assert fn.stores == [(0x20, 99)]
    assert bus.load(0x4_0000_0010, 4) == 0xFFFF_FFFF


def test_io_window() -> None:
    board = VirtBoard(ram_size=MIB)
    fn = Probe(BarSpec(1, 0x100, BarKind.IO))
    board.plug_pci(fn, dev=2)
    cfg = ECAM + ecam_offset(0, 2, 0)
    board.bus.store(cfg + Cfg.BAR0 + 4, 4, 0x1000)
    board.bus.store(cfg + Cfg.COMMAND, 2, Command.IO_SPACE)
    # PIO window: CPU 0x0300_0000 -> PCI I/O 0
    assert board.bus.load(0x0300_0000 + 0x1004, 4) == 0xA5A5_0004


def _node_lines(dts: str, header: str) -> set[str]:
    lines = dts.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    out: set[str] = set()
    for line in lines[start + 1 :]:
        if line.strip() == "};":
            return out
        out.add(line.strip())
    raise AssertionError(f"node {header} not closed")


def test_pcie_node_matches_qemu(tmp_path: Path) -> None:
    dtc = require_tool("dtc", "device-tree-compiler")
    blob = tmp_path / "board.dtb"
    blob.write_bytes(VirtBoard().device_tree())
    ours = subprocess.run(
        [dtc, "-q", "-I", "dtb", "-O", "dts", str(blob)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    qemu = qemu_virt_dts()
    header = "pci@30000000 {"
    assert _node_lines(ours, header) == _node_lines(qemu, header)
    memory = _node_lines(ours, "memory@80000000 {")
    assert 'device_type = "memory";' in memory
    assert "reg = <0x00 0x80000000 0x00 0x10000000>;" in memory
    assert "chosen {" in ours and "cpu@0 {" in ours
    plic_q, plic_o = _node_lines(qemu, "plic@c000000 {"), _node_lines(ours, "plic@c000000 {")
    assert plic_o == plic_q


def test_device_tree_is_what_dtc_would_write(tmp_path: Path) -> None:
    """dtc re-serialises our blob byte for byte: header, blocks and strings are canonical."""
    dtc = require_tool("dtc", "device-tree-compiler")
    src = tmp_path / "board.dtb"
    out = tmp_path / "again.dtb"
    src.write_bytes(VirtBoard(ram_size=64 * MIB).device_tree())
    subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dtb", "-o", str(out), str(src)], check=True)
    assert out.read_bytes() == src.read_bytes()

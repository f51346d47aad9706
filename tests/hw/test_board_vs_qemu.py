"""The built-in board enumerates like QEMU's riscv64 virt: same identity registers
for 00:00.0 (host bridge) and 00:01.0 (NVMe), read from both through ECAM."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.spec.pci import Cfg, ecam_offset
from tests.conftest import require_tool

ECAM = 0x3000_0000
# (offset, width): IDs, class/revision, header type, subsystem IDs, interrupt pin
IDENTITY_REGISTERS = [
    (Cfg.VENDOR_ID, 4),
    (Cfg.REVISION_ID, 4),
    (Cfg.HEADER_TYPE, 1),
    (Cfg.SUBSYSTEM_VENDOR_ID, 4),
    (Cfg.INTERRUPT_PIN, 1),
]


def identity(machine: Machine) -> dict[str, list[int]]:
    out = {}
    for dev in (0, 1):
        regs = [
            machine.bus.load(ECAM + ecam_offset(0, dev, 0, off), width)
            for off, width in IDENTITY_REGISTERS
        ]
        out[f"00:{dev:02x}.0"] = regs
    return out


@pytest.mark.qemu
def test_functions_identify_alike(tmp_path: Path) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    builtin = BuiltinMachine(image)
    try:
        with QemuMachine(image) as qemu:
            assert identity(builtin) == identity(qemu)
    finally:
        builtin.close()

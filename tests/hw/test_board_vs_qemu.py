"""The built-in board enumerates like the seed's machine (QEMU's riscv64 virt with
``-device pci-serial`` and the NVMe drive): 00:00.0 host bridge, 00:01.0 serial
controller, 00:02.0 NVMe, with the same identity registers and capability layout read
through ECAM, and a 16550 that answers alike through its I/O BAR."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.spec.pci import Cfg, Command, ecam_offset
from tests.conftest import require_tool

pytestmark = pytest.mark.qemu

ECAM = 0x3000_0000
PIO = 0x0300_0000  # the I/O window: CPU 0x0300_0000 -> PCI I/O 0
UART_PORT = 0x1000
SERIAL, NVME = 1, 2
# (offset, width): IDs, class/revision, header type, subsystem IDs, interrupt pin
IDENTITY_REGISTERS = [
    (Cfg.VENDOR_ID, 4),
    (Cfg.REVISION_ID, 4),
    (Cfg.HEADER_TYPE, 1),
    (Cfg.SUBSYSTEM_VENDOR_ID, 4),
    (Cfg.INTERRUPT_PIN, 1),
]


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Machine, Machine]]:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = tmp_path_factory.mktemp("board") / "disk.img"
    image.write_bytes(bytes(1 << 20))
    builtin = BuiltinMachine(image)
    try:
        with QemuMachine(image) as qemu:
            yield builtin.board, qemu
    finally:
        builtin.close()


def cfg(machine: Machine, dev: int, off: int, width: int = 4) -> int:
    return machine.bus.load(ECAM + ecam_offset(0, dev, 0, off), width)


def identity(machine: Machine) -> dict[str, list[int]]:
    return {
        f"00:{dev:02x}.0": [cfg(machine, dev, off, width) for off, width in IDENTITY_REGISTERS]
        for dev in (0, SERIAL, NVME, NVME + 1)
    }


def test_functions_identify_alike(machines: tuple[Machine, Machine]) -> None:
    builtin, qemu = machines
    ids = identity(builtin)
    assert ids == identity(qemu)
    assert ids["00:01.0"][:2] == [0x0002_1B36, 0x0700_0201]  # 16550 serial, rev 1
    assert ids["00:02.0"][0] == 0x0010_1B36
    assert ids["00:03.0"][0] == 0xFFFF_FFFF  # nothing more


def capability_layout(machine: Machine) -> list[tuple[int, int]]:
    """(offset, id) along the NVMe function's capability list."""
    out = []
    ptr = cfg(machine, NVME, Cfg.CAPABILITIES_PTR, 1)
    while ptr and len(out) < 16:
        out.append((ptr, cfg(machine, NVME, ptr, 1)))
        ptr = cfg(machine, NVME, ptr + 1, 1)
    return out


def test_nvme_capability_layout(machines: tuple[Machine, Machine]) -> None:
    """QEMU 7.2's layout: MSI-X at 40h -> PCI Express at 80h -> Power Management at 60h."""
    builtin, qemu = machines
    assert (
        capability_layout(builtin)
        == capability_layout(qemu)
        == [
            (0x40, 0x11),
            (0x80, 0x10),
            (0x60, 0x01),
        ]
    )


def test_serial_bar_is_eight_io_ports(machines: tuple[Machine, Machine]) -> None:
    def probe(m: Machine) -> int:
        m.bus.store(ECAM + ecam_offset(0, SERIAL, 0, Cfg.BAR0), 4, 0xFFFF_FFFF)
        return cfg(m, SERIAL, Cfg.BAR0)

    assert [probe(m) for m in machines] == [0xFFFF_FFF9] * 2  # I/O, 8 bytes


def uart_session(m: Machine) -> list[int]:
    """Reset values, the divisor latch, scratch, loopback echo, overrun, FIFO and IIR."""
    m.bus.store(ECAM + ecam_offset(0, SERIAL, 0, Cfg.BAR0), 4, UART_PORT)
    m.bus.store(ECAM + ecam_offset(0, SERIAL, 0, Cfg.COMMAND), 2, Command.IO_SPACE)
    io = PIO + UART_PORT

    def rd(reg: int) -> int:
        return m.bus.load(io + reg, 1)

    def wr(reg: int, value: int) -> None:
        m.bus.store(io + reg, 1, value)

    out = [rd(r) for r in range(8)]
    wr(3, 0x80)  # DLAB
    out += [rd(0), rd(1)]
    wr(0, 0x34)
    wr(1, 0x12)
    out += [rd(0), rd(1)]
    wr(3, 0x03)
    wr(7, 0x5A)
    wr(4, 0x1F)  # loopback, all modem outputs
    out += [rd(3), rd(7), rd(4), rd(6)]
    wr(0, 0x41)
    out += [rd(5), rd(0), rd(5)]
    wr(0, 0x42)
    wr(0, 0x43)  # overrun: the unread 0x42 is overwritten
    out += [rd(5), rd(5), rd(0)]
    wr(2, 0x01)  # FIFOs on
    for byte in b"hello":
        wr(0, byte)
    out += [rd(2), *(rd(0) for _ in range(5)), rd(5)]
    wr(1, 0x03)  # RX data and THR empty interrupts
    out += [rd(1), rd(2), rd(2)]
    wr(0, 0x44)
    out += [rd(2), rd(0), rd(2)]
    wr(1, 0xFF)
    wr(4, 0xFF)
    out += [rd(1), rd(4)]
    wr(2, 0xC7)  # clear both FIFOs, trigger 14: THR empty again
    out += [rd(2)]
    wr(5, 0)  # LSR is read-only
    out += [rd(5)]
    wr(4, 0x08)
    wr(1, 0)
    wr(2, 0)
    return out


def test_uart_registers_agree(machines: tuple[Machine, Machine]) -> None:
    builtin, qemu = machines
    session = uart_session(builtin)
    assert session == uart_session(qemu)
    assert session[:8] == [0x00, 0x00, 0x01, 0x00, 0x08, 0x60, 0xB0, 0x00]  # 16550 reset
    assert session[8:10] == [0x0C, 0x00]  # 9600 baud

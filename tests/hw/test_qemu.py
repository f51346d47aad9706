"""The QEMU machine over qtest: buses, PCI, the NVMe registers, the device tree.

Expected values come from QEMU itself as recorded in
/work/shared/reference/README.md (CAP, VS, BAR0 size, IDs) and from the
reference DTB QEMU 7.2 dumped for this machine (tests/data).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from qrv.errors import BusError
from qrv.hw.qemu import RAM_BASE, QemuMachine
from tests.conftest import require_tool

pytestmark = pytest.mark.qemu

MiB = 1 << 20
ECAM = 0x3000_0000
BAR0_ADDR = 0x4000_0000  # first address of QEMU virt's 32-bit MMIO window
FN_HOST = ECAM + (0 << 15)  # 00:00.0
FN_SERIAL = ECAM + (1 << 15)  # 00:01.0, the seed's -device pci-serial
FN_NVME = ECAM + (2 << 15)  # 00:02.0
FN_TESTDEV = ECAM + (3 << 15)  # 00:03.0
DATA = Path(__file__).resolve().parents[1] / "data"


def make_image(path: Path, size: int = 1 * MiB) -> Path:
    path.write_bytes(bytes(i % 251 for i in range(size)))
    return path


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuMachine]:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = make_image(tmp_path_factory.mktemp("qemu") / "nvme.img")
    with QemuMachine(image, devices=["pci-testdev,addr=03.0"]) as m:
        yield m


# -- guest RAM -----------------------------------------------------------------------------


def test_ram_geometry(machine: QemuMachine) -> None:
    assert machine.ram_base == 0x8000_0000
    assert machine.ram_size == 256 * MiB


def test_ram_starts_zeroed_no_firmware_loaded(machine: QemuMachine) -> None:
    """-bios none: nothing (OpenSBI) occupies the RAM qrv hands out for DMA."""
    assert machine.bus.read(RAM_BASE, 4096) == bytes(4096)


def test_ram_bytes_round_trip(machine: QemuMachine) -> None:
    data = bytes(range(256)) * 17 + b"tail"
    machine.bus.write(RAM_BASE + 0x10003, data)
    assert machine.bus.read(RAM_BASE + 0x10003, len(data)) == data


def test_ram_round_trip_larger_than_one_qtest_line(machine: QemuMachine) -> None:
    data = bytes((i * 7) & 0xFF for i in range(3 * MiB // 2 + 5))
    machine.bus.write(RAM_BASE + 0x20_0000, data)
    assert machine.bus.read(RAM_BASE + 0x20_0000, len(data)) == data


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_loads_and_stores_are_little_endian(machine: QemuMachine, width: int) -> None:
    addr = RAM_BASE + 0x3000 + 8 * width
    value = 0x0123456789ABCDEF & ((1 << (8 * width)) - 1)
    machine.bus.store(addr, width, value)
    assert machine.bus.read(addr, width) == value.to_bytes(width, "little")
    assert machine.bus.load(addr, width) == value
    machine.bus.write(addr, b"\xa5" * width)
    assert machine.bus.load(addr, width) == int.from_bytes(b"\xa5" * width, "little")


def test_store_truncates_to_width(machine: QemuMachine) -> None:
    machine.bus.write(RAM_BASE + 0x4000, bytes(8))
    machine.bus.store(RAM_BASE + 0x4000, 2, 0x12345678)
    assert machine.bus.read(RAM_BASE + 0x4000, 8) == b"\x78\x56" + bytes(6)


def test_bad_width_is_refused(machine: QemuMachine) -> None:
    with pytest.raises(BusError, match="bad access width 3"):
        machine.bus.load(RAM_BASE, 3)


def test_memset(machine: QemuMachine) -> None:
    machine.qemu_bus.memset(RAM_BASE + 0x5000, 100, 0x5A)
    assert machine.bus.read(RAM_BASE + 0x4FFF, 102) == b"\0" + b"\x5a" * 100 + b"\0"


def test_empty_transfers_need_no_round_trip(machine: QemuMachine) -> None:
    assert machine.bus.read(RAM_BASE, 0) == b""
    machine.bus.write(RAM_BASE, b"")


# -- PCI over ECAM -------------------------------------------------------------------------


def test_host_bridge_identity(machine: QemuMachine) -> None:
    assert machine.bus.load(FN_HOST, 4) == 0x0008_1B36  # 1b36:0008
    assert machine.bus.load(FN_HOST + 0x08, 4) >> 8 == 0x06_0000


def test_serial_identity(machine: QemuMachine) -> None:
    """pci-serial, as the seed's emu.sh adds: 1b36:0002 rev 1, class 070002 (16550)."""
    assert machine.bus.load(FN_SERIAL, 4) == 0x0002_1B36
    assert machine.bus.load(FN_SERIAL + 0x08, 4) == 0x0700_0201


def test_nvme_identity(machine: QemuMachine) -> None:
    assert machine.bus.load(FN_NVME, 2) == 0x1B36
    assert machine.bus.load(FN_NVME + 0x02, 2) == 0x0010
    assert machine.bus.load(FN_NVME + 0x08, 4) >> 8 == 0x01_0802


def test_extra_device_is_on_the_bus(machine: QemuMachine) -> None:
    """pci-testdev is 1b36:0005 (QEMU docs/specs/pci-ids.rst)."""
    assert machine.bus.load(FN_TESTDEV, 4) == 0x0005_1B36


def test_absent_function_reads_all_ones(machine: QemuMachine) -> None:
    assert machine.bus.load(ECAM + (5 << 15), 4) == 0xFFFF_FFFF


def test_mmio_bulk_read_is_split_into_loads(machine: QemuMachine) -> None:
    raw = machine.bus.read(FN_NVME + 1, 7)
    expect = b"".join(machine.bus.load(FN_NVME + i, 1).to_bytes(1, "little") for i in range(1, 8))
    assert raw == expect
    assert raw[:3] == b"\x1b\x10\x00"


def test_bar0_sizing_reads_back_a_64bit_16k_mask(machine: QemuMachine) -> None:
    bar0 = FN_NVME + 0x10
    saved = machine.bus.load(bar0, 4)
    machine.bus.store(bar0, 4, 0xFFFF_FFFF)
    try:
        assert machine.bus.load(bar0, 4) == 0xFFFF_C004
    finally:
        machine.bus.store(bar0, 4, saved)


def test_programmed_bar0_answers_with_nvme_registers(machine: QemuMachine) -> None:
    bus = machine.bus
    bus.write(FN_NVME + 0x10, (BAR0_ADDR).to_bytes(8, "little"))  # BAR0 low + high dwords
    bus.store(FN_NVME + 0x04, 2, 0x6)  # memory space + bus master
    assert bus.load(FN_NVME + 0x04, 2) & 0x6 == 0x6
    assert bus.load(BAR0_ADDR, 8) == 0x0040_1820_0F01_07FF  # CAP
    assert bus.load(BAR0_ADDR + 0x08, 4) == 0x0001_0400  # VS 1.4.0
    assert bus.read(BAR0_ADDR, 12) == (0x0040_1820_0F01_07FF).to_bytes(8, "little") + (
        0x0001_0400
    ).to_bytes(4, "little")


# -- the device tree -----------------------------------------------------------------------


def test_device_tree_is_a_dtb_of_its_own_totalsize(machine: QemuMachine) -> None:
    blob = machine.device_tree()
    assert blob[:4] == bytes.fromhex("d00dfeed")
    assert int.from_bytes(blob[4:8], "big") == len(blob)


def test_device_tree_matches_the_reference_dump(machine: QemuMachine) -> None:
    """Parsed by the kernel's parser, QEMU's tree equals the recorded QEMU 7.2
    dump in every node that does not carry per-run random seeds."""
    fdt = pytest.importorskip("qrv.kernel.fdt")
    reference = gzip.decompress((DATA / "qemu-7.2-riscv64-virt-nvme.dtb.gz").read_bytes())
    ours = fdt.parse_fdt(machine.device_tree())
    ref = fdt.parse_fdt(reference)
    (pci,) = ours.compatible("pci-host-ecam-generic")
    (ref_pci,) = ref.compatible("pci-host-ecam-generic")
    assert pci.path == "/soc/pci@30000000"
    assert pci.props == ref_pci.props
    assert pci.reg() == [(0x3000_0000, 0x1000_0000)]
    memory = ours.find("/memory@80000000")
    assert memory is not None
    assert memory.reg() == [(0x8000_0000, 256 * MiB)]
    assert [n.path for n in ours.nodes()] == [n.path for n in ref.nodes()]

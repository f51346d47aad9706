"""hwinfo published from both device trees; the section layout and its lookups.

Expected values are those of the reference README / QEMU's dts: ECAM 0x30000000 +
0x10000000, I/O window CPU 0x03000000 -> PCI 0 (64 KiB), MEM 0x40000000 (1 GiB),
64-bit MEM 0x4_0000_0000 (16 GiB), INTA..INTD -> PLIC 0x20..0x23.
"""

from __future__ import annotations

import struct

import pytest

from qrv.errors import FdtError
from qrv.hw.board import VirtBoard
from qrv.hw.fdt import EMPTY, Node, build_dtb, cells, pairs, strings
from qrv.kernel.hwinfo import (
    HWI_NULL_OFF,
    HwInfo,
    Location,
    PciWindow,
    WindowFlags,
    hwinfo_from_fdt,
    window_flags,
)
from qrv.kernel.hwinfo_section import UNIT
from tests.data import qemu_virt_dtb

EXPECTED_WINDOWS = [
    PciWindow(0x0300_0000, 0, 0x1_0000, WindowFlags.IO),
    PciWindow(0x4000_0000, 0x4000_0000, 0x4000_0000, WindowFlags.MEM),
    PciWindow(0x4_0000_0000, 0x4_0000_0000, 0x4_0000_0000, WindowFlags.MEM | WindowFlags.MEM64),
]


def pci_view(info: HwInfo) -> dict[str, object]:
    bus = info.find_bus("pci")
    assert bus != HWI_NULL_OFF
    return {
        "location": info.location(info.find_tag_after(bus, "location")),
        "irq": [info.irq(t) for t in info.find_tags(bus, "irq")],
        "windows": [info.pci_window(t) for t in info.find_tags(bus, "pci_window")],
        "busrange": info.pci_busrange(info.find_tag_after(bus, "pci_busrange")),
        "intmap": [info.pci_intmap(t) for t in info.find_tags(bus, "pci_intmap")],
        "optstr": info.optstr(info.find_tag_after(bus, "optstr")),
    }


@pytest.mark.parametrize("which", ["board", "qemu"])
def test_host_bridge_hwinfo(which: str) -> None:
    blob = VirtBoard().device_tree() if which == "board" else qemu_virt_dtb()
    view = pci_view(hwinfo_from_fdt(blob))
    assert view["location"] == Location(0x3000_0000, 0x1000_0000)
    assert view["irq"] == [0x20]
    assert view["windows"] == EXPECTED_WINDOWS
    assert view["busrange"] == (0, 255)
    assert view["optstr"] == "pci-host-ecam-generic"
    intmap = view["intmap"]
    assert isinstance(intmap, list) and len(intmap) == 16
    # QEMU's swizzle as written in the dts: slot 1 INTA -> 0x21, slot 3 INTB -> 0x20
    slot1 = next(m for m in intmap if m.matches(1 << 11, 1))
    slot3 = next(m for m in intmap if m.matches(3 << 11 | 2 << 8, 2))
    assert (slot1.irq, slot3.irq) == (0x21, 0x20)


def test_both_blobs_publish_the_same_bridge() -> None:
    assert pci_view(hwinfo_from_fdt(VirtBoard().device_tree())) == pci_view(
        hwinfo_from_fdt(qemu_virt_dtb())
    )


def test_devices_on_the_qemu_blob() -> None:
    info = hwinfo_from_fdt(qemu_virt_dtb())
    uart = info.find_device("serial")
    assert uart != HWI_NULL_OFF
    assert info.location(info.find_tag_after(uart, "location")) == Location(0x1000_0000, 0x100)
    assert info.irq(info.find_tag_after(uart, "irq")) == 10
    assert info.optstr(info.find_tag_after(uart, "optstr")) == "ns16550a"
    virtio = []
    off = info.find_device("virtio_mmio")
    while off != HWI_NULL_OFF:
        virtio.append(info.location(info.find_tag_after(off, "location")).base)
        off = info.find_device("virtio_mmio", off)
    assert sorted(virtio) == [0x1000_1000 + 0x1000 * i for i in range(8)]
    assert info.find_item(HWI_NULL_OFF, "hw", "internal", "serial") == uart
    assert info.find_item(HWI_NULL_OFF, "pci", "serial") == HWI_NULL_OFF
    assert info.find_device("nosuch") == HWI_NULL_OFF
    assert info.find_bus("pci", info.find_bus("pci")) == HWI_NULL_OFF


def test_no_pcie_node_publishes_no_pci_bus() -> None:
    root = Node("", {"#address-cells": cells(2), "#size-cells": cells(2)})
    root.add(Node("memory@80000000", {"reg": pairs([(0x8000_0000, 1 << 20)], 2, 2)}))
    info = hwinfo_from_fdt(build_dtb(root))
    assert info.find_bus("pci") == HWI_NULL_OFF
    assert info.find_item(HWI_NULL_OFF, "hw") == 0


def _bridge(ranges: bytes, parent_ranges: bytes = EMPTY) -> bytes:
    root = Node("", {"#address-cells": cells(2), "#size-cells": cells(2)})
    soc = root.add(
        Node(
            "soc",
            {
                "#address-cells": cells(1),
                "#size-cells": cells(1),
                "compatible": strings("simple-bus"),
                "ranges": parent_ranges,
            },
        )
    )
    soc.add(
        Node(
            "pcie@1000",
            {
                "compatible": strings("pci-host-ecam-generic"),
                "#address-cells": cells(3),
                "#size-cells": cells(2),
                "reg": cells(0x1000, 0x100000),
                "ranges": ranges,
            },
        )
    )
    return build_dtb(root)


def test_prefetch_window_and_translation_through_parent_ranges() -> None:
    # phys.hi 0x43000000: prefetchable 64-bit memory (PCI Bus Binding 2.2.1.1)
    ranges = cells(0x4300_0000, 0, 0x8000, 0x9000, 0, 0x1000)
    # soc maps its 0x0..0x100_0000 to CPU 0x5_0000_0000
    blob = _bridge(ranges, cells(0, 0x5, 0, 0x100_0000))
    info = hwinfo_from_fdt(blob)
    bus = info.find_bus("pci")
    assert info.location(info.find_tag_after(bus, "location")).base == 0x5_0000_1000
    window = info.pci_window(info.find_tag_after(bus, "pci_window"))
    assert window == PciWindow(
        0x5_0000_9000, 0x8000, 0x1000, WindowFlags.MEM | WindowFlags.MEM64 | WindowFlags.PREFETCH
    )
    assert info.find_tag_after(bus, "irq") == HWI_NULL_OFF  # no interrupt-map, no irq tag


def test_bad_bridges_are_boot_errors() -> None:
    with pytest.raises(FdtError, match="configuration space"):
        hwinfo_from_fdt(_bridge(cells(0, 0, 0, 0x9000, 0, 0x1000)))
    with pytest.raises(FdtError, match="not a multiple of 6"):
        hwinfo_from_fdt(_bridge(cells(0x0200_0000, 0, 0)))
    with pytest.raises(FdtError, match="outside every 'ranges' entry"):
        hwinfo_from_fdt(_bridge(cells(0x0200_0000, 0, 0, 0x9000, 0, 0x1000), cells(0, 0, 0, 0x10)))
    with pytest.raises(FdtError, match="bad DTB magic"):
        hwinfo_from_fdt(b"\0" * 64)
    assert window_flags(0x0100_0000) is WindowFlags.IO


def test_section_layout() -> None:
    """hwi_prefix sizes count 4-byte units; items own the tags that follow them."""
    info = HwInfo()
    root = info.add_item("Group", "hw")
    bus = info.add_item("Bus", "pci", root)
    info.add_location(Location(0x3000_0000, 0x1000_0000))
    irq = info.add_irq(0x20)
    info.add_optstr("x")
    dev = info.add_item("Device", "thing", bus)
    raw = info.section
    size, name = struct.unpack_from("<HH", raw, bus)
    assert size == 3  # an item header is 12 bytes
    assert info.string_table[name : name + 4] == b"Bus\0"
    itemsize, _, owner, kids = struct.unpack_from("<HHHH", raw, bus + 4)
    assert (itemsize, owner, kids) == ((dev - bus) // UNIT, root, 1)
    assert struct.unpack_from("<HH", raw, irq)[0] == 2 and irq % UNIT == 0
    assert info.find_tag_after(bus, "irq") == irq
    assert info.find_tag_after(bus, "irq", irq) == HWI_NULL_OFF
    assert info.find_tag_after(dev, "irq") == HWI_NULL_OFF  # tags stop at the next item
    assert info.find_tag_after(HWI_NULL_OFF, "irq") == HWI_NULL_OFF
    with pytest.raises(ValueError):
        info.irq(bus)
    with pytest.raises(ValueError):
        HwInfo().add_irq(1)

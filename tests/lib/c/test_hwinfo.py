"""The program-facing hwinfo calls, read from inside a process."""

from __future__ import annotations

import pytest

from qrv.hw.board import VirtBoard
from qrv.kernel import Kernel
from qrv.lib.c.hwinfo import (
    HWI_NULL_OFF,
    WindowFlags,
    hwinfo_find_bus,
    hwinfo_find_device,
    hwinfo_find_item,
    hwinfo_find_tag_after,
    hwinfo_irq,
    hwinfo_item_name,
    hwinfo_location,
    hwinfo_optstr,
    hwinfo_pci_busrange,
    hwinfo_pci_intmap,
    hwinfo_pci_window,
)


def test_program_sees_the_host_bridge() -> None:
    kernel = Kernel(VirtBoard(ram_size=1 << 20))
    try:
        kernel.load_hwinfo()
        with kernel.adopt("prog"):
            bus = hwinfo_find_bus("pci")
            assert bus != HWI_NULL_OFF and hwinfo_item_name(bus) == "pci"
            assert hwinfo_find_bus("pci", bus) == HWI_NULL_OFF
            loc = hwinfo_location(hwinfo_find_tag_after(bus, "location"))
            assert (loc.base, loc.length) == (0x3000_0000, 0x1000_0000)
            assert hwinfo_irq(hwinfo_find_tag_after(bus, "irq")) == 0x20
            assert hwinfo_optstr(hwinfo_find_tag_after(bus, "optstr")) == "pci-host-ecam-generic"
            assert hwinfo_pci_busrange(hwinfo_find_tag_after(bus, "pci_busrange")) == (0, 255)
            first = hwinfo_find_tag_after(bus, "pci_window")
            second = hwinfo_find_tag_after(bus, "pci_window", first)
            third = hwinfo_find_tag_after(bus, "pci_window", second)
            assert hwinfo_find_tag_after(bus, "pci_window", third) == HWI_NULL_OFF
            assert hwinfo_pci_window(first).flags is WindowFlags.IO
            assert hwinfo_pci_window(third).cpu_addr == 0x4_0000_0000
            assert hwinfo_pci_intmap(hwinfo_find_tag_after(bus, "pci_intmap")).irq == 0x20
            assert hwinfo_find_device("plic") != HWI_NULL_OFF
            assert hwinfo_find_item(HWI_NULL_OFF, "hw", "pci") == bus
    finally:
        kernel.shutdown()


def test_no_hwinfo_finds_nothing() -> None:
    kernel = Kernel(None)
    try:
        with kernel.adopt("prog"):
            assert hwinfo_find_bus("pci") == HWI_NULL_OFF
            assert hwinfo_find_device("serial") == HWI_NULL_OFF
            assert hwinfo_find_tag_after(0, "irq") == HWI_NULL_OFF
            with pytest.raises(ValueError, match="no hwinfo"):
                hwinfo_location(0)
    finally:
        kernel.shutdown()

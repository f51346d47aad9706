"""Program-facing hwinfo lookups (the seed's ``hwinfo_find_bus`` & co.; QNX <drvr/hwinfo.h>).

The kernel builds the syspage hwinfo section from the device tree at boot
(:mod:`qrv.kernel.hwinfo`); these calls read the calling process's view of
it.  Offsets are byte offsets into the section; :data:`HWI_NULL_OFF` means
"none" (also when the system has no hwinfo at all).
"""

from __future__ import annotations

from qrv.kernel.hwinfo import HWI_NULL_OFF, HwInfo, Location, PciWindow, WindowFlags
from qrv.kernel.hwinfo_section import (
    BUS_INTERNAL,
    BUS_PCI,
    TAG_IRQ,
    TAG_LOCATION,
    TAG_OPTSTR,
    TAG_PCI_BUSRANGE,
    TAG_PCI_INTMAP,
    TAG_PCI_WINDOW,
    PciIntMap,
)
from qrv.lib.c.proc import system_hwinfo

__all__ = [
    "BUS_INTERNAL",
    "BUS_PCI",
    "HWI_NULL_OFF",
    "TAG_IRQ",
    "TAG_LOCATION",
    "TAG_OPTSTR",
    "TAG_PCI_BUSRANGE",
    "TAG_PCI_INTMAP",
    "TAG_PCI_WINDOW",
    "Location",
    "PciIntMap",
    "PciWindow",
    "WindowFlags",
    "hwinfo_find_bus",
    "hwinfo_find_device",
    "hwinfo_find_item",
    "hwinfo_find_tag_after",
    "hwinfo_irq",
    "hwinfo_item_name",
    "hwinfo_location",
    "hwinfo_optstr",
    "hwinfo_pci_busrange",
    "hwinfo_pci_intmap",
    "hwinfo_pci_window",
]


def _info() -> HwInfo | None:
    info = system_hwinfo()
    return info if isinstance(info, HwInfo) else None


def hwinfo_find_bus(name: str, prev: int = HWI_NULL_OFF) -> int:
    """The next bus item called `name` after `prev` (HWI_NULL_OFF: from the start)."""
    info = _info()
    return HWI_NULL_OFF if info is None else info.find_bus(name, prev)


def hwinfo_find_device(name: str, prev: int = HWI_NULL_OFF) -> int:
    """The next device item called `name` after `prev`."""
    info = _info()
    return HWI_NULL_OFF if info is None else info.find_device(name, prev)


def hwinfo_find_item(start: int, *names: str) -> int:
    """``hwi_find_item``: the last name is the item, earlier names its owners."""
    info = _info()
    return HWI_NULL_OFF if info is None else info.find_item(start, *names)


def hwinfo_find_tag_after(item: int, tagname: str, after: int = HWI_NULL_OFF) -> int:
    """The next tag `tagname` of `item` after offset `after` (HWI_NULL_OFF: the first)."""
    info = _info()
    return HWI_NULL_OFF if info is None else info.find_tag_after(item, tagname, after)


def _need() -> HwInfo:
    info = _info()
    if info is None:
        raise ValueError("no hwinfo in this system")
    return info


def hwinfo_item_name(off: int) -> str:
    return _need().item_name(off)


def hwinfo_location(off: int) -> Location:
    return _need().location(off)


def hwinfo_irq(off: int) -> int:
    return _need().irq(off)


def hwinfo_optstr(off: int) -> str:
    return _need().optstr(off)


def hwinfo_pci_window(off: int) -> PciWindow:
    return _need().pci_window(off)


def hwinfo_pci_busrange(off: int) -> tuple[int, int]:
    return _need().pci_busrange(off)


def hwinfo_pci_intmap(off: int) -> PciIntMap:
    return _need().pci_intmap(off)

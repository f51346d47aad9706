"""hwinfo: what the kernel learns from the device tree at boot (SPEC.md 3.1).

:func:`hwinfo_from_fdt` parses a DTB with the kernel's own parser and
publishes, under the root group ``hw``:

* one bus item ``pci`` per ``pci-host-ecam-generic`` node (tags in
  :mod:`qrv.kernel.hwinfo_section`), with CPU addresses translated through the
  parents' ``ranges``;
* one device item per other enabled node with ``compatible`` and ``reg``
  under a ``simple-bus`` (named by the node's base name, e.g. ``plic``), with
  ``location``, ``irq`` (one-cell ``interrupts``) and ``optstr`` tags, under
  the bus item ``internal``.

A DTB without a PCIe node publishes no ``pci`` bus; a malformed DTB raises
:class:`~qrv.errors.FdtError`.
"""

from __future__ import annotations

from qrv.errors import FdtError
from qrv.kernel.fdt import FdtNode, FdtTree, parse_fdt
from qrv.kernel.hwinfo_section import (
    BUS_INTERNAL,
    BUS_PCI,
    HWI_NULL_OFF,
    ITEM_BUS,
    ITEM_DEVICE,
    ITEM_GROUP,
    ROOT_HW,
    HwInfo,
    Location,
    PciIntMap,
    PciWindow,
    WindowFlags,
)
from qrv.spec.fdt import (
    PCI_ADDRESS_CELLS,
    PCI_HI_PREFETCH,
    PCI_HI_SPACE_MASK,
    PCI_HI_SPACE_SHIFT,
    PciSpace,
)

__all__ = [
    "HWI_NULL_OFF",
    "HwInfo",
    "Location",
    "PciIntMap",
    "PciWindow",
    "WindowFlags",
    "hwinfo_from_fdt",
    "publish",
]

ECAM_COMPATIBLE = "pci-host-ecam-generic"
SIMPLE_BUS = "simple-bus"
PIN_INTA = 1
U32_MAX = 0xFFFF_FFFF
PCI_ADDR_BITS = 64  # phys.mid and phys.lo: the 64-bit PCI address under phys.hi
PCI_ADDR_MASK = (1 << PCI_ADDR_BITS) - 1


def window_flags(phys_hi: int) -> WindowFlags:
    """Decode the space code and prefetch bit of a ranges phys.hi cell (PCI Bus Binding 2.2.1.1)."""
    space = PciSpace((phys_hi >> PCI_HI_SPACE_SHIFT) & PCI_HI_SPACE_MASK)
    if space is PciSpace.IO:
        flags = WindowFlags.IO
    elif space is PciSpace.MEM32:
        flags = WindowFlags.MEM
    elif space is PciSpace.MEM64:
        flags = WindowFlags.MEM | WindowFlags.MEM64
    else:
        raise FdtError(f"ranges entry with phys.hi {phys_hi:#010x} maps configuration space")
    if phys_hi & PCI_HI_PREFETCH:
        flags |= WindowFlags.PREFETCH
    return flags


def translate(node: FdtNode, addr: int, size: int = 1) -> int:
    """Translate `addr` in `node`'s address space up to the root's (DT spec 2.3.8)."""
    while node.parent is not None:
        parent = node.parent
        if "ranges" not in node.props:
            raise FdtError(f"{node.path}: no 'ranges', so {addr:#x} has no CPU address")
        if node.props["ranges"]:
            widths = (node.address_cells, parent.address_cells, node.size_cells)
            for child, up, length in node.tuples("ranges", widths):
                if child <= addr and addr + size <= child + length:
                    addr = addr - child + up
                    break
            else:
                raise FdtError(f"{node.path}: {addr:#x} is outside every 'ranges' entry")
        node = parent
    return addr


def _phandles(tree: FdtTree) -> dict[int, FdtNode]:
    return {n.u32("phandle"): n for n in tree.nodes() if n.has("phandle")}


def _intmap(node: FdtNode, phandles: dict[int, FdtNode]) -> list[PciIntMap]:
    """Decode interrupt-map (DT spec 2.4.3.1) into per-entry records."""
    if not node.has("interrupt-map"):
        return []
    mask = node.cells("interrupt-map-mask") if node.has("interrupt-map-mask") else None
    child_intr = node.u32("#interrupt-cells") if node.has("#interrupt-cells") else 1
    child_cells = PCI_ADDRESS_CELLS + child_intr
    if mask is None or len(mask) != child_cells:
        raise FdtError(f"{node.path}: interrupt-map-mask must have {child_cells} cells")
    cells = node.cells("interrupt-map")
    out: list[PciIntMap] = []
    pos = 0
    while pos < len(cells):
        entry = cells[pos : pos + child_cells + 1]
        if len(entry) < child_cells + 1:
            raise FdtError(f"{node.path}: interrupt-map truncated at cell {pos}")
        parent = phandles.get(entry[-1])
        if parent is None:
            raise FdtError(f"{node.path}: interrupt-map names unknown phandle {entry[-1]:#x}")
        p_addr = parent.u32("#address-cells") if parent.has("#address-cells") else 0
        p_intr = parent.u32("#interrupt-cells") if parent.has("#interrupt-cells") else 1
        start = pos + child_cells + 1 + p_addr
        spec = cells[start : start + p_intr]
        if len(spec) != p_intr or p_intr < 1:
            raise FdtError(f"{node.path}: interrupt-map truncated at cell {pos}")
        out.append(PciIntMap(mask[0], mask[PCI_ADDRESS_CELLS], entry[0], entry[3], spec[0]))
        pos = start + p_intr
    return out


def _publish_pci(info: HwInfo, root_item: int, node: FdtNode, phandles: dict[int, FdtNode]) -> None:
    regs = node.reg()
    if not regs:
        raise FdtError(f"{node.path}: empty 'reg' (no ECAM window)")
    parent = node.parent or node
    ecam_base, ecam_size = regs[0]
    if ecam_size > U32_MAX:
        raise FdtError(f"{node.path}: ECAM size {ecam_size:#x} does not fit hwi_location")
    windows: list[PciWindow] = []
    if node.has("ranges"):
        widths = (PCI_ADDRESS_CELLS, parent.address_cells, node.size_cells)
        for child, up, size in node.tuples("ranges", widths):
            cpu = translate(parent, up, size)
            pci_addr = child & PCI_ADDR_MASK  # phys.mid:phys.lo
            windows.append(PciWindow(cpu, pci_addr, size, window_flags(child >> PCI_ADDR_BITS)))
    intmap = _intmap(node, phandles)
    info.add_item(ITEM_BUS, BUS_PCI, root_item)
    info.add_location(Location(translate(parent, ecam_base, ecam_size), ecam_size))
    if node.has("bus-range"):
        first, last = node.cells("bus-range")[:2]
        info.add_pci_busrange(first, last)
    inta = next((m for m in intmap if m.child_hi == 0 and m.child_pin == PIN_INTA), None)
    if inta is not None:
        info.add_irq(inta.irq)
    for window in windows:
        info.add_pci_window(window)
    for entry in intmap:
        info.add_pci_intmap(entry)
    info.add_optstr(node.string("compatible"))


def _is_device(node: FdtNode) -> bool:
    if node.parent is None or not node.has("compatible") or not node.has("reg"):
        return False
    if node.has("status") and node.string("status") not in ("okay", "ok"):
        return False
    on_bus = node.parent.has("compatible") and SIMPLE_BUS in node.parent.strings("compatible")
    return on_bus and ECAM_COMPATIBLE not in node.strings("compatible")


def publish(tree: FdtTree) -> HwInfo:
    """Build the hwinfo section from a parsed tree."""
    info = HwInfo()
    root_item = info.add_item(ITEM_GROUP, ROOT_HW)
    phandles = _phandles(tree)
    for node in tree.compatible(ECAM_COMPATIBLE):
        _publish_pci(info, root_item, node, phandles)
    devices = [n for n in tree.nodes() if _is_device(n)]
    if devices:
        internal = info.add_item(ITEM_BUS, BUS_INTERNAL, root_item)
        for node in devices:
            parent = node.parent or node
            base, size = node.reg()[0]
            info.add_item(ITEM_DEVICE, node.basename, internal)
            info.add_location(Location(translate(parent, base, size), min(size, U32_MAX)))
            irqs = node.cells("interrupts") if node.has("interrupts") else []
            if len(irqs) == 1:
                info.add_irq(irqs[0])
            info.add_optstr(node.string("compatible"))
    return info


def hwinfo_from_fdt(dtb: bytes) -> HwInfo:
    """Parse `dtb` and publish its hwinfo; a malformed blob raises FdtError."""
    return publish(parse_fdt(dtb))

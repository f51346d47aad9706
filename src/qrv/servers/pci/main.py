"""pci-server: discover the host bridge in hwinfo, enumerate once, assign BARs, serve /dev/pci.

Usage: ``pci-server [-v] [-n PATH]`` (PATH defaults to /dev/pci, as QNX's ``-n``);
``-v`` logs the enumeration (one summary line, then one line per function).
The host bridge comes only from the syspage hwinfo (bus item ``pci``); with
none, pci-server says so and exits with ENODEV.  The MSI target MSI-X vectors are
programmed with is the hwinfo device ``imsics`` (the built-in board's; QEMU's with
``aia=aplic-imsic``); without one, enabling MSI-X is IRQ_NOT_AVAIL.
"""

from __future__ import annotations

import errno

from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.hwinfo import (
    BUS_PCI,
    HWI_NULL_OFF,
    TAG_IRQ,
    TAG_LOCATION,
    TAG_PCI_BUSRANGE,
    TAG_PCI_INTMAP,
    TAG_PCI_WINDOW,
    WindowFlags,
    hwinfo_find_bus,
    hwinfo_find_device,
    hwinfo_find_tag_after,
    hwinfo_irq,
    hwinfo_location,
    hwinfo_pci_busrange,
    hwinfo_pci_intmap,
    hwinfo_pci_window,
)
from qrv.lib.c.iofunc import IofuncAttr, iofunc_attr_init, iofunc_func_init
from qrv.lib.c.mman import mmap_phys
from qrv.lib.c.proc import procmgr_ready
from qrv.lib.c.resmgr import resmgr_attach
from qrv.lib.c.stdio import eprintf, printf
from qrv.servers.pci.alloc import Assigner, HostWindow, close_bridge_windows
from qrv.servers.pci.config import Ecam
from qrv.servers.pci.devices import DeviceTable, IntMapEntry, route_irq
from qrv.servers.pci.enumerate import Enumerator, PciNode
from qrv.servers.pci.msix import MsixManager
from qrv.servers.pci.server import PciServer
from qrv.spec.iomsg import S_IFCHR, FileType
from qrv.spec.pci import Cfg
from qrv.spec.pci_msg import PCI_BUS, PCI_DEV, PCI_FUNC

NAME = "pci-server"
DEFAULT_PATH = "/dev/pci"
DEV_PCI_MODE = S_IFCHR | 0o666
MAX_BUS_NUMBER = 0xFF
NO_IRQ_LINE = 0xFF
MSI_TARGET = "imsics"


def _tags(bus: int, name: str) -> list[int]:
    out: list[int] = []
    off = hwinfo_find_tag_after(bus, name)
    while off != HWI_NULL_OFF:
        out.append(off)
        off = hwinfo_find_tag_after(bus, name, off)
    return out


def _windows(bus: int) -> list[HostWindow]:
    out = []
    for off in _tags(bus, TAG_PCI_WINDOW):
        w = hwinfo_pci_window(off)
        io = bool(w.flags & WindowFlags.IO)
        out.append(
            HostWindow(w.cpu_addr, w.pci_addr, w.size, io, bool(w.flags & WindowFlags.PREFETCH))
        )
    return out


def bdf_text(bdf: int) -> str:
    return f"{PCI_BUS(bdf):02x}:{PCI_DEV(bdf):02x}.{PCI_FUNC(bdf)}"


def bring_up(bus: int, verbose: bool) -> DeviceTable:
    """Map ECAM, enumerate, assign BARs, route INTx: the start-up half of the server."""
    loc = hwinfo_location(hwinfo_find_tag_after(bus, TAG_LOCATION))
    first, last = 0, MAX_BUS_NUMBER
    busrange = hwinfo_find_tag_after(bus, TAG_PCI_BUSRANGE)
    if busrange != HWI_NULL_OFF:
        first, last = hwinfo_pci_busrange(busrange)
    ecam = Ecam(mmap_phys(loc.base, loc.length), first)
    nodes = Enumerator(ecam, first, min(last, ecam.last_bus)).run()
    close_bridge_windows(ecam, [n for n in nodes if n.is_bridge])
    Assigner(ecam, _windows(bus)).run([n for n in nodes if n.parent is None])
    intmap = [IntMapEntry(**vars(hwinfo_pci_intmap(t))) for t in _tags(bus, TAG_PCI_INTMAP)]
    irq_tag = hwinfo_find_tag_after(bus, TAG_IRQ)
    fallback = hwinfo_irq(irq_tag) if irq_tag != HWI_NULL_OFF else -1
    for node in nodes:
        node.irq = route_irq(node, intmap, fallback)
        line = node.irq if 0 <= node.irq < NO_IRQ_LINE else NO_IRQ_LINE
        ecam.write(node.bdf, Cfg.INTERRUPT_LINE, 1, line)
    if verbose:
        summary = f"ECAM {loc.base:#x} (buses {first}-{ecam.last_bus}): {len(nodes)} function(s)"
        printf(f"{NAME}: {summary}\n")
        for node in nodes:
            printf(_describe(node))
    return DeviceTable(ecam, nodes, MsixManager(ecam, msi_target(), mmap_phys))


def msi_target() -> int | None:
    """The MSI target's address (its ``seteipnum_le``), from hwinfo; None without one."""
    dev = hwinfo_find_device(MSI_TARGET)
    if dev == HWI_NULL_OFF:
        return None
    tag = hwinfo_find_tag_after(dev, TAG_LOCATION)
    return None if tag == HWI_NULL_OFF else hwinfo_location(tag).base


def _describe(node: PciNode) -> str:
    bars = " ".join(
        f"BAR{b.index}={b.cpu_addr:#x}/{b.size:#x}" if b.assigned else f"BAR{b.index}=unassigned"
        for b in node.bars
    )
    return (
        f"{NAME}: {bdf_text(node.bdf)} {node.vid:04x}:{node.did:04x} class {node.ccode:06x}"
        f" irq {node.irq} {bars}".rstrip()
        + "\n"
    )


def main(argv: list[str]) -> int:
    args = list(argv[1:])
    verbose, path = False, DEFAULT_PATH
    while args:
        arg = args.pop(0)
        if arg == "-v":
            verbose = True
        elif arg == "-n" and args:
            path = args.pop(0)
        else:
            eprintf(f"{NAME}: usage: {NAME} [-v] [-n PATH]\n")
            return errno.EINVAL
    bus = hwinfo_find_bus(BUS_PCI)
    if bus == HWI_NULL_OFF:
        eprintf(f"{NAME}: ECAM: no PCIe host bridge in syspage hwinfo (ENODEV)\n")
        return errno.ENODEV
    table = bring_up(bus, verbose)
    server = PciServer(table)
    dpp = dispatch_create()
    connect_funcs, io_funcs = iofunc_func_init()
    io_funcs.msg = server.io_msg
    io_funcs.close_ocb = server.close_ocb
    attr = IofuncAttr()
    iofunc_attr_init(attr, DEV_PCI_MODE, None, None)
    resmgr_attach(dpp, None, path, FileType.ANY, 0, connect_funcs, io_funcs, attr)
    procmgr_ready()
    dispatch_loop(dpp)
    return 0

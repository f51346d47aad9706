"""Shared pieces of the pci-server tests: test functions, boards, a running server."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from qrv.hw.board import VirtBoard
from qrv.hw.bus import Machine
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import BarKind, BarSpec, Capability, PciFunction, PciIdentity
from qrv.kernel import Kernel, Stdio
from qrv.servers.pci import main as pci_server
from qrv.spec.pci import CapId

MARK = 0x5A5A_0000
# From the reference dts / README: the windows of QEMU's virt machine
IO_WINDOW = (0x0300_0000, 0x1_0000)  # CPU base, size
MEM32_WINDOW = (0x4000_0000, 0x4000_0000)
MEM64_WINDOW = (0x4_0000_0000, 0x4_0000_0000)
READY_TIMEOUT = 10.0


class Probe(PciFunction):
    """A function whose BARs answer MARK | bar << 12 | offset."""

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        return MARK | bar << 12 | offset


def msix_cap(vectors: int = 65) -> Capability:
    body = (vectors - 1).to_bytes(2, "little") + (0x2000).to_bytes(4, "little")
    return Capability(CapId.MSIX, body + (0x3000).to_bytes(4, "little"))


def express_cap() -> Capability:
    return Capability(CapId.PCI_EXPRESS, bytes([0x02, 0x00]) + bytes(0x38))


def nvme_like() -> Probe:
    """Looks like QEMU's NVMe at enumeration: 1b36:0010 class 010802 rev 2, 16 KiB 64-bit BAR0."""
    return Probe(
        PciIdentity(
            0x1B36, 0x0010, 0x010802, revision=2, subsystem_vendor_id=0x1AF4, subsystem_id=0x1100
        ),
        [BarSpec(0, 0x4000, BarKind.MEM64)],
        [msix_cap(), express_cap()],
    )


def multifunction() -> tuple[Probe, Probe]:
    f0 = Probe(
        PciIdentity(0x8086, 0x1234, 0x020000, revision=1),
        [BarSpec(0, 0x100, BarKind.IO), BarSpec(1, 0x10_0000, BarKind.MEM32, prefetchable=True)],
        multifunction=True,
    )
    f1 = Probe(
        PciIdentity(0x8086, 0x1235, 0x0C0330),
        [
            BarSpec(2, 0x1000, BarKind.MEM32),
            BarSpec(4, 0x20_0000, BarKind.MEM64, prefetchable=True),
        ],
        interrupt_pin=2,
        multifunction=True,
    )
    return f0, f1


def populated_board() -> tuple[VirtBoard, dict[str, PciFunction]]:
    """00:01.0 NVMe-like, 00:02.0/.1 multi-function, 00:03.0 bridge -> 01:00.0, 00:04.1 orphan."""
    board = VirtBoard(ram_size=1 << 20)
    nvme = nvme_like()
    f0, f1 = multifunction()
    bridge = PciBridge(PciIdentity(0x1B36, 0x0001, 0x060400))
    behind = Probe(PciIdentity(0x1AF4, 0x1041, 0x020000), [BarSpec(1, 0x4000, BarKind.MEM32)])
    bridge.plug(behind, dev=0)
    orphan = Probe(PciIdentity(0x1234, 0x1111, 0xFF0000))
    board.plug_pci(nvme, dev=1)
    board.plug_pci(f0, dev=2, func=0)
    board.plug_pci(f1, dev=2, func=1)
    board.plug_pci(bridge, dev=3)
    board.plug_pci(orphan, dev=4, func=1)  # no function 0: not a device (PCI 3.0 6.2.1)
    return board, {"nvme": nvme, "f0": f0, "f1": f1, "bridge": bridge, "behind": behind}


@contextmanager
def running(
    machine: Machine | None, argv: list[str] | None = None
) -> Iterator[tuple[Kernel, int, io.BytesIO]]:
    """A kernel on `machine` with pci-server started and /dev/pci registered."""
    out = io.BytesIO()
    kernel = Kernel(machine, stdio=Stdio(io.BytesIO(), out, out))
    try:
        kernel.load_hwinfo()
        pid = kernel.spawn(pci_server, argv or ["pci-server"])
        if not kernel.wait_ready(pid, "/dev/pci", timeout=READY_TIMEOUT):
            raise AssertionError(f"pci-server did not come up: {out.getvalue()!r}")
        yield kernel, pid, out
    finally:
        kernel.shutdown()

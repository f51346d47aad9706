"""Enumeration and BAR assignment, without the kernel: property tests on random buses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.hw.board import VirtBoard
from qrv.hw.bus import PhysicalBus
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import BarKind, BarSpec, PciIdentity
from qrv.servers.pci.alloc import IO_FLOOR, Assigner, HostWindow, close_bridge_windows
from qrv.servers.pci.config import Ecam
from qrv.servers.pci.enumerate import BarType, Enumerator
from qrv.spec.pci import BRIDGE_IO_GRANULE, BRIDGE_MEM_GRANULE, Cfg, Command
from qrv.spec.pci_msg import PCI_BDF
from tests.servers.pci.pcibus import IO_WINDOW, MARK, MEM32_WINDOW, MEM64_WINDOW, Probe

ECAM_BASE, ECAM_SIZE = 0x3000_0000, 0x1000_0000
WINDOWS = [
    HostWindow(IO_WINDOW[0], 0, IO_WINDOW[1], io=True),
    HostWindow(MEM32_WINDOW[0], MEM32_WINDOW[0], MEM32_WINDOW[1], io=False),
    HostWindow(MEM64_WINDOW[0], MEM64_WINDOW[0], MEM64_WINDOW[1], io=False),
]


class BusMapping:
    """A MAP_PHYS-like view of the board's bus (what mmap_phys gives the server)."""

    def __init__(self, bus: PhysicalBus, base: int, length: int) -> None:
        self.bus, self.base, self.length = bus, base, length

    def read8(self, off: int) -> int:
        return self.bus.load(self.base + off, 1)

    def read16(self, off: int) -> int:
        return self.bus.load(self.base + off, 2)

    def read32(self, off: int) -> int:
        return self.bus.load(self.base + off, 4)

    def write8(self, off: int, value: int) -> None:
        self.bus.store(self.base + off, 1, value)

    def write16(self, off: int, value: int) -> None:
        self.bus.store(self.base + off, 2, value)

    def write32(self, off: int, value: int) -> None:
        self.bus.store(self.base + off, 4, value)


bar_specs = st.one_of(
    st.builds(lambda e: (BarKind.IO, 1 << e, False), st.integers(2, 8)),
    st.builds(lambda e, p: (BarKind.MEM32, 1 << e, p), st.integers(4, 29), st.booleans()),
    st.builds(lambda e, p: (BarKind.MEM64, 1 << e, p), st.integers(4, 33), st.booleans()),
)


@st.composite
def functions(draw: st.DrawFn) -> list[BarSpec]:
    specs = draw(st.lists(bar_specs, max_size=3))
    out, index = [], 0
    for kind, size, pref in specs:
        if index + (2 if kind is BarKind.MEM64 else 1) > 6:
            break
        out.append(BarSpec(index, size, kind, prefetchable=pref))
        index += 2 if kind is BarKind.MEM64 else 1
    return out


@settings(max_examples=40, deadline=None)
@given(
    root=st.lists(functions(), min_size=1, max_size=6),
    behind=st.lists(functions(), max_size=3),
)
def test_assignment_is_disjoint_aligned_and_inside_windows(
    root: list[list[BarSpec]], behind: list[list[BarSpec]]
) -> None:
    board = VirtBoard(ram_size=1 << 16)
    probes: dict[int, Probe] = {}
    for i, bars in enumerate(root):
        probes[PCI_BDF(0, i + 1, 0)] = Probe(PciIdentity(0x1234, i, 0xFF0000), bars)
        board.plug_pci(probes[PCI_BDF(0, i + 1, 0)], dev=i + 1)
    if behind:
        bridge = PciBridge(PciIdentity(0x1B36, 1, 0x060400))
        board.plug_pci(bridge, dev=20)
        for i, bars in enumerate(behind):
            probes[PCI_BDF(1, i, 0)] = Probe(PciIdentity(0x1234, 0x100 + i, 0xFF0000), bars)
            bridge.plug(probes[PCI_BDF(1, i, 0)], dev=i)

    ecam = Ecam(BusMapping(board.bus, ECAM_BASE, ECAM_SIZE))
    nodes = Enumerator(ecam).run()
    assert {n.bdf for n in nodes} == {PCI_BDF(0, 0, 0), *probes} | (
        {PCI_BDF(0, 20, 0)} if behind else set()
    )
    close_bridge_windows(ecam, [n for n in nodes if n.is_bridge])
    Assigner(ecam, WINDOWS).run([n for n in nodes if n.parent is None])

    spans: list[tuple[bool, int, int]] = []
    refused: list[tuple[bool, int, int, bool]] = []  # io, size, alignment, may use high window
    for node in nodes:
        if node.bdf not in probes:
            continue
        specs = {b.index: b for b in probes[node.bdf].bars.values()}
        assert {b.index: b.size for b in node.bars} == {i: s.size for i, s in specs.items()}
        for bar in node.bars:
            if not bar.assigned:
                if node.parent is None:
                    high = bar.type is BarType.MEM64
                    refused.append((bar.is_io, bar.size, bar.size, high))
                continue
            assert bar.pci_addr % bar.size == 0
            window = next(
                w
                for w in WINDOWS
                if w.io == bar.is_io
                and w.cpu_addr <= bar.cpu_addr
                and bar.cpu_addr + bar.size <= w.cpu_addr + w.size
            )
            assert window.to_cpu(bar.pci_addr) == bar.cpu_addr
            if bar.type is BarType.MEM32 or node.parent is not None:
                assert bar.pci_addr + bar.size <= 1 << 32
            assert probes[node.bdf].bar_address(bar.index) == bar.pci_addr
            spans.append((bar.is_io, bar.cpu_addr, bar.cpu_addr + bar.size))
    for i, (io1, a1, e1) in enumerate(spans):
        for io2, a2, e2 in spans[i + 1 :]:
            assert io1 != io2 or e1 <= a2 or e2 <= a1
    # a subtree behind the bridge is placed whole or not at all (one 1 MiB-aligned block)
    for io in (True, False):
        members = [b for n in nodes if n.parent is not None for b in n.bars if b.is_io == io]
        if members and not all(b.assigned for b in members):
            assert not any(b.assigned for b in members)
            granule = BRIDGE_IO_GRANULE if io else BRIDGE_MEM_GRANULE
            total = -(-sum(b.size for b in members) // granule) * granule
            refused.append((io, total, max(granule, *(b.size for b in members)), False))
    # nothing was refused that a free, aligned gap of a suitable window could have held
    for io, size, alignment, high in refused:
        for w in WINDOWS:
            if w.io != io or (not high and w.pci_addr >= 1 << 32):
                continue
            start = max(w.cpu_addr + (IO_FLOOR if io else 0), w.cpu_addr)
            taken = sorted((a, e) for i2, a, e in spans if i2 == io)
            for a, e in [*taken, (w.cpu_addr + w.size, w.cpu_addr + w.size)]:
                slot = -(-(start - w.cpu_addr) // alignment) * alignment + w.cpu_addr
                assert not slot + size <= min(a, w.cpu_addr + w.size) or a < start, (
                    f"{size:#x} refused but [{slot:#x}, +{size:#x}) was free"
                )
                start = max(start, e)

    # with decode on, every assigned BAR answers at its CPU address, through the bridge too
    for node in nodes:
        ecam.write(node.bdf, Cfg.COMMAND, 2, Command.MEMORY_SPACE | Command.IO_SPACE)
    for node in nodes:
        for bar in node.bars:
            if bar.assigned and node.bdf in probes:
                assert board.bus.load(bar.cpu_addr, 4) == MARK | bar.index << 12


def test_sizing_restores_registers_and_command() -> None:
    board = VirtBoard(ram_size=1 << 16)
    probe = Probe(PciIdentity(1, 2, 0xFF0000), [BarSpec(0, 0x4000, BarKind.MEM64)])
    board.plug_pci(probe, dev=1)
    probe.config_write(Cfg.COMMAND, 2, Command.BUS_MASTER)
    ecam = Ecam(BusMapping(board.bus, ECAM_BASE, ECAM_SIZE))
    (bar,) = next(n for n in Enumerator(ecam).run() if n.bdf == PCI_BDF(0, 1, 0)).bars
    assert (bar.index, bar.type, bar.size, bar.prefetchable) == (0, BarType.MEM64, 0x4000, False)
    assert probe.cfg16(Cfg.COMMAND) == Command.BUS_MASTER
    assert probe.bar_address(0) == 0


def test_first_bar_lands_where_qemu_firmware_puts_it() -> None:
    """One 16 KiB 64-bit BAR (QEMU's NVMe): 0x40000000, as the README observed on QEMU."""
    board = VirtBoard(ram_size=1 << 16)
    probe = Probe(PciIdentity(0x1B36, 0x10, 0x010802), [BarSpec(0, 0x4000, BarKind.MEM64)])
    board.plug_pci(probe, dev=1)
    ecam = Ecam(BusMapping(board.bus, ECAM_BASE, ECAM_SIZE))
    nodes = Enumerator(ecam).run()
    Assigner(ecam, WINDOWS).run(nodes)
    assert probe.bar_address(0) == 0x4000_0000

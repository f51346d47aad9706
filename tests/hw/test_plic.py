"""The board's PLIC (QEMU virt's layout, RISC-V PLIC spec) and PCI INTx routing: every
function's pin reaches the source QEMU's device tree ``interrupt-map`` names for its
root slot and swizzled pin."""

from __future__ import annotations

import pytest

from qrv.hw.board import PLIC_BASE, VirtBoard
from qrv.hw.pcibridge import PciBridge
from qrv.hw.pcidev import PciFunction, PciIdentity
from qrv.hw.plic import CONTEXT_BASE, CONTEXT_STRIDE, ENABLE_BASE, ENABLE_STRIDE, PENDING_BASE, Plic
from qrv.kernel.fdt import parse_fdt
from tests.data import qemu_virt_dtb

S = 1  # hart 0's S-mode context
CLAIM = CONTEXT_BASE + S * CONTEXT_STRIDE + 4
THRESHOLD = CONTEXT_BASE + S * CONTEXT_STRIDE


def enable(plic: Plic, *sources: int, prio: int = 1) -> None:
    bits = 0
    for src in sources:
        plic.mmio_write(4 * src, 4, prio)
        bits |= 1 << src
    for w in range(3):
        plic.mmio_write(ENABLE_BASE + S * ENABLE_STRIDE + 4 * w, 4, bits >> (32 * w) & 0xFFFFFFFF)


def test_registers_as_qemu_lays_them_out() -> None:
    plic = Plic()
    plic.mmio_write(4 * 5, 4, 0xFF)
    plic.mmio_write(0, 4, 3)  # source 0 has no priority
    plic.mmio_write(ENABLE_BASE + S * ENABLE_STRIDE, 4, 0xFFFF_FFFF)
    plic.mmio_write(THRESHOLD, 4, 9)
    plic.mmio_write(PENDING_BASE, 4, 0xFFFF_FFFF)  # read-only
    assert [
        plic.mmio_read(4 * 5, 4),
        plic.mmio_read(0, 4),
        plic.mmio_read(ENABLE_BASE + S * ENABLE_STRIDE, 4),
        plic.mmio_read(THRESHOLD, 4),
        plic.mmio_read(PENDING_BASE, 4),
        plic.mmio_read(4 * 5, 2),  # only 32-bit accesses
    ] == [7, 0, 0xFFFF_FFFE, 1, 0, 0]


def test_claim_by_priority_then_number_and_the_threshold() -> None:
    plic = Plic()
    enable(plic, 33, 34, 40)
    plic.mmio_write(4 * 40, 4, 3)
    for src in (33, 34, 40):
        plic.set_irq(src, True)
    assert plic.output(S)
    order = [plic.mmio_read(CLAIM, 4) for _ in range(4)]
    assert order == [40, 33, 34, 0]
    assert not plic.output(S)
    plic.mmio_write(THRESHOLD, 4, 3)
    plic.set_irq(41, True)
    enable(plic, 41, prio=3)
    assert plic.mmio_read(CLAIM, 4) == 0  # priority 3 does not exceed threshold 3


def test_level_gateway_asks_again_after_completion_while_high() -> None:
    plic = Plic()
    changes: list[tuple[int, bool]] = []
    plic.on_output = lambda ctx, high: changes.append((ctx, high))
    enable(plic, 34)
    plic.set_irq(34, True)
    assert plic.mmio_read(CLAIM, 4) == 34
    plic.set_irq(34, True)  # still high while claimed: no second request
    assert plic.mmio_read(CLAIM, 4) == 0
    plic.mmio_write(CLAIM, 4, 34)  # complete, line still high: pending again
    assert plic.mmio_read(CLAIM, 4) == 34
    plic.set_irq(34, False)
    plic.mmio_write(CLAIM, 4, 34)
    assert plic.mmio_read(CLAIM, 4) == 0
    assert changes == [(S, True), (S, False), (S, True), (S, False)]


def test_a_completion_for_a_disabled_source_is_ignored() -> None:
    plic = Plic()
    enable(plic, 34)
    plic.set_irq(34, True)
    assert plic.mmio_read(CLAIM, 4) == 34
    enable(plic)  # source 34 disabled for the context
    plic.mmio_write(CLAIM, 4, 34)
    enable(plic, 34)
    assert plic.mmio_read(CLAIM, 4) == 0  # still claimed: the completion did not count


def qemu_route(dev: int, pin: int) -> int:
    """What QEMU 7.2's DT interrupt-map gives for root slot `dev`, INT`pin` (1..4)."""
    pci = next(n for n in parse_fdt(qemu_virt_dtb()).nodes() if n.basename == "pci")
    mask = pci.cells("interrupt-map-mask")
    cells = pci.cells("interrupt-map")
    hi = dev << 11
    for i in range(0, len(cells), 6):
        child_hi, _m, _l, child_pin, _phandle, irq = cells[i : i + 6]
        if hi & mask[0] == child_hi and pin & mask[3] == child_pin:
            return irq
    raise AssertionError(f"no interrupt-map entry for {dev}/{pin}")


def probe(pin: int) -> PciFunction:
    return PciFunction(PciIdentity(0x1234, 0x5678, 0xFF0000), interrupt_pin=pin)


@pytest.mark.parametrize("dev", [1, 2, 3, 4, 5, 6, 7, 31])
@pytest.mark.parametrize("pin", [1, 2, 3, 4])
def test_intx_follows_the_swizzle_of_the_device_tree(dev: int, pin: int) -> None:
    board = VirtBoard(ram_size=1 << 20)
    fn = probe(pin)
    board.plug_pci(fn, dev=dev)
    fn.set_intx(True)
    source = qemu_route(dev, pin)
    assert board.plic.level == 1 << source
    fn.set_intx(False)
    assert board.plic.level == 0


def test_behind_a_bridge_the_pin_is_swizzled_by_the_device_number() -> None:
    board = VirtBoard(ram_size=1 << 20)
    bridge = PciBridge(PciIdentity(0x1B36, 0x0001, 0x060400))
    behind = {d: probe(1) for d in (0, 1, 2, 3)}
    for d, fn in behind.items():
        bridge.plug(fn, dev=d)
    board.plug_pci(bridge, dev=3)
    got = []
    for fn in behind.values():
        fn.set_intx(True)
        got.append(board.plic.level.bit_length() - 1)
        fn.set_intx(False)
    assert got == [qemu_route(3, (0 + d) % 4 + 1) for d in (0, 1, 2, 3)]


def test_shared_lines_are_wired_or() -> None:
    board = VirtBoard(ram_size=1 << 20)
    a, b = probe(1), probe(1)
    board.plug_pci(a, dev=1)
    board.plug_pci(b, dev=5)  # (1 + 0) % 4 == (5 + 0) % 4: the same source
    a.set_intx(True)
    b.set_intx(True)
    a.set_intx(False)
    assert board.plic.level == 1 << qemu_route(1, 1)
    b.set_intx(False)
    assert board.plic.level == 0


def test_the_plic_is_on_the_bus_and_the_kernel_claims_through_it() -> None:
    board = VirtBoard(ram_size=1 << 20)
    fn = probe(1)
    board.plug_pci(fn, dev=2)
    board.interrupts.enable(34, True)
    assert board.bus.load(PLIC_BASE + 4 * 34, 4) == 1  # enabling gave it a priority
    fn.set_intx(True)
    assert board.interrupts.claim() == 34
    assert board.bus.load(PLIC_BASE + CLAIM, 4) == 0
    board.interrupts.complete(34)
    assert board.bus.load(PLIC_BASE + CLAIM, 4) == 34  # still high: asks again


def test_the_kernel_completes_a_source_it_masked_meanwhile() -> None:
    board = VirtBoard(ram_size=1 << 20)
    fn = probe(1)
    board.plug_pci(fn, dev=2)
    board.interrupts.enable(34, True)
    fn.set_intx(True)
    assert board.interrupts.claim() == 34
    board.interrupts.enable(34, False)  # InterruptAttachEvent: masked while served
    board.interrupts.complete(34)
    assert not board.plic.claimed  # the completion counted
    assert board.plic.enable[S] >> 34 & 1 == 0  # and the source is still masked
    fn.set_intx(False)
    fn.set_intx(True)
    board.interrupts.enable(34, True)
    assert board.interrupts.claim() == 34  # so it can fire again

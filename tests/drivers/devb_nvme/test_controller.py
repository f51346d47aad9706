"""The driver's controller layer against the NVMe model, reached only through the bus.

Expected data comes from the image file (every sector starts with b'LBA%08d'),
expected statuses from the NVMe Base Specification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qrv.drivers.devb_nvme.controller import Controller
from qrv.drivers.devb_nvme.errors import (
    BadCompletion,
    CommandFailed,
    ControllerFatal,
    ControllerTimeout,
)
from qrv.hw.bus import AddressSpace
from qrv.hw.nvme import Faults
from qrv.spec.nvme import GenericStatus, Sct
from tests.hw.nvme.conftest import RAM_BASE, RAM_SIZE, Rig, build_rig, file_bytes, make_image

BAR0 = 0x4000_0000


class Window:
    """A mapping of [base, base+size) of the bus, with the access methods of an mmap."""

    def __init__(self, space: AddressSpace, base: int, size: int) -> None:
        self.space, self.paddr, self.length = space, base, size

    def read16(self, off: int) -> int:
        return self.space.load(self.paddr + off, 2)

    def read32(self, off: int) -> int:
        return self.space.load(self.paddr + off, 4)

    def read64(self, off: int) -> int:
        return self.space.load(self.paddr + off, 8)

    def write32(self, off: int, value: int) -> None:
        self.space.store(self.paddr + off, 4, value)

    def write64(self, off: int, value: int) -> None:
        self.space.store(self.paddr + off, 8, value)

    def read(self, off: int, size: int) -> bytes:
        return self.space.read(self.paddr + off, size)

    def write(self, off: int, data: bytes) -> None:
        self.space.write(self.paddr + off, data)

    def view(self, off: int, size: int) -> memoryview | None:
        return self.space.ram_view(self.paddr + off, size)


def bring_up(rig: Rig, **kwargs: Any) -> Controller:
    rig.host.setup_pci()
    top = [RAM_BASE + RAM_SIZE // 2]  # the upper half of RAM: the host's lower half stays free

    def alloc(size: int) -> Window:
        size = -(-size // 4096) * 4096
        base = top[0]
        top[0] += size
        rig.space.write(base, bytes(size))
        return Window(rig.space, base, size)

    ctrl = Controller(Window(rig.space, BAR0, 0x4000), alloc, **kwargs)
    ctrl.read_cap()
    ctrl.disable()
    ctrl.setup_admin_queues()
    ctrl.enable()
    return ctrl


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def factory(**ctrl_args: Any) -> Rig:
        image = make_image(tmp_path / f"img{len(made)}.img")
        rig = build_rig(image, **ctrl_args)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        rig.ctrl.close()


def test_bring_up_identify_and_namespaces(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = bring_up(rig)
    ident = ctrl.identify_controller()
    assert (ident.vid, ident.sn) == (0x1B36, "qrv-test")
    assert ctrl.active_namespaces() == [1]
    ns = ctrl.identify_namespace(1)
    assert (ns.nlba, ns.lba_size) == ((4 << 20) // 512, 512)


@pytest.mark.parametrize("nlb", [1, 8, 9, 16, 300, 2048])
def test_reads_match_the_image_across_prp_shapes(rigs: Callable[..., Rig], nlb: int) -> None:
    """1 page (PRP1), 2 pages (PRP2), >2 (PRP list), > MDTS (split commands)."""
    rig = rigs()
    ctrl = bring_up(rig)
    ctrl.identify_controller()
    ns = ctrl.identify_namespace(1)
    ctrl.create_io_queues()
    data = ctrl.read(ns, 5, nlb)
    assert data == file_bytes(rig.image, 5 * 512, nlb * 512)


def test_many_commands_wrap_the_queues(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = bring_up(rig, io_entries=4)
    ns = ctrl.identify_namespace(1)
    io = ctrl.create_io_queues()
    for lba in range(50):  # > 12 wraps of a 4-entry queue: phase flips every time
        assert ctrl.read(ns, lba, 1)[:11] == f"LBA{lba:08d}".encode()
    assert io.entries == 4 and io.phase in (0, 1)


def test_read_past_the_end_is_lba_out_of_range(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = bring_up(rig)
    ns = ctrl.identify_namespace(1)
    ctrl.create_io_queues()
    with pytest.raises(CommandFailed) as err:
        ctrl.read(ns, ns.nlba - 1, 2)
    assert err.value.status.sct == Sct.GENERIC
    assert err.value.status.sc == GenericStatus.LBA_OUT_OF_RANGE
    assert err.value.status.dnr


def test_controller_that_never_becomes_ready_times_out(rigs: Callable[..., Rig]) -> None:
    rig = rigs(timeout=1, faults=Faults(never_ready=True))  # CAP.TO = 1 -> 500 ms
    with pytest.raises(ControllerTimeout, match=r"CAP\.TO"):
        bring_up(rig)


def test_fatal_status_while_enabling(rigs: Callable[..., Rig]) -> None:
    rig = rigs(faults=Faults(fatal=True))
    with pytest.raises(ControllerFatal):
        bring_up(rig)


def test_completion_with_a_wrong_cid(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = bring_up(rig)
    rig.ctrl.faults.wrong_cid = 1
    with pytest.raises(BadCompletion, match="expected CID"):
        ctrl.identify_controller()


def test_swallowed_command_times_out(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = bring_up(rig, timeout_s=0.2)
    rig.ctrl.faults.swallow = True
    with pytest.raises(ControllerTimeout, match="no completion"):
        ctrl.identify_controller()

"""A machine for NVMe tests: RAM at 0x8000_0000, ECAM at 0x3000_0000 and the 32-bit MMIO
window at 0x4000_0000 as on QEMU's riscv64 virt, the controller at 00:02.0 over a
temporary image, and the bus-only test host."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qrv.hw.bus import AddressSpace, Region
from qrv.hw.memory import GuestRam
from qrv.hw.nvme import Namespace, NvmeController
from qrv.hw.pcidev import BarKind
from qrv.hw.pcie import PcieHostBridge, Window
from tests.hw.nvme.host import NvmeHost

RAM_BASE = 0x8000_0000
RAM_SIZE = 8 << 20
ECAM_BASE = 0x3000_0000
ECAM_SIZE = 0x1000_0000
MMIO_BASE = 0x4000_0000
MMIO_SIZE = 0x4000_0000
IMAGE_SIZE = 4 << 20
NVME_SLOT = 2  # 00:02.0, as on both machines (the seed's serial port is 00:01.0)


@dataclass
class Rig:
    space: AddressSpace
    ctrl: NvmeController
    host: NvmeHost
    image: Path


def make_image(path: Path, size: int = IMAGE_SIZE) -> Path:
    """An image whose every 512-byte sector starts with its own number (LBA n: b'LBA%08d')."""
    with path.open("wb") as f:
        for lba in range(size // 512):
            f.write(f"LBA{lba:08d}".encode().ljust(512, b"."))
    return path


def build_rig(image: Path, namespaces: Sequence[Namespace] | None = None, **ctrl_args: Any) -> Rig:
    space = AddressSpace()
    space.add(Region("ram", RAM_BASE, RAM_SIZE, ram=GuestRam(RAM_SIZE)))
    bridge = PcieHostBridge(space, ECAM_BASE, ECAM_SIZE)
    bridge.add_window(Window("mmio", MMIO_BASE, MMIO_BASE, MMIO_SIZE, BarKind.MEM32))
    ctrl = NvmeController(namespaces if namespaces is not None else [Namespace(image)], **ctrl_args)
    bridge.plug(ctrl, dev=NVME_SLOT)
    host = NvmeHost(space, ecam_base=ECAM_BASE, dma_base=RAM_BASE, dma_size=RAM_SIZE)
    return Rig(space, ctrl, host, image)


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return make_image(tmp_path / "nvme.img")


@pytest.fixture
def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Build rigs (closed at teardown): rig_factory(namespaces=..., **controller args)."""
    rigs: list[Rig] = []

    def factory(namespaces: Sequence[Namespace] | None = None, **ctrl_args: Any) -> Rig:
        img = tmp_path / f"nvme{len(rigs)}.img"
        if not img.exists():
            make_image(img)
        rig = build_rig(img, namespaces, **ctrl_args)
        rigs.append(rig)
        return rig

    yield factory
    for rig in rigs:
        rig.ctrl.close()


@pytest.fixture
def rig(rig_factory: Callable[..., Rig]) -> Rig:
    """A controller with one 512-byte-LBA namespace, PCI set up, not yet enabled."""
    r: Rig = rig_factory()
    r.host.setup_pci()
    return r


@pytest.fixture
def ready(rig: Rig) -> Rig:
    """As `rig`, enabled, with I/O queue pair 1 created."""
    rig.host.enable()
    rig.host.create_io_queues(1)
    return rig


def file_bytes(path: Path, offset: int, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, size, offset)
    finally:
        os.close(fd)

"""Either machine with one NVMe controller at 00:02.0 over `image`, or with edu there, for
tests run on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qrv.emu import EDU_DMA_MASK, BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from tests.conftest import require_tool

KINDS = ["builtin", "qemu"]


@contextmanager
def nvme_machine(kind: str, image: Path) -> Iterator[Machine]:
    """The built-in board (``builtin``) or QEMU (``qemu``) with `image` as its NVMe drive."""
    with machine(kind, image) as m:
        yield m


@contextmanager
def edu_machine(kind: str) -> Iterator[Machine]:
    """Either machine with edu alone at 00:02.0 (INTA: PLIC source 34), no NVMe drive."""
    with machine(kind, None, edu=True) as m:
        yield m


@contextmanager
def machine(kind: str, image: Path | None, *, edu: bool = False) -> Iterator[Machine]:
    """`kind`'s machine: an NVMe drive over `image` (if any), then edu (if asked)."""
    if kind == "builtin":
        builtin = BuiltinMachine(image, edu=edu)
        try:
            yield builtin.board
        finally:
            builtin.close()
        return
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    devices = [f"edu,dma_mask={EDU_DMA_MASK:#x}"] if edu else []
    with QemuMachine(image, devices=devices) as qemu:
        yield qemu

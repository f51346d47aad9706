"""Either machine with one NVMe controller at 00:02.0 over `image`, for tests run on both."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from tests.conftest import require_tool

KINDS = ["builtin", "qemu"]


@contextmanager
def nvme_machine(kind: str, image: Path) -> Iterator[Machine]:
    """The built-in board (``builtin``) or QEMU (``qemu``) with `image` as its NVMe drive."""
    if kind == "builtin":
        builtin = BuiltinMachine(image)
        try:
            yield builtin.board
        finally:
            builtin.close()
        return
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    with QemuMachine(image) as qemu:
        yield qemu

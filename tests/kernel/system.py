"""Shared helpers: a kernel with captured console streams, run as a fixture."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from qrv.hw.bus import AddressSpace, PhysicalBus, Region
from qrv.hw.memory import GuestRam
from qrv.kernel import Kernel, Stdio

RAM_BASE = 0x8000_0000
RAM_SIZE = 1 << 20


class TinyMachine:
    """RAM only: enough for mmap tests (qrv.hw.bus.Machine)."""

    def __init__(self) -> None:
        self.space = AddressSpace()
        self.ram = GuestRam(RAM_SIZE)
        self.space.add(Region("ram", RAM_BASE, RAM_SIZE, ram=self.ram))

    @property
    def bus(self) -> PhysicalBus:
        return self.space

    @property
    def ram_base(self) -> int:
        return RAM_BASE

    @property
    def ram_size(self) -> int:
        return RAM_SIZE

    def device_tree(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


class Console:
    """Captured stdin/stdout/stderr of a kernel."""

    def __init__(self, stdin: bytes = b"") -> None:
        self.stdin = io.BytesIO(stdin)
        self.stdout = io.BytesIO()
        self.stderr = io.BytesIO()

    def stdio(self) -> Stdio:
        return Stdio(self.stdin, self.stdout, self.stderr)


def kernel_fixture(machine: TinyMachine | None = None) -> Iterator[tuple[Kernel, Console]]:
    console = Console()
    k = Kernel(machine, console.stdio())
    try:
        yield k, console
    finally:
        k.shutdown()


@pytest.fixture
def sysk() -> Iterator[tuple[Kernel, Console]]:
    yield from kernel_fixture(TinyMachine())

"""Shared helpers: a kernel with captured console streams, run as a fixture."""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Iterator
from typing import TypeVar

import pytest

from qrv.hw.bus import AddressSpace, PhysicalBus, Region
from qrv.hw.memory import GuestRam
from qrv.kernel import Kernel, Stdio, current_or_none
from qrv.lib.c import proc

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


POLL_S = 0.002
T = TypeVar("T")


def modelled() -> bool:
    """Whether the caller is a modelled thread (a greenlet on the kernel's CPU thread)."""
    t = current_or_none()
    return t is not None and t.proxy is None


def pause(seconds: float) -> None:
    """Sleep without stalling the system: a modelled thread sleeps in the kernel."""
    if modelled():
        proc.delay(seconds)
    else:
        time.sleep(seconds)


class KEvent(threading.Event):
    """A host event that modelled code may wait on too.

    A modelled thread must not block its host thread (every other modelled
    thread runs on it): it polls, sleeping in the kernel between looks,
    bounded by the host's clock.
    """

    def wait(self, timeout: float | None = None) -> bool:
        if not modelled():
            return super().wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            proc.delay(POLL_S)
        return True


class KQueue(queue.Queue[T]):
    """A host queue that modelled code may block on too (see :class:`KEvent`)."""

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        if not block or not modelled():
            return super().get(block, timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return super().get(block=False)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                proc.delay(POLL_S)

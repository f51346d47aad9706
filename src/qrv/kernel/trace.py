"""The kernel's event trace (``qrv emu --trace FILE``): one line per kernel event.

A line is ``<virtual seconds> <pid>.<tid> <event> <details>``; the
thread is the one running when the event happened (``0.0`` for the
kernel itself, e.g. a host request).  Nothing in a line depends on the
host (no wall time, no addresses of Python objects), so two runs of the
same system with the same seed and inputs write the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from qrv.hw.bus import PhysicalBus
from qrv.hw.clock import Clock


class Tracer:
    """Writes trace lines to a text stream; `who` names the running thread."""

    def __init__(self, out: TextIO, clock: Clock, who: Callable[[], str]) -> None:
        self._out = out
        self._clock = clock
        self._who = who

    def emit(self, event: str) -> None:
        self._out.write(f"{self._clock.now():.6f} {self._who()} {event}\n")

    def flush(self) -> None:
        self._out.flush()


class TracingBus:
    """A physical bus whose loads and stores (MMIO, RAM through a mapping) are traced."""

    def __init__(self, bus: PhysicalBus, tracer: Tracer) -> None:
        self._bus = bus
        self._tracer = tracer

    def load(self, paddr: int, width: int) -> int:
        value = self._bus.load(paddr, width)
        self._tracer.emit(f"load {paddr:#x}/{width} = {value:#x}")
        return value

    def store(self, paddr: int, width: int, value: int) -> None:
        self._tracer.emit(f"store {paddr:#x}/{width} = {value:#x}")
        self._bus.store(paddr, width, value)

    def read(self, paddr: int, size: int) -> bytes:
        data = self._bus.read(paddr, size)
        self._tracer.emit(f"read {paddr:#x}/{size}")
        return data

    def write(self, paddr: int, data: bytes) -> None:
        self._tracer.emit(f"write {paddr:#x}/{len(data)}")
        self._bus.write(paddr, data)

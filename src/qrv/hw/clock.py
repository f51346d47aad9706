"""Clocks a machine keeps time with: the host's, or a virtual one the kernel advances.

A device model that waits (the NVMe controller's CC.EN -> CSTS.RDY delay)
reads the board's clock, never the host's directly, so a kernel running
the board on virtual time sees the device keep the same time as itself.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Seconds since an arbitrary origin, never going back."""

    def now(self) -> float: ...


class HostClock:
    """The host's monotonic clock (a model used on its own, without a kernel)."""

    def now(self) -> float:
        return time.monotonic()


class VirtualClock:
    """Time that moves only when told to: the kernel charges work and jumps to deadlines."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)

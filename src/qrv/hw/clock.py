"""Clocks a machine keeps time with: the host's, or a virtual one the kernel advances.

A device model that waits (the NVMe controller's CC.EN -> CSTS.RDY delay)
reads the board's clock, never the host's directly, so a kernel running
the board on virtual time sees the device keep the same time as itself.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Seconds since an arbitrary origin, never going back."""

    def now(self) -> float: ...


class HostClock:
    """The host's monotonic clock (a model used on its own, without a kernel)."""

    def now(self) -> float:
        return time.monotonic()


class VirtualClock:
    """Time that moves only when told to: the kernel charges work and jumps to deadlines.

    A device that must act at a time of its own (edu's factorial and DMA completions,
    which raise interrupts nobody polls for) sets an alarm with :meth:`call_at`: it
    runs when :meth:`advance` or :meth:`advance_to` reaches its time, and the kernel's
    idle loop jumps no further than :meth:`next_alarm`.  (The kernel's hot paths add
    to ``_now`` directly; an alarm passed that way runs at the next advance.)
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._alarms: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self.follow_host = False
        """Set when the machine loses power: nothing on it may hurry time to a deadline
        any more (what ends the run, the host noticing the cut, comes in host time)."""

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self._now += seconds
        if self._alarms:
            self._ring()

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)
        if self._alarms:
            self._ring()

    def call_at(self, when: float, fn: Callable[[], None]) -> None:
        """Run `fn()` once the clock reaches `when`."""
        self._seq += 1
        heapq.heappush(self._alarms, (when, self._seq, fn))

    def next_alarm(self) -> float | None:
        """The earliest pending alarm's time, or None."""
        return self._alarms[0][0] if self._alarms else None

    def _ring(self) -> None:
        while self._alarms and self._alarms[0][0] <= self._now:
            heapq.heappop(self._alarms)[2]()

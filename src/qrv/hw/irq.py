"""What the kernel sees of a machine's interrupts: the hart's external interrupt input.

A machine that delivers interrupts has an ``interrupts`` attribute implementing
:class:`InterruptInput`: the kernel connects a `notify` callback (called, from any
host thread, whenever an enabled interrupt may be pending), then claims the pending
interrupt numbers one by one, completes each, and enables or disables a number as
its mask count says.  The numbers are those of :mod:`qrv.spec.interrupt`.

:class:`LevelInterrupts` is the gateway logic of a PLIC over line levels someone
else reports: QEMU's PLIC inputs as qtest's ``irq_intercept_in`` shows them
(``IRQ raise N``/``IRQ lower N``), or a test's.  A level-triggered source is
pending while its line is high and it is not claimed; completing it while the
line is still high makes it pending again (the PLIC spec's level gateway).  An
edge (an MSI identity) is pending once per :meth:`LevelInterrupts.trigger`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from qrv.spec.interrupt import valid_intr

Notify = Callable[[], None]


@runtime_checkable
class InterruptInput(Protocol):
    """A hart's external interrupt: claim/complete, per-number enable, a notification."""

    def connect(self, notify: Notify) -> None:
        """Call `notify()` whenever an enabled interrupt may have become pending."""
        ...

    def valid(self, intr: int) -> bool:
        """Whether `intr` is a number this machine can raise."""
        ...

    def claim(self) -> int:
        """The pending enabled interrupt to serve next (0: none); it stays claimed."""
        ...

    def complete(self, intr: int) -> None:
        """Serving `intr` is over (a level still high makes it pending again)."""
        ...

    def enable(self, intr: int, on: bool) -> None:
        """Let `intr` reach the hart (or not); a pending one waits while disabled."""
        ...


class LevelInterrupts:
    """PLIC gateways over reported line levels (QEMU's PLIC inputs; tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._high: set[int] = set()
        self._pending: set[int] = set()
        self._claimed: set[int] = set()
        self._enabled: set[int] = set()
        self._notify: Notify | None = None

    def connect(self, notify: Notify) -> None:
        self._notify = notify
        self._kick()

    def valid(self, intr: int) -> bool:
        return valid_intr(intr)

    def set_level(self, intr: int, high: bool) -> None:
        """A source's line went high or low (low withdraws a pending, unclaimed one)."""
        with self._lock:
            if high:
                self._high.add(intr)
                if intr not in self._claimed:
                    self._pending.add(intr)
            else:
                self._high.discard(intr)
                self._pending.discard(intr)
        if high:
            self._kick()

    def trigger(self, intr: int) -> None:
        """An edge (an MSI message): `intr` is pending once."""
        with self._lock:
            self._pending.add(intr)
        self._kick()

    def level(self, intr: int) -> bool:
        """Whether `intr`'s line is high."""
        return intr in self._high

    def claim(self) -> int:
        with self._lock:
            ready = self._pending & self._enabled
            if not ready:
                return 0
            intr = min(ready)  # equal priorities: the lowest number first, as a PLIC
            self._pending.discard(intr)
            self._claimed.add(intr)
            return intr

    def complete(self, intr: int) -> None:
        with self._lock:
            if intr not in self._claimed:
                return
            self._claimed.discard(intr)
            again = intr in self._high
            if again:
                self._pending.add(intr)
        if again:
            self._kick()

    def enable(self, intr: int, on: bool) -> None:
        with self._lock:
            if on:
                self._enabled.add(intr)
            else:
                self._enabled.discard(intr)
        if on:
            self._kick()

    def _kick(self) -> None:
        notify = self._notify
        if notify is not None and self._pending & self._enabled:
            notify()

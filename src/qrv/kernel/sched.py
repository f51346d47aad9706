"""The scheduler: one modelled thread runs at a time, the highest-priority READY one.

Every :class:`~qrv.kernel.proc.KThread` is a greenlet of one host thread,
the *CPU thread*.  A thread runs until it makes a kernel call that blocks
it (MsgSend, MsgReceive, waits, sleeps), yields, exits, or finds at a
kernel call's entry (:meth:`Scheduler.tick`) that a higher-priority thread
is READY, or, for SCHED_RR, that its time slice (:data:`RR_SLICE` kernel
calls) is used up and another thread of its priority is READY.  At each
such scheduling point the next thread is the highest-priority READY one;
among several of that priority a ``random.Random(seed)`` chooses.  So a
run is a function of its inputs and its seed.

Time is the kernel's clock (:class:`~qrv.hw.clock.VirtualClock`): each
kernel call costs :data:`KCALL_COST` seconds; when every thread is
blocked, the clock jumps to the next deadline (*jump* mode: the built-in
board), or follows the host's clock until it (a machine without a
virtual clock).  In jump mode the clock still follows the host while a
thread waits on something only the host can bring (console input, an
adopted host thread's next call), since that may come before the deadline.

Host threads never touch kernel state: they :meth:`post` callbacks (or
:meth:`call` and wait for the result), which the CPU thread runs at its
next scheduling point, or at once when it is idle.  The idle CPU thread
sleeps in ``select`` on a socket pair a post writes to (only while it
sleeps), and also on a machine's :class:`HostSource` if it has one (QEMU's
qtest socket): what the machine sends then wakes the CPU thread itself,
which handles it there, instead of a host thread that reads it and posts.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import random
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, runtime_checkable

from greenlet import greenlet

from qrv.hw.clock import VirtualClock
from qrv.kernel.proc import KThread, Policy, ProcessKilled, set_current
from qrv.kernel.trace import Tracer
from qrv.spec.iomsg import ETIMEDOUT, oserror

R = TypeVar("R")

DEFAULT_SEED = 0
"""The seed of a plain run: two runs without ``--seed`` schedule alike."""
RR_SLICE = 8
"""A SCHED_RR thread's time slice, in kernel calls."""
KCALL_COST = 1e-6
"""Virtual seconds one kernel call takes."""
HOST_POLL = 0.5
"""Longest idle wait of the CPU thread between looks at its stop flag (s)."""
_RR = Policy.RR  # an enum member read through its class costs ~0.1 us


@dataclass
class _Box:
    """A host caller's slot for the result of a callback run on the CPU thread."""

    event: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


@dataclass
class HostProxy:
    """An adopted host thread's bridge: its kernel calls run in its greenlet."""

    requests: deque[tuple[Callable[[], Any], _Box]] = field(default_factory=deque)
    closed: bool = False


@runtime_checkable
class HostSource(Protocol):
    """What a machine lets the CPU thread's idle loop wait on itself (QEMU's qtest socket).

    While the loop sleeps in ``select`` on :meth:`fileno` (between ``watch(True)`` and
    ``watch(False)``), the machine leaves the reading to it; when the descriptor is
    readable the loop calls :meth:`service`, which handles what came (its notifications
    then post to the CPU thread from the CPU thread: no wake-up, no host-thread switch).
    """

    def fileno(self) -> int:
        """The descriptor to wait on (-1 once the source is unusable)."""
        ...

    def watch(self, on: bool) -> None:
        """The idle loop starts (True) or stops (False) waiting on :meth:`fileno`."""
        ...

    def service(self) -> bool:
        """Handle what the source sent (never waits for more); False once unusable."""
        ...


STALE_REBUILD = 64
"""Stale timer entries tolerated before the heap is rebuilt without them."""


def _stale_entry(entry: tuple[float, int, KThread, int]) -> bool:
    """A timer entry whose thread no longer waits the wait it was set for."""
    t = entry[2]
    return not t.blocked or t.wait_seq != entry[3]


def seeded_index(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` (n > 0) with the very same draws, without its argument
    handling and two Python calls (CPython's ``Random._randbelow_with_getrandbits``):
    the RR slice's choice on every eighth kernel call is on the hot path, and a seed
    must schedule as it always has."""
    k = n.bit_length()
    r = rng.getrandbits(k)
    while r >= n:
        r = rng.getrandbits(k)
    return r


class Scheduler:
    """Ready list, timers, the CPU thread's idle loop and the host inbox."""

    def __init__(self, clock: VirtualClock, *, jump: bool, seed: int = DEFAULT_SEED) -> None:
        self.clock = clock
        self.jump = jump
        self.rng = random.Random(seed)
        self.ready: list[KThread] = []
        self.current: KThread | None = None
        self.trace: Tracer | None = None
        self.external = 0
        """Threads waiting on something only the host brings (console input, a host call)."""
        self.timers: list[tuple[float, int, KThread, int]] = []
        """Timeouts: a heap of (deadline, sequence, thread, its wait_seq).

        An entry whose thread woke before its deadline is stale (its wait_seq moved
        on); :meth:`block` drops stale entries off the top and rebuilds the heap when
        they are most of it, so a driver that waits with a timeout for every command
        does not leave one entry per command until the deadline passes (and a
        non-empty heap, which sends every kernel call down the slower path).
        """
        self._seq = 0
        self._stale = 0
        self.inbox: deque[Callable[[], None]] = deque()
        """Callbacks posted by host threads, run at the next scheduling point."""
        self.source: HostSource | None = None
        """The machine's descriptor the idle loop waits on besides the posts (:meth:`watch`)."""
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sleeping = False
        """Set while the idle loop sleeps: a post from a host thread then writes a byte."""
        self._live = 0
        self._stopping = False
        self._idle: Any = None
        self._started = threading.Event()
        self._ident = 0
        self._thread = threading.Thread(target=self._main, name="qrv-cpu", daemon=True)
        self._thread.start()
        self._started.wait()

    # -- the CPU thread -------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether the CPU thread still runs (it ends after :meth:`stop`)."""
        return self._thread.is_alive()

    def on_cpu(self) -> bool:
        return threading.current_thread() is self._thread

    def _main(self) -> None:
        self._idle = greenlet.getcurrent()
        self._ident = threading.get_ident()
        self._started.set()
        try:
            self._loop()
        finally:
            self._wake_r.close()
            self._wake_w.close()

    def _loop(self) -> None:
        while True:
            nxt = self._pick()
            if nxt is not None:
                self._run(nxt)
                continue
            if self._stopping and not self._live:
                return
            jump = self.jump and not self.external and not self.clock.follow_host
            if jump:
                when = self.clock.next_alarm()  # a device's own deadline (an interrupt)
                if self.timers and (when is None or self.timers[0][0] < when):
                    when = self.timers[0][0]
                if when is not None:
                    self.clock.advance_to(when)
                    continue
            wait = HOST_POLL
            if self.timers:
                wait = min(wait, max(0.0, self.timers[0][0] - self.clock.now()))
            t0 = time.monotonic()
            self._sleep(wait)
            if not jump:
                self.clock.advance(time.monotonic() - t0)

    def _sleep(self, timeout: float) -> None:
        """The idle wait: until a host thread posts, the machine's source has something,
        or `timeout` (s) passes.  A post from a host thread writes to the wake-up socket
        only while :attr:`_sleeping` is set; under the GIL either it sees the flag or
        the check of the inbox below sees its callback."""
        source = self.source
        fd = source.fileno() if source is not None else -1
        wake = self._wake_r.fileno()
        self._sleeping = True
        try:
            if self.inbox:
                return
            if source is None or fd < 0:
                readable = select.select([wake], [], [], timeout)[0]
            else:
                source.watch(True)
                try:
                    readable = select.select([wake, fd], [], [], timeout)[0]
                finally:
                    source.watch(False)
        finally:
            self._sleeping = False
        if wake in readable:
            with contextlib.suppress(BlockingIOError):
                while self._wake_r.recv(4096):
                    pass
        if source is not None and fd in readable and not source.service():
            self.source = None  # the machine is gone: its next access says so

    def _run(self, nxt: KThread) -> None:
        """From the idle loop: run `nxt` until every thread is blocked again."""
        self.current = nxt
        if self.trace is not None:
            self.trace.emit("schedule")
        nxt.glet.switch()
        self.current = None

    def _switch(self, t: KThread, nxt: KThread | None) -> None:
        """`t` (running) gives the CPU to `nxt`, or to the idle loop; returns when resumed."""
        if nxt is t:
            return
        if nxt is None:
            self._idle.switch()
            return
        self.current = nxt
        if self.trace is not None:
            self.trace.emit("schedule")
        nxt.glet.switch()

    def _pick(self) -> KThread | None:
        """The next thread to run, off the ready list (None: nothing is READY)."""
        if self.inbox:
            self._drain()
        if self.timers and self.timers[0][0] <= self.clock.now():
            self._expire()
        ready = self.ready
        if not ready:
            return None
        if len(ready) == 1:
            return ready.pop()
        top = 0
        cands: list[KThread] = []
        for r in ready:  # the top priority's READY threads, in ready-list order
            if r.prio > top:
                top, cands = r.prio, [r]
            elif r.prio == top:
                cands.append(r)
        t = cands[0] if len(cands) == 1 else cands[seeded_index(self.rng, len(cands))]
        ready.remove(t)
        return t

    def _drain(self) -> None:
        while self.inbox:
            self.inbox.popleft()()

    def _expire(self) -> None:
        now = self.clock.now()
        while self.timers and self.timers[0][0] <= now:
            _when, _seq, t, token = heapq.heappop(self.timers)
            if t.blocked and t.wait_seq == token:
                t.timed_out = True
                self.make_ready(t)

    # -- threads ------------------------------------------------------------------------

    def start(self, t: KThread, body: Callable[[], None]) -> None:
        """Make `t` a greenlet that runs `body` and put it on the ready list."""

        def run() -> None:
            set_current(t)  # in the greenlet's own context: a switch carries it along
            try:
                body()
            except BaseException:  # body reports its own end; nothing may reach the idle loop
                pass
            finally:
                self._live -= 1

        t.glet = greenlet(run, parent=self._idle)
        t.budget = RR_SLICE
        self._live += 1
        self.ready.append(t)

    def make_ready(self, t: KThread) -> None:
        """Wake a blocked thread (an event, its timeout or its teardown)."""
        if t.blocked:
            t.blocked = False
            self.ready.append(t)

    def block(self, t: KThread, timeout: float | None = None) -> bool:
        """Block the running thread `t` until woken; False if `timeout` (s) passed first."""
        t.blocked = True
        t.timed_out = False
        t.wait_seq += 1
        if timeout is not None:
            self._seq += 1
            when = self.clock.now() + max(timeout, 0.0)
            heapq.heappush(self.timers, (when, self._seq, t, t.wait_seq))
        ready = self.ready
        timers = self.timers
        if len(ready) == 1 and not self.inbox and not (timers and timers[0][0] <= self.clock._now):
            # The direct hand-off: one thread is READY (the server a send just woke, the
            # client a reply woke) and nothing is due, so it is _pick's choice: switch to it.
            nxt = ready.pop()
            self.current = nxt
            if self.trace is not None:
                self.trace.emit("schedule")
            nxt.glet.switch()
        else:
            self._switch(t, self._pick())
        if t.timed_out:
            return False
        if timeout is not None:
            self._drop_stale()
        return True

    def _drop_stale(self) -> None:
        """A timed wait ended early: its heap entry is stale (see :attr:`timers`)."""
        timers = self.timers
        self._stale += 1
        while timers and _stale_entry(timers[0]):
            heapq.heappop(timers)
            self._stale -= 1
        if self._stale > STALE_REBUILD and 2 * self._stale > len(timers):
            timers[:] = [e for e in timers if not _stale_entry(e)]
            heapq.heapify(timers)
            self._stale = 0

    def tick(self, t: KThread) -> None:
        """A kernel call's entry: charge its time; preempt `t` if another thread should run.

        The message-passing calls inline it (hot path): they call :meth:`reschedule` only
        when something is posted, timed or dying, and else only :meth:`preempt` when a
        thread is READY (what reschedule would come to).
        """
        self.clock._now += KCALL_COST  # clock.advance(KCALL_COST), without the call
        t.budget -= 1
        if self.inbox or self.timers or t.process.dying:
            self.reschedule(t)
        elif self.ready:
            self.preempt(t)

    def reschedule(self, t: KThread) -> None:
        """The rest of :meth:`tick`: host posts, due timers, preemption, teardown."""
        if self.inbox or (self.timers and self.timers[0][0] <= self.clock._now):
            if self.inbox:
                self._drain()
            self._expire()
        if self.ready:
            self.preempt(t)
        if t.process.dying:
            raise ProcessKilled

    def preempt(self, t: KThread) -> None:
        """Give the CPU away if a READY thread outranks `t` or `t`'s RR slice is used up.

        A SCHED_FIFO thread's budget runs down too but is only ever renewed:
        FIFO yields to a higher priority only.
        """
        ready = self.ready
        if len(ready) == 1:  # the usual case: the thread a reply or send just woke
            top = ready[0].prio
        else:
            top = 0
            for r in ready:
                if r.prio > top:  # noqa: PLR1730 - on every kernel call: no max() call
                    top = r.prio
        if top > t.prio or (top == t.prio and t.budget <= 0 and t.policy is _RR):
            self.yield_(t)
        elif t.budget <= 0:
            t.budget = RR_SLICE

    def yield_(self, t: KThread) -> None:
        """``sched_yield``: `t` goes READY and the scheduler chooses (maybe `t` again)."""
        t.budget = RR_SLICE
        self.ready.append(t)
        self._switch(t, self._pick())

    # -- the host side ------------------------------------------------------------------

    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the CPU thread at its next scheduling point (from any thread).

        The CPU thread posting to itself (a device completing from a store) needs no
        wake-up: its idle loop drains the inbox before it waits.
        """
        self.inbox.append(fn)
        if self._sleeping and threading.get_ident() != self._ident:
            self._wake()

    def _wake(self) -> None:
        # BlockingIOError: wake-ups are pending already; OSError: stopped (closed)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def watch(self, source: HostSource) -> None:
        """Let the idle loop wait on `source` too (see :class:`HostSource`); from any thread."""
        self.source = source
        self._wake()  # a sleeping loop starts watching it now, not at its next timeout

    def poll_host(self) -> None:
        """Run what the host posted, from inside a kernel call that waits on the host."""
        if self.inbox:
            self._drain()

    def call(self, fn: Callable[[], R], timeout: float | None = None) -> R:
        """Run `fn` on the CPU thread and return its result (raising what it raised).

        `timeout` (host seconds) bounds the wait for a CPU thread that runs no
        kernel call for that long (a program computing): ETIMEDOUT.
        """
        if self.on_cpu() or not self._thread.is_alive():
            return fn()  # stopped: nothing else runs, the caller may act itself
        box = _Box()

        def run() -> None:
            try:
                box.value = fn()
            except BaseException as exc:  # handed to the caller
                box.error = exc
            box.event.set()

        self.post(run)
        self._await(box, timeout)
        return box.value  # type: ignore[no-any-return]

    def _await(self, box: _Box, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not box.event.wait(HOST_POLL):
            if deadline is not None and time.monotonic() >= deadline:
                raise oserror(ETIMEDOUT, "the CPU thread did not get to the request")
            if not self._thread.is_alive():
                self._drain()  # it stopped before running what was posted: run it here
                if not box.event.is_set():
                    raise ProcessKilled
        if box.error is not None:
            raise box.error

    def call_as(self, t: KThread, fn: Callable[[], R]) -> R:
        """An adopted host thread's kernel call: run `fn` in `t`'s greenlet, wait for it."""
        if self.on_cpu():
            return fn()
        proxy: HostProxy = t.proxy
        box = _Box()
        proxy.requests.append((fn, box))
        self.post(lambda: self.make_ready(t))
        self._await(box)
        return box.value  # type: ignore[no-any-return]

    def proxy_body(self, t: KThread, proxy: HostProxy) -> Callable[[], None]:
        """The greenlet of an adopted host thread: run its calls as they come."""

        def body() -> None:
            while True:
                while proxy.requests:
                    fn, box = proxy.requests.popleft()
                    try:
                        box.value = fn()
                    except BaseException as exc:  # handed to the host thread
                        box.error = exc
                    box.event.set()
                if proxy.closed:
                    return
                self.external += 1
                try:
                    self.block(t)
                finally:
                    self.external -= 1

        return body

    def stop(self, timeout: float) -> None:
        """End the CPU thread once every thread has finished (bounded by `timeout`)."""

        def flag() -> None:
            self._stopping = True

        self.post(flag)
        if not self.on_cpu():
            self._thread.join(timeout)


S = TypeVar("S")
P = ParamSpec("P")


def kcall(fn: Callable[Concatenate[S, KThread, P], R]) -> Callable[Concatenate[S, KThread, P], R]:
    """A kernel call: run on the CPU thread (an adopted host thread's goes over its proxy)."""

    @functools.wraps(fn)
    def call(self: S, t: KThread, /, *args: P.args, **kwargs: P.kwargs) -> R:
        if t.proxy is not None:
            sched: Scheduler = t.process.kernel.sched
            return sched.call_as(t, functools.partial(fn, self, t, *args, **kwargs))
        return fn(self, t, *args, **kwargs)

    return call

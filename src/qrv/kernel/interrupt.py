"""Interrupts: attach an event or a handler to an interrupt number, wait, mask/unmask, detach.

QNX semantics (``InterruptAttachEvent``, ``InterruptAttach``, ``InterruptWait``,
``InterruptMask``, ``InterruptUnmask``, ``InterruptDetach``; docs/kernel-api.md):

* Only root attaches or masks (EPERM).  An interrupt number the machine cannot
  raise, unknown flags or a malformed event are EINVAL.
* Attaching unmasks the source unless ``_NTO_INTR_FLAGS_NO_UNMASK`` is given,
  in which case the attachment starts with one mask of its own.  Several
  attachments may share a number (PCI INTx is shared); they are served in order,
  a new one first unless ``_NTO_INTR_FLAGS_END`` puts it last (QNX).
* When the source fires, the kernel claims it at the machine's interrupt
  controller, masks it once for every ``InterruptAttachEvent`` attachment
  (the driver unmasks once it has served the device), delivers each
  attachment's event and completes the claim.  ``SIGEV_INTR`` wakes (or marks
  pending for) the attaching thread's ``InterruptWait``; ``SIGEV_PULSE`` queues a
  pulse at the event's priority (-1: the attaching thread's at attach time).
* An ``InterruptAttach`` attachment's handler ``handler(area, id)`` runs in
  *interrupt context* when the source fires: on the CPU thread, at this dispatch,
  before any thread runs, as the attaching process (its mappings are plain objects
  it holds).  The kernel does not mask the source for it (QNX: the handler quiets
  the device, or calls ``InterruptMask``).  What it returns (a ``SigEvent``, or None
  for nothing) is delivered as an attached event would be.  A kernel call that would
  block fails there with EDEADLK (nothing could wake it: the handler holds the CPU)
  and is logged; an exception out of the handler tears its process down as a crash.
  A level source that fires again at once :data:`STORM` times in one dispatch is
  masked (untracked) and logged, so a handler that never quiets its device cannot
  hold the CPU for ever: ``InterruptUnmask(intr, -1)`` makes it live again.
* Masks count: the source reaches the hart only while its count is 0.  Each
  attachment tracks its own masks (``_NTO_INTR_FLAGS_TRK_MSK`` is always on), so
  detaching it, or its process dying, undoes them; the last detach disables the
  source.
* ``InterruptWait`` returns at once if an interrupt came since the last one;
  otherwise it blocks (state INTR) until one does, or ETIMEDOUT at its timeout
  on the kernel's clock (virtual on the built-in board).

The machine side is :class:`qrv.hw.irq.InterruptInput`.  Its notification may
come from any host thread; it posts the dispatch to the CPU thread, which runs
it at its next scheduling point (or at once when idle).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qrv.hw.irq import InterruptInput
from qrv.kernel.ipc import Ipc
from qrv.kernel.proc import PRIO_MAX, PRIO_MIN, KThread, Policy, Process, set_current
from qrv.kernel.sched import Scheduler, kcall
from qrv.kernel.slog import Severity
from qrv.spec.interrupt import (
    INTR_FLAGS_ALL,
    SIGEV_PULSE_PRIO_INHERIT,
    IntrFlag,
    SigEvent,
    SigevNotify,
)
from qrv.spec.iomsg import EDEADLK, EINVAL, EPERM, ETIMEDOUT, Pulse, ThreadState, oserror

INTR_WAIT_FLAGS = 0x3
"""``InterruptWait`` flags accepted (``_NTO_INTR_WAIT_FLAGS_FAST``, ``..._UNBLOCK_REQ``)."""
UNTRACKED = -1
"""``InterruptMask(intr, -1)``: a mask no attachment tracks."""
ISR_PRIO = PRIO_MAX + 1
"""Interrupt context outranks every thread: no READY thread preempts a handler."""
STORM = 1000
"""Claims of one source in one dispatch after which the kernel masks it (a storm)."""

Handler = Callable[[Any, int], "SigEvent | None"]
"""``const struct sigevent *handler(void *area, int id)``."""

_BLOCKED: Any = KThread.__dict__["blocked"]
"""KThread's ``blocked`` slot (its member descriptor), under IsrThread's property."""


class IsrThread(KThread):
    """The interrupt context a handler runs in: the attaching process, no thread of it.

    Every blocking kernel call ends in ``Scheduler.block``, which first marks its
    thread blocked; here that mark fails with EDEADLK (nothing could wake a
    handler that gives up the CPU), after logging it, so the call unwinds as one
    that timed out would.  It is on no ready list and in no thread table, and its
    priority (:data:`ISR_PRIO`) is above every thread's, so no preemption check at
    a kernel call's entry switches away from it.
    """

    __slots__ = ()

    @property
    def blocked(self) -> bool:
        return bool(_BLOCKED.__get__(self))

    @blocked.setter
    def blocked(self, value: bool) -> None:
        if value:
            proc = self.process
            proc.kernel.slog.add(
                "procnto",
                f"process {proc.pid} ({proc.name}): blocking call in an interrupt handler",
                Severity.ERROR,
            )
            raise oserror(EDEADLK, "an interrupt handler cannot block")
        _BLOCKED.__set__(self, value)


def check_event(proc: Process, event: SigEvent, *also: SigevNotify) -> None:
    """EINVAL unless `event` is one an interrupt can deliver for `proc` (kinds `also` too)."""
    if event.notify is SigevNotify.PULSE:
        if event.coid not in proc.connections:
            raise oserror(EINVAL, f"the event's coid {event.coid} is not a connection")
        inherit = event.priority == SIGEV_PULSE_PRIO_INHERIT
        if not inherit and not PRIO_MIN <= event.priority <= PRIO_MAX:
            raise oserror(EINVAL, f"pulse priority {event.priority}")
    elif event.notify is not SigevNotify.INTR and event.notify not in also:
        raise oserror(EINVAL, f"sigev_notify {int(event.notify)}")


@dataclass(eq=False, slots=True)
class Attachment:
    """One ``InterruptAttachEvent`` or ``InterruptAttach``: who gets what, and the masks it holds.

    A handler attachment has `handler` and `area`, and `event` is unused (NONE).
    """

    id: int
    intr: int
    process: Process
    thread: KThread
    event: SigEvent
    prio: int
    masks: int = 0
    handler: Handler | None = None
    area: Any = None


class Interrupts:
    """The interrupt kernel calls; every method takes the calling thread."""

    def __init__(self, sched: Scheduler, ipc: Ipc, hw: InterruptInput | None) -> None:
        self.sched = sched
        self.ipc = ipc
        self.hw = hw
        self._by_id: dict[int, Attachment] = {}
        self._by_intr: dict[int, list[Attachment]] = {}
        self._masks: dict[int, int] = {}
        self._pending: set[KThread] = set()
        self._waiting: set[KThread] = set()
        self._next_id = 1
        self._posted = False
        self._dispatching = False
        self.delivered = 0
        """Interrupts dispatched so far (claims that found an attachment)."""
        if hw is not None:
            hw.connect(self._notify)

    # -- the machine's side ---------------------------------------------------------

    def _notify(self) -> None:
        """From any host thread: an interrupt may be pending; dispatch on the CPU thread."""
        if not self._posted:
            self._posted = True
            self.sched.post(self._dispatch)

    def _dispatch(self) -> None:
        self._posted = False
        if self._dispatching:
            return  # a handler's kernel call ran the inbox: the outer loop claims it
        hw = self.hw
        assert hw is not None
        self._dispatching = True
        fired: dict[int, int] = {}
        try:
            while intr := hw.claim():
                fired[intr] = fired.get(intr, 0) + 1
                self._serve(intr, fired[intr])
                hw.complete(intr)
        finally:
            self._dispatching = False

    def _serve(self, intr: int, times: int) -> None:
        """One claim of `intr`: each attachment, oldest first, gets its event or handler."""
        atts = self._by_intr.get(intr)
        if self.sched.trace is not None:
            self.sched.trace.emit(f"interrupt intr={intr} attached={len(atts or ())}")
        if not atts:
            assert self.hw is not None
            self.hw.enable(intr, False)  # detached between its raise and this claim
            return
        if times > STORM:
            self._mask(intr, None)
            owners = ", ".join(str(a.process.pid) for a in atts)
            atts[0].process.kernel.slog.add(
                "procnto",
                f"interrupt {intr}: fired {STORM} times at once, masked (attached by {owners})",
                Severity.ERROR,
            )
            return
        self.delivered += 1
        for a in list(atts):
            if a.id not in self._by_id or a.process.dying:
                continue  # a handler before it crashed its process
            if a.handler is None:
                self._mask(a.intr, a)
                self._deliver(a, a.event)
                continue
            event = self._run_handler(a)
            if event is not None:
                self._deliver(a, event)

    def _run_handler(self, a: Attachment) -> SigEvent | None:
        """Call `a`'s handler in interrupt context; its event (None: nothing, or it crashed)."""
        assert a.handler is not None
        handler = a.handler
        isr = IsrThread(0, a.process, "isr", prio=ISR_PRIO, base_prio=ISR_PRIO)
        isr.policy = Policy.FIFO

        def run() -> object:
            set_current(isr)  # in this context copy only: the interrupted thread keeps its own
            return handler(a.area, a.id)

        try:
            event = contextvars.copy_context().run(run)
        except Exception as exc:  # the program's bug: its process, never the kernel
            a.process.kernel.crash(a.process, exc)
            return None
        except BaseException:  # ProcessKilled: its process is going anyway
            return None
        if event is None:
            return None
        if not isinstance(event, SigEvent):
            bad: Exception = TypeError(f"interrupt handler returned {event!r}, not a SigEvent")
        else:
            try:
                check_event(a.process, event, SigevNotify.NONE)
                return event
            except OSError as exc:
                bad = exc
        a.process.kernel.crash(a.process, bad)
        return None

    def _deliver(self, a: Attachment, ev: SigEvent) -> None:
        if ev.notify is SigevNotify.INTR:
            t = a.thread
            if t.done:
                return
            self._pending.add(t)
            if t in self._waiting:
                self.sched.make_ready(t)
            return
        if ev.notify is not SigevNotify.PULSE:
            return  # SIGEV_NONE: nothing to deliver
        conn = a.process.connections.get(ev.coid)
        if conn is None or conn.channel is None:
            return  # the connection is gone: the pulse has nowhere to go
        prio = a.prio if ev.priority == SIGEV_PULSE_PRIO_INHERIT else ev.priority
        self.ipc._post_pulse(conn.channel, Pulse(ev.code, ev.value, conn.scoid), prio)

    def _mask(self, intr: int, a: Attachment | None) -> int:
        count = self._masks.get(intr, 0) + 1
        self._masks[intr] = count
        if a is not None:
            a.masks += 1
        if count == 1 and self.hw is not None:
            self.hw.enable(intr, False)
        return count

    def _unmask(self, intr: int, a: Attachment | None) -> int:
        count = self._masks.get(intr, 0)
        if count == 0:
            return 0
        count -= 1
        self._masks[intr] = count
        if a is not None and a.masks:
            a.masks -= 1
        if count == 0 and self._by_intr.get(intr) and self.hw is not None:
            self.hw.enable(intr, True)
        return count

    # -- kernel calls ----------------------------------------------------------------

    def _check(self, t: KThread, intr: int) -> None:
        if t.process.uid != 0:
            raise oserror(EPERM, "interrupts need root")
        if self.hw is None or not self.hw.valid(intr):
            raise oserror(EINVAL, f"no interrupt {intr}")

    @kcall
    def attach_event(self, t: KThread, intr: int, event: SigEvent, flags: int) -> int:
        """``InterruptAttachEvent``: the attachment's id."""
        self.ipc.enter(t)
        self._check(t, intr)
        if flags & ~INTR_FLAGS_ALL:
            raise oserror(EINVAL, f"flags {flags:#x}")
        check_event(t.process, event)
        prio = t.prio
        if event.notify is SigevNotify.PULSE and event.priority != SIGEV_PULSE_PRIO_INHERIT:
            prio = event.priority
        return self._attach(Attachment(self._next_id, intr, t.process, t, event, prio), flags)

    @kcall
    def attach_handler(
        self, t: KThread, intr: int, handler: Handler, area: object, flags: int
    ) -> int:
        """``InterruptAttach``: the attachment's id (its handler runs when `intr` fires)."""
        self.ipc.enter(t)
        self._check(t, intr)
        if flags & ~INTR_FLAGS_ALL:
            raise oserror(EINVAL, f"flags {flags:#x}")
        if not callable(handler):
            raise oserror(EINVAL, f"handler {handler!r} is not callable")
        none = SigEvent(SigevNotify.NONE)
        a = Attachment(self._next_id, intr, t.process, t, none, t.prio, 0, handler, area)
        return self._attach(a, flags)

    def _attach(self, a: Attachment, flags: int) -> int:
        intr = a.intr
        self._next_id += 1
        self._by_id[a.id] = a
        atts = self._by_intr.setdefault(intr, [])
        if flags & IntrFlag.END:
            atts.append(a)
        else:
            atts.insert(0, a)  # QNX: before the ones already attached, unless END
        if flags & IntrFlag.NO_UNMASK:
            self._mask(intr, a)
        elif not self._masks.get(intr) and self.hw is not None:
            self.hw.enable(intr, True)
        if self.sched.trace is not None:
            self.sched.trace.emit(f"interrupt_attach id={a.id} intr={intr}")
        return a.id

    @kcall
    def wait(self, t: KThread, flags: int, timeout: float | None) -> int:
        """``InterruptWait``: until a SIGEV_INTR for `t` (0), or ETIMEDOUT."""
        self.ipc.enter(t)
        if flags & ~INTR_WAIT_FLAGS:
            raise oserror(EINVAL, f"flags {flags:#x}")
        if t not in self._pending:
            self._waiting.add(t)
            t.state = ThreadState.INTR
            try:
                if not self.ipc.wait(t, lambda: t in self._pending, timeout):
                    raise oserror(ETIMEDOUT)
            finally:
                self._waiting.discard(t)
                t.state = ThreadState.READY
        self._pending.discard(t)
        return 0

    def _lookup(self, t: KThread, intr: int, id_: int) -> Attachment | None:
        if id_ == UNTRACKED:
            return None
        a = self._by_id.get(id_)
        if a is None or a.process is not t.process or a.intr != intr:
            raise oserror(EINVAL, f"no attachment {id_} of interrupt {intr}")
        return a

    @kcall
    def mask(self, t: KThread, intr: int, id_: int) -> int:
        """``InterruptMask``: the mask count after it."""
        self.ipc.enter(t)
        self._check(t, intr)
        return self._mask(intr, self._lookup(t, intr, id_))

    @kcall
    def unmask(self, t: KThread, intr: int, id_: int) -> int:
        """``InterruptUnmask``: the mask count after it (never below 0)."""
        self.ipc.enter(t)
        self._check(t, intr)
        return self._unmask(intr, self._lookup(t, intr, id_))

    @kcall
    def detach(self, t: KThread, id_: int) -> None:
        """``InterruptDetach``: EINVAL for no such id, EPERM for another process's."""
        self.ipc.enter(t)
        a = self._by_id.get(id_)
        if a is None:
            raise oserror(EINVAL, f"no attachment {id_}")
        if a.process is not t.process:
            raise oserror(EPERM, f"attachment {id_} is another process's")
        self._remove(a)

    def _remove(self, a: Attachment) -> None:
        del self._by_id[a.id]
        atts = self._by_intr[a.intr]
        atts.remove(a)
        count = max(0, self._masks.get(a.intr, 0) - a.masks)
        if self.sched.trace is not None:
            self.sched.trace.emit(f"interrupt_detach id={a.id} intr={a.intr}")
        if not atts:
            del self._by_intr[a.intr]
            self._masks.pop(a.intr, None)
            if self.hw is not None:
                self.hw.enable(a.intr, False)
            return
        self._masks[a.intr] = count
        if count == 0 and self.hw is not None:
            self.hw.enable(a.intr, True)

    # -- teardown and queries ----------------------------------------------------------

    def release(self, proc: Process) -> None:
        """A process is torn down: its attachments go (their masks undone)."""
        for a in [a for a in self._by_id.values() if a.process is proc]:
            self._remove(a)
        for t in [t for t in self._pending if t.process is proc]:
            self._pending.discard(t)

    def mask_count(self, intr: int) -> int:
        """The current mask count of `intr` (0: it reaches the hart if attached)."""
        return self._masks.get(intr, 0)

    def attached(self, intr: int) -> list[tuple[int, int]]:
        """(id, pid) of every attachment of `intr`, in the order they are served."""
        return [(a.id, a.process.pid) for a in self._by_intr.get(intr, [])]

"""Interrupts: attach an event to an interrupt number, wait, mask/unmask (counting), detach.

QNX semantics (``InterruptAttachEvent``, ``InterruptWait``, ``InterruptMask``,
``InterruptUnmask``, ``InterruptDetach``; docs/kernel-api.md):

* Only root attaches or masks (EPERM).  An interrupt number the machine cannot
  raise, unknown flags or a malformed event are EINVAL.
* Attaching unmasks the source unless ``_NTO_INTR_FLAGS_NO_UNMASK`` is given,
  in which case the attachment starts with one mask of its own.  Several
  attachments may share a number (PCI INTx is shared).
* When the source fires, the kernel claims it at the machine's interrupt
  controller, masks it once for every ``InterruptAttachEvent`` attachment
  (the driver unmasks once it has served the device), delivers each
  attachment's event and completes the claim.  ``SIGEV_INTR`` wakes (or marks
  pending for) the attaching thread's ``InterruptWait``; ``SIGEV_PULSE`` queues a
  pulse at the event's priority (-1: the attaching thread's at attach time).
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

from dataclasses import dataclass

from qrv.hw.irq import InterruptInput
from qrv.kernel.ipc import Ipc
from qrv.kernel.proc import PRIO_MAX, PRIO_MIN, KThread, Process
from qrv.kernel.sched import Scheduler, kcall
from qrv.spec.interrupt import (
    INTR_FLAGS_ALL,
    SIGEV_PULSE_PRIO_INHERIT,
    IntrFlag,
    SigEvent,
    SigevNotify,
)
from qrv.spec.iomsg import EINVAL, EPERM, ETIMEDOUT, Pulse, ThreadState, oserror

INTR_WAIT_FLAGS = 0x3
"""``InterruptWait`` flags accepted (``_NTO_INTR_WAIT_FLAGS_FAST``, ``..._UNBLOCK_REQ``)."""
UNTRACKED = -1
"""``InterruptMask(intr, -1)``: a mask no attachment tracks."""


@dataclass(eq=False, slots=True)
class Attachment:
    """One ``InterruptAttachEvent``: who gets what, and the masks it holds."""

    id: int
    intr: int
    process: Process
    thread: KThread
    event: SigEvent
    prio: int
    masks: int = 0


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
        hw = self.hw
        assert hw is not None
        while intr := hw.claim():
            atts = self._by_intr.get(intr)
            if self.sched.trace is not None:
                self.sched.trace.emit(f"interrupt intr={intr} attached={len(atts or ())}")
            if not atts:
                hw.enable(intr, False)  # detached between its raise and this claim
            else:
                self.delivered += 1
                for a in list(atts):
                    self._mask(a.intr, a)
                    self._deliver(a)
            hw.complete(intr)

    def _deliver(self, a: Attachment) -> None:
        ev = a.event
        if ev.notify is SigevNotify.INTR:
            t = a.thread
            if t.done:
                return
            self._pending.add(t)
            if t in self._waiting:
                self.sched.make_ready(t)
            return
        conn = a.process.connections.get(ev.coid)
        if conn is None or conn.channel is None:
            return  # the connection is gone: the pulse has nowhere to go
        self.ipc._post_pulse(conn.channel, Pulse(ev.code, ev.value, conn.scoid), a.prio)

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
        prio = t.prio
        if event.notify is SigevNotify.PULSE:
            if event.coid not in t.process.connections:
                raise oserror(EINVAL, f"the event's coid {event.coid} is not a connection")
            if event.priority != SIGEV_PULSE_PRIO_INHERIT:
                if not PRIO_MIN <= event.priority <= PRIO_MAX:
                    raise oserror(EINVAL, f"pulse priority {event.priority}")
                prio = event.priority
        elif event.notify is not SigevNotify.INTR:
            raise oserror(EINVAL, f"sigev_notify {int(event.notify)}")
        a = Attachment(self._next_id, intr, t.process, t, event, prio)
        self._next_id += 1
        self._by_id[a.id] = a
        self._by_intr.setdefault(intr, []).append(a)
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
        """(id, pid) of every attachment of `intr`, oldest first."""
        return [(a.id, a.process.pid) for a in self._by_intr.get(intr, [])]

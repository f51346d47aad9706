"""devb-nvme's interrupt service thread (IST) and how request threads sleep.

The driver attaches the controller's interrupt (``InterruptAttachEvent`` with a
``SIGEV_PULSE`` event to the IST's channel: the kernel masks the source each time
it fires); the IST loops: receive the pulse, drain every completion queue (admin and I/O: one
INTx wire serves them all) into the queues' CID tables, wake the request
threads whose queue got completions, ``InterruptUnmask``.  Draining rings each
CQ head doorbell, which lowers the controller's level-triggered INTx (NVMe 1.4
§7.5.1), so the unmask does not fire again for the same entries.

A request thread that finds its completion not yet filed sleeps in
``MsgReceive`` on a private channel of its own (no condition variables in this
libc: a pulse is the wake-up) until the IST pulses it or its command's
deadline passes.  With interrupts on, only the IST drains the CQs: a
controller whose interrupt never comes leaves every command to end at its
timeout, with an error that says a completion was posted but no interrupt came.
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.drivers.devb_nvme.controller import Controller
from qrv.drivers.devb_nvme.queues import QueuePair
from qrv.errors import MachineLost
from qrv.lib.c.interrupt import (
    _NTO_INTR_FLAGS_TRK_MSK,
    SIGEV_PULSE_INIT,
    InterruptAttachEvent,
    InterruptUnmask,
)
from qrv.lib.c.ipc import ChannelCreate, ConnectAttach, MsgReceive, MsgSendPulse
from qrv.lib.c.proc import ClockTime, getpid, getprio, gettid, pthread_create
from qrv.spec.iomsg import ETIMEDOUT, Pulse, PulseCode

WAKE_PULSE = int(PulseCode.MINAVAIL) + 1
INTERRUPT_PULSE = int(PulseCode.MINAVAIL) + 2
PULSE_BYTES = 64
MIN_SLEEP_S = 1e-6


class Sleepers:
    """Request threads asleep until their queue has completions (or their deadline)."""

    def __init__(self) -> None:
        self._channels: dict[int, tuple[int, int]] = {}  # tid -> (chid, coid to it)
        self._asleep: dict[int, tuple[int, int]] = {}  # tid -> (coid, qid)

    def _channel(self, tid: int) -> tuple[int, int]:
        if tid not in self._channels:
            chid = ChannelCreate(0)
            self._channels[tid] = (chid, ConnectAttach(0, getpid(), chid))
        return self._channels[tid]

    def idle(self, qp: QueuePair, deadline: float) -> None:
        """Sleep until the IST wakes this thread for `qp`, or `deadline`."""
        tid = gettid()
        chid, coid = self._channel(tid)
        self._asleep[tid] = (coid, qp.qid)
        try:
            MsgReceive(chid, PULSE_BYTES, max(deadline - ClockTime(), MIN_SLEEP_S))
        except OSError as exc:
            if exc.errno != ETIMEDOUT:
                raise
        finally:
            self._asleep.pop(tid, None)

    def wake(self, qids: set[int], prio: int) -> int:
        """Pulse every thread asleep on one of `qids` (pulses of priority `prio`); how
        many were woken."""
        woken = [tid for tid, (_, qid) in self._asleep.items() if qid in qids]
        for tid in woken:
            coid, _ = self._asleep.pop(tid)
            MsgSendPulse(coid, prio, WAKE_PULSE, 0)
        return len(woken)


class InterruptService:
    """The IST of one controller on interrupt `irq` (`kind`: "INTx" or "MSI-X vector 0").

    :meth:`attach` (in the driver's main thread, so a refusal is an error there)
    attaches a pulse on the IST's own channel; :meth:`start` starts the thread.
    """

    def __init__(
        self, ctrl: Controller, irq: int, kind: str, lost: Callable[[MachineLost], None]
    ) -> None:
        self.ctrl = ctrl
        self.irq = irq
        self.kind = kind
        self.lost = lost
        """Told once the machine is gone (the IST then ends; requests fail with EIO)."""
        self.sleepers = Sleepers()
        self.interrupts = 0
        self.tid = 0
        self._chid = -1
        self._iid = -1
        self._prio = 0
        """The interrupt pulse's priority: the IST serves at it, and wakes threads at it."""

    def attach(self) -> None:
        """Attach the interrupt as a pulse to the IST's channel (OSError: EPERM, EINVAL)."""
        self._chid = ChannelCreate(0)
        coid = ConnectAttach(0, getpid(), self._chid)
        self._prio = getprio()
        event = SIGEV_PULSE_INIT(coid, self._prio, INTERRUPT_PULSE, self.irq)
        self._iid = InterruptAttachEvent(self.irq, event, _NTO_INTR_FLAGS_TRK_MSK)

    def start(self) -> None:
        """Switch the queues to interrupt mode and start the IST."""
        self.ctrl.use_interrupts(self.sleepers.idle)
        self.tid = pthread_create(self._run, name="nvme-ist")

    def _queues(self) -> list[QueuePair]:
        admin = [self.ctrl.admin] if self.ctrl.admin is not None else []
        return admin + self.ctrl.io_queues

    def service(self) -> int:
        """Drain every CQ and wake the threads of the queues that had completions."""
        qids = {qp.qid for qp in self._queues() if qp.reap()}
        return self.sleepers.wake(qids, self._prio)

    def _run(self) -> None:
        self.service()  # what completed before the switch
        try:
            while True:
                _, msg, _ = MsgReceive(self._chid, PULSE_BYTES)
                if Pulse.unpack(msg).code != INTERRUPT_PULSE:
                    continue
                self.interrupts += 1
                self.service()
                InterruptUnmask(self.irq, self._iid)
        except MachineLost as exc:
            self.lost(exc)

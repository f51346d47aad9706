"""Submission/completion queue pairs in DMA memory (NVMe 1.4 §4.1, §4.6, §7.4).

The host owns the SQ tail and the CQ head; the controller owns the SQ head
(reported back in each CQE's SQHD) and the CQ tail.  A CQE is new when its
phase tag equals the phase the host expects; the expected phase starts at 1
and flips each time the CQ head wraps (NVMe 1.4 §4.6).

Many commands may be outstanding on one pair, from several threads: each
submission takes a free CID from the pair's **CID table** (at most
``entries - 1`` outstanding, so neither the SQ nor the CQ can overflow), and
whoever drains the CQ (:meth:`QueuePair.reap`: a waiting thread while polling,
the interrupt service thread otherwise) files each completion under its CID,
in whatever order the controller completed them (NVMe 1.4 §4.6: completions
may be posted out of order).  The waiter of a CID picks its completion up.

Threads of a qrv process switch only in kernel calls, and nothing here makes
one between reading and updating the pair's state, so the table needs no lock
(on a multiprocessor it would need the queue's spinlock, as Linux's nvmeq->sq_lock).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from qrv.drivers.devb_nvme.errors import BadCompletion, ControllerFatal, ControllerTimeout
from qrv.drivers.devb_nvme.regs import ControllerRegs
from qrv.lib.c.proc import ClockTime, delay
from qrv.spec.nvme import CQE_SIZE, PHASE_BIT, SQE_SIZE, Command, Completion, Csts

CQE_STATUS_OFFSET = 14  # the status half-word (phase in bit 0) of a CQE
SPIN_POLLS = 64  # polls before the wait starts sleeping between polls
POLL_SLEEP_S = 0.00005
"""The sleep between polls once the spin is over.  QEMU answers a 4 KiB read in about
50-100 µs, and a third to a half of them come after the spin: 200 µs made those wait
up to twice as long as needed (bench_qemu_reads with ``poll``, same-session A/B, busy
2-core host: 50 µs gave p90 500-900 -> 340-500 µs, p50 140-190 -> 135-165 µs, and
10-25 % more reads; a longer spin, 256 or 1024 polls, took CPU time from QEMU and
worsened p90)."""
CID_LIMIT = 0xFFFF  # CID FFFFh is avoided: NVMe 2.0 reserves it in some contexts


class DmaMemory(Protocol):
    """A physically contiguous DMA buffer (a qrv.lib.c.mman DmaMapping satisfies it)."""

    paddr: int
    length: int

    def read(self, off: int, size: int) -> bytes: ...

    def write(self, off: int, data: bytes | memoryview) -> None: ...

    def read16(self, off: int) -> int: ...

    def view(self, off: int, size: int) -> memoryview | None:
        """The bytes in place (no copy) where the machine's RAM is plain memory, else None."""
        ...


class Idle(Protocol):
    """How a thread waits for completions it has not yet seen (polling or an interrupt)."""

    def __call__(self, qp: QueuePair, deadline: float) -> None: ...


def poll_idle(qp: QueuePair, deadline: float) -> None:
    """Polling: sleep a little on the kernel's clock, then look again."""
    del qp, deadline
    delay(POLL_SLEEP_S)


def dma_rmb() -> None:
    """Read barrier between the phase check and the CQE/payload loads.

    The seed needed ``__atomic_thread_fence(ACQUIRE)`` here: RISC-V may
    reorder the payload loads before the phase-tag load.  In this Python
    system every load is a bus access performed in program order, so the
    barrier has nothing to order; the call marks where a weakly ordered CPU
    needs ``fence r,r`` and keeps the read sequence the seed's.
    """


class QueuePair:
    """One SQ and its CQ (same id), shared by the threads that submit to it."""

    def __init__(
        self,
        regs: ControllerRegs,
        qid: int,
        entries: int,
        sq: DmaMemory,
        cq: DmaMemory,
        *,
        timeout_s: float,
        idle: Idle = poll_idle,
    ) -> None:
        if entries < 2:
            raise ValueError("a queue needs at least 2 entries (NVMe 1.4 §4.1.3)")
        self.regs = regs
        self.qid = qid
        self.entries = entries
        self.sq = sq
        self.cq = cq
        self._cq_ram = cq.view(0, cq.length)
        """The CQ in place where RAM is plain memory (else None: loads through the
        mapping), as a C driver reads its CQ through a pointer: the phase tag and the
        CQE without a call into the mapping for each."""
        self.timeout_s = timeout_s
        self.idle = idle
        self.polled = True
        """True: a waiting thread drains the CQ itself.  False: the interrupt service
        thread does (interrupts.py) and waiters only sleep in :attr:`idle`."""
        self.sq_tail = 0
        self.sq_head = 0
        self.cq_head = 0
        self.phase = 1
        self._rung_tail = 0
        self._next_cid = 0
        self.outstanding: dict[int, str] = {}
        """CID -> what the command is, for every command submitted and not yet reaped."""
        self.done: dict[int, Completion] = {}
        """Completions reaped and not yet picked up by their waiter."""
        self.abandoned: set[int] = set()
        """CIDs whose waiter gave up (timeout): their late completion is dropped."""
        self.stray = 0
        """Completions whose CID no command had (NVMe 1.4 §4.6 makes CID + SQ id unique)."""
        self.last_stray: Completion | None = None
        self._sq_doorbell = regs.sq_doorbell(qid)
        self._cq_doorbell = regs.cq_doorbell(qid)

    # -- submission ------------------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Commands that may be outstanding at once: one SQ slot always stays empty."""
        return self.entries - 1

    @property
    def free_slots(self) -> int:
        return self.capacity - len(self.outstanding)

    @property
    def full(self) -> bool:
        """An SQ is full when tail + 1 == head (one slot stays empty, NVMe 1.4 §4.1.2)."""
        return (self.sq_tail + 1) % self.entries == self.sq_head

    def _new_cid(self) -> int:
        while True:
            cid = self._next_cid
            self._next_cid = (cid + 1) % CID_LIMIT
            if cid not in self.outstanding:
                return cid

    def submit(self, cmd: Command, what: str, *, ring: bool = True) -> int:
        """Write the SQE at the tail under a free CID; ring the tail doorbell unless
        `ring` is False (a batch rings once, :meth:`ring`).  Returns the CID."""
        if self.free_slots <= 0 or self.full:
            raise ControllerTimeout(f"{what}: SQ {self.qid} is full (head {self.sq_head})")
        cid = self._new_cid()
        self.outstanding[cid] = what
        self.sq.write(self.sq_tail * SQE_SIZE, cmd.pack(cid))
        self.sq_tail = (self.sq_tail + 1) % self.entries
        if ring:
            self.ring()
        return cid

    def ring(self) -> None:
        """Store the SQ tail into its doorbell if it moved since the last ring."""
        if self.sq_tail != self._rung_tail:
            self._rung_tail = self.sq_tail
            self.regs.write32(self._sq_doorbell, self.sq_tail)

    def wait_slots(self, what: str, wanted: int = 1) -> int:
        """Wait (bounded by the timeout) until a slot is free; up to `wanted` free slots."""
        if self.free_slots > 0:  # the usual case: no wait, so no deadline either
            return min(wanted, self.free_slots)
        deadline = ClockTime() + self.timeout_s
        while self.free_slots <= 0:
            if self.polled:
                self.reap()
            if self.free_slots > 0:
                break
            if ClockTime() >= deadline:
                raise self._timeout(f"{what} (waiting for a free slot on SQ {self.qid})")
            self.idle(self, deadline)
        return min(wanted, self.free_slots)

    # -- completion ------------------------------------------------------------------------

    def _new_entry(self) -> bool:
        """Whether the CQE at the head has the phase tag the host expects (NVMe 1.4 §4.6)."""
        at = self.cq_head * CQE_SIZE + CQE_STATUS_OFFSET
        ram = self._cq_ram
        status = self.cq.read16(at) if ram is None else ram[at]  # the phase: bit 0 of byte 0
        return status & PHASE_BIT == self.phase

    def _head_entry(self) -> Completion:
        """The CQE at the head (its phase tag seen: :meth:`_new_entry`)."""
        at = self.cq_head * CQE_SIZE
        if self._cq_ram is None:
            return Completion.unpack(self.cq.read(at, CQE_SIZE))
        return Completion.unpack(self._cq_ram, at)

    def reap(self) -> int:
        """Take every new CQE off the CQ, file it under its CID, ring the head doorbell
        once.  Returns how many were taken.  A CQE for a CID that has no command is
        counted in :attr:`stray` and dropped; a waiter all of whose commands are the
        only ones outstanding knows it was one of its own (:class:`BadCompletion`),
        others time out."""
        taken = 0
        while self._new_entry():
            dma_rmb()
            cqe = self._head_entry()
            self._advance(cqe)
            taken += 1
            if cqe.sqid != self.qid or cqe.cid not in self.outstanding:
                self.stray += 1
                self.last_stray = cqe
                continue
            del self.outstanding[cqe.cid]
            if cqe.cid in self.abandoned:
                self.abandoned.discard(cqe.cid)
            else:
                self.done[cqe.cid] = cqe
        if taken:
            self.regs.write32(self._cq_doorbell, self.cq_head)
        return taken

    def _advance(self, cqe: Completion) -> None:
        self.sq_head = cqe.sqhd % self.entries
        self.cq_head += 1
        if self.cq_head == self.entries:
            self.cq_head = 0
            self.phase ^= 1

    def wait_all(self, cids: Iterable[int], what: str) -> dict[int, Completion]:
        """The completions of `cids`, in any order, bounded by the queue's timeout
        (counted from now).  On a timeout or a stray completion the CIDs still
        outstanding are abandoned and the error raised."""
        waiting = set(cids)
        got: dict[int, Completion] = {}
        deadline = ClockTime() + self.timeout_s
        strays = self.stray
        polls = 0
        try:
            while True:
                if self.polled:
                    self.reap()
                for cid in [c for c in waiting if c in self.done]:
                    got[cid] = self.done.pop(cid)
                    waiting.discard(cid)
                if not waiting:
                    return got
                if self.stray != strays and waiting >= set(self.outstanding):
                    # every command outstanding is ours: the stray answered one of them
                    raise self._stray(what, min(waiting))
                polls += 1
                if polls > SPIN_POLLS or not self.polled:
                    if ClockTime() >= deadline:
                        raise self._timeout(what)
                    self.idle(self, deadline)
        except BaseException:
            self.abandon(waiting)
            raise

    def wait(self, cid: int, what: str) -> Completion:
        return self.wait_all([cid], what)[cid]

    def abandon(self, cids: Iterable[int]) -> None:
        """Give up on `cids`: a completion that comes later is dropped, and only then
        is its CID free again (a late completion must not be taken for a new command)."""
        for cid in cids:
            self.done.pop(cid, None)
            if cid in self.outstanding:
                self.abandoned.add(cid)

    def _stray(self, what: str, expected: int) -> Exception:
        cqe = self.last_stray
        cid, sqid = (cqe.cid, cqe.sqid) if cqe is not None else (-1, -1)
        return BadCompletion(
            f"{what}: completion for CID {cid} on SQ {sqid}, "
            f"expected CID {expected} on SQ {self.qid}"
        )

    def _timeout(self, what: str) -> Exception:
        if self.regs.csts & Csts.CFS:
            return ControllerFatal(f"{what}: controller fatal status (CSTS.CFS) while waiting")
        if not self.polled and self._new_entry():
            return ControllerTimeout(
                f"{what}: no interrupt within {self.timeout_s:g} s "
                f"(a completion is posted on CQ {self.qid})"
            )
        strays = f" ({self.stray} completion(s) with an unknown CID seen)" if self.stray else ""
        return ControllerTimeout(f"{what}: no completion within {self.timeout_s:g} s{strays}")

    def execute(self, cmd: Command, what: str) -> Completion:
        """Submit one command and wait for its completion (admin commands, and the
        public way to run one command on any pair)."""
        self.wait_slots(what)
        return self.wait(self.submit(cmd, what), what)

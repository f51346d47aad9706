"""Submission/completion queue pairs in DMA memory (NVMe 1.4 §4.1, §4.6, §7.4).

The host owns the SQ tail and the CQ head; the controller owns the SQ head
(reported back in each CQE's SQHD) and the CQ tail.  A CQE is new when its
phase tag equals the phase the host expects; the expected phase starts at 1
and flips each time the CQ head wraps (NVMe 1.4 §4.6).
"""

from __future__ import annotations

from typing import Protocol

from qrv.drivers.devb_nvme.errors import BadCompletion, ControllerFatal, ControllerTimeout
from qrv.drivers.devb_nvme.regs import ControllerRegs
from qrv.lib.c.proc import ClockTime, delay
from qrv.spec.nvme import CQE_SIZE, PHASE_BIT, SQE_SIZE, Command, Completion, Csts

CQE_STATUS_OFFSET = 14  # the status half-word (phase in bit 0) of a CQE
SPIN_POLLS = 64  # polls before the wait starts sleeping between polls
POLL_SLEEP_S = 0.0002
CID_LIMIT = 0xFFFF  # CID FFFFh is avoided: NVMe 2.0 reserves it in some contexts


class DmaMemory(Protocol):
    """A physically contiguous DMA buffer (a qrv.lib.c.mman DmaMapping satisfies it)."""

    paddr: int
    length: int

    def read(self, off: int, size: int) -> bytes: ...

    def write(self, off: int, data: bytes) -> None: ...

    def read16(self, off: int) -> int: ...


def dma_rmb() -> None:
    """Read barrier between the phase check and the CQE/payload loads.

    The seed needed ``__atomic_thread_fence(ACQUIRE)`` here: RISC-V may
    reorder the payload loads before the phase-tag load.  In this Python
    system every load is a bus access performed in program order, so the
    barrier has nothing to order; the call marks where a weakly ordered CPU
    needs ``fence r,r`` and keeps the read sequence the seed's.
    """


class QueuePair:
    """One SQ and its CQ (same id), used by one thread."""

    def __init__(
        self,
        regs: ControllerRegs,
        qid: int,
        entries: int,
        sq: DmaMemory,
        cq: DmaMemory,
        *,
        timeout_s: float,
    ) -> None:
        if entries < 2:
            raise ValueError("a queue needs at least 2 entries (NVMe 1.4 §4.1.3)")
        self.regs = regs
        self.qid = qid
        self.entries = entries
        self.sq = sq
        self.cq = cq
        self.timeout_s = timeout_s
        self.sq_tail = 0
        self.sq_head = 0
        self.cq_head = 0
        self.phase = 1
        self._next_cid = 0
        self._sq_doorbell = regs.sq_doorbell(qid)
        self._cq_doorbell = regs.cq_doorbell(qid)

    def _new_cid(self) -> int:
        cid = self._next_cid
        self._next_cid = (cid + 1) % CID_LIMIT
        return cid

    @property
    def full(self) -> bool:
        """An SQ is full when tail + 1 == head (one slot stays empty, NVMe 1.4 §4.1.2)."""
        return (self.sq_tail + 1) % self.entries == self.sq_head

    def submit(self, cmd: Command) -> int:
        """Write the SQE at the tail, then ring the tail doorbell.  Returns the CID."""
        if self.full:
            raise ControllerTimeout(f"SQ {self.qid} is full (head {self.sq_head})")
        cid = self._new_cid()
        self.sq.write(self.sq_tail * SQE_SIZE, cmd._replace(cid=cid).pack())
        self.sq_tail = (self.sq_tail + 1) % self.entries
        self.regs.write32(self._sq_doorbell, self.sq_tail)
        return cid

    def wait(self, cid: int, what: str) -> Completion:
        """Poll for the next CQE, bounded by the queue's timeout; it must carry `cid`."""
        deadline = ClockTime() + self.timeout_s
        off = self.cq_head * CQE_SIZE
        polls = 0
        while self.cq.read16(off + CQE_STATUS_OFFSET) & PHASE_BIT != self.phase:
            polls += 1
            if polls > SPIN_POLLS:
                if ClockTime() >= deadline:
                    raise self._timeout(what)
                delay(POLL_SLEEP_S)
        dma_rmb()
        cqe = Completion.unpack(self.cq.read(off, CQE_SIZE))
        self._consume(cqe)
        if cqe.cid != cid or cqe.sqid != self.qid:
            raise BadCompletion(
                f"{what}: completion for CID {cqe.cid} on SQ {cqe.sqid}, "
                f"expected CID {cid} on SQ {self.qid}"
            )
        return cqe

    def _consume(self, cqe: Completion) -> None:
        self.sq_head = cqe.sqhd % self.entries
        self.cq_head += 1
        if self.cq_head == self.entries:
            self.cq_head = 0
            self.phase ^= 1
        self.regs.write32(self._cq_doorbell, self.cq_head)

    def _timeout(self, what: str) -> Exception:
        if self.regs.csts & Csts.CFS:
            return ControllerFatal(f"{what}: controller fatal status (CSTS.CFS) while waiting")
        return ControllerTimeout(f"{what}: no completion within {self.timeout_s:g} s")

    def execute(self, cmd: Command, what: str) -> Completion:
        return self.wait(self.submit(cmd), what)

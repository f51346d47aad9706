"""Submission and completion queues in guest memory (NVMe 1.4 §4.1).

A queue is a ring of `size` entries at `base`; it is empty when head == tail and full when
tail + 1 == head (one slot always stays unused).  The controller owns an SQ's head and a
CQ's tail and phase; the host owns an SQ's tail and a CQ's head, written through doorbells.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from qrv.spec.nvme import CQE_SIZE, SQE_SIZE


@dataclass
class SubmissionQueue:
    qid: int
    base: int
    size: int
    cqid: int
    head: int = 0
    tail: int = 0

    @property
    def empty(self) -> bool:
        return self.head == self.tail

    def entry_addr(self, index: int) -> int:
        return self.base + index * SQE_SIZE

    def tail_valid(self, new_tail: int) -> bool:
        """A tail write is valid if it is inside the queue and does not overrun the entries
        not yet fetched (NVMe 1.4 §4.1: full is tail + 1 == head)."""
        if not 0 <= new_tail < self.size:
            return False
        outstanding = (self.tail - self.head) % self.size
        added = (new_tail - self.tail) % self.size
        return outstanding + added < self.size


@dataclass
class CompletionQueue:
    qid: int
    base: int
    size: int
    ien: bool = False
    iv: int = 0
    head: int = 0
    tail: int = 0
    phase: int = 1  # the phase tag of the first pass is 1 (NVMe 1.4 §4.6)
    sqids: set[int] = field(default_factory=set)
    # Completions waiting for a free slot: (dw0, sqid, cid, status field), SQHD taken at post.
    backlog: deque[tuple[int, int, int, int]] = field(default_factory=deque)

    @property
    def full(self) -> bool:
        return (self.tail + 1) % self.size == self.head

    def entry_addr(self, index: int) -> int:
        return self.base + index * CQE_SIZE

    def advance(self) -> None:
        self.tail += 1
        if self.tail == self.size:
            self.tail = 0
            self.phase ^= 1

    def head_valid(self, new_head: int) -> bool:
        """A head write may only release entries the controller has posted (NVMe 1.4 §4.1)."""
        if not 0 <= new_head < self.size:
            return False
        posted = (self.tail - self.head) % self.size
        return (new_head - self.head) % self.size <= posted

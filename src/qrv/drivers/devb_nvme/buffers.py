"""Bounce buffers for data commands: DMA memory the controller reads and writes.

Each buffer holds one command's data (up to the controller's transfer limit)
and its own PRP list (:mod:`.prp`, NVMe 1.4 §4.3).

Several commands are in flight at once, each with its own buffer: the pool
grows on demand up to its limit, and a buffer goes back only after its
command has completed.  A buffer whose command was abandoned (a timeout) is
never reused: the controller may still write into it.
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.drivers.devb_nvme.prp import prps, transfer_buffer
from qrv.drivers.devb_nvme.queues import DmaMemory

DEFAULT_BUFFERS = 32
"""The pool's limit: commands with data in flight at once (32 x 1 MiB at most)."""

Allocator = Callable[[int], DmaMemory]


class Bounce:
    """One transfer's buffer and PRP list (prp.py)."""

    def __init__(self, alloc: Allocator, size: int) -> None:
        self.data, self.prp_list = transfer_buffer(alloc, size)

    def prps(self, nbytes: int) -> tuple[int, int]:
        """PRP1 and PRP2 for a transfer of `nbytes` from the buffer's start."""
        return prps(self.data, self.prp_list, nbytes)


class BouncePool:
    """Up to `limit` buffers of `size` bytes, allocated when first needed."""

    def __init__(self, alloc: Allocator, size: int, limit: int = DEFAULT_BUFFERS) -> None:
        if limit < 1:
            raise ValueError("a bounce pool needs at least one buffer")
        self.alloc = alloc
        self.size = size
        self.limit = limit
        self.free: list[Bounce] = []
        self.made = 0
        self.lost = 0
        """Buffers given up because their command never completed."""

    def take(self, wanted: int) -> list[Bounce]:
        """Up to `wanted` buffers (none when every buffer is in use)."""
        got = [self.free.pop() for _ in range(min(wanted, len(self.free)))]
        while len(got) < wanted and self.made < self.limit:
            got.append(Bounce(self.alloc, self.size))
            self.made += 1
        return got

    def give(self, bufs: list[Bounce]) -> None:
        self.free.extend(bufs)

    def lose(self, bufs: list[Bounce]) -> None:
        """`bufs` belong to commands that may still complete: never reuse them (they
        still count against the limit, so a controller that keeps dropping commands
        runs the pool dry instead of the memory)."""
        self.lost += len(bufs)

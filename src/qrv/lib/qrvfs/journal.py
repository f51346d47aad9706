"""The write-ahead redo log of qrvfs (docs/qrvfs.md "Journal").

Every change goes through :meth:`Journal.write` inside an operation
(:meth:`begin_op` .. :meth:`end_op`).  A failed operation is undone in memory
(:meth:`abort_op`), so the cache never holds half an operation.  Finished
operations accumulate in the running transaction; :meth:`commit` makes it
durable and installs it:

1. copy each block to the log (logstart + 1 + i), Flush;
2. write the header (targets, sequence, CRC over header and blocks), Flush:
   the commit point;
3. write each block home, Flush;
4. clear the header (durable with the next Flush; a stale header no longer
   matches its CRC once the log is reused, and re-installing is idempotent).

With nlog = 0 there is no log: blocks are written home by the cache
(write-back) and :meth:`commit` writes back and flushes, without crash safety.
"""

from __future__ import annotations

import errno

from qrv.lib.qrvfs.device import BlockCache, BlockDevice
from qrv.lib.qrvfs.errors import FsError
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    EMPTY_LOG_BLOCK,
    LOG_MAGIC,
    LOG_TARGETS_MAX,
    LogHeader,
    Superblock,
)

MAX_OP_BLOCKS = 32
"""Blocks one operation may change (writes are split into chunks that fit)."""
MIN_LOG_BLOCKS = MAX_OP_BLOCKS + 1  # header + one operation


def log_capacity(sb: Superblock) -> int:
    """Blocks one transaction can hold in ``sb``'s log (0: no journal)."""
    return max(0, min(sb.nlog - 1, LOG_TARGETS_MAX))


def min_log_blocks(sb: Superblock) -> int:
    """The smallest usable log: a header, one operation and every bitmap block
    (a truncation frees anywhere in the disk in one transaction)."""
    return MIN_LOG_BLOCKS + (sb.datastart - sb.bmapstart)


class Journal:
    def __init__(self, cache: BlockCache, sb: Superblock, sequence: int = 0) -> None:
        self.cache = cache
        self.sb = sb
        self.capacity = log_capacity(sb)
        self.enabled = self.capacity > 0
        self.sequence = sequence
        self.pending: set[int] = set()  # blocks of the running transaction
        self.commits = 0
        self._undo: dict[int, tuple[bytes | None, bool, bool]] | None = None

    # --- operations -----------------------------------------------------------------

    def begin_op(self, need: int = MAX_OP_BLOCKS) -> None:
        """Start an operation that changes at most ``need`` blocks (committing the
        running transaction first if the log could not hold them)."""
        if self._undo is not None:
            raise RuntimeError("nested filesystem operation")
        if self.enabled and len(self.pending) + need > self.capacity:
            self.commit()
        self._undo = {}

    def _remember(self, block: int, fresh: bool) -> None:
        undo = self._undo
        if undo is None:
            raise RuntimeError("filesystem change outside an operation")
        if block in undo:
            return
        old = None if fresh else bytes(self.cache.get(block))
        undo[block] = (old, self.cache.is_dirty(block), block in self.pending)
        if self.enabled and block not in self.pending and len(self.pending) >= self.capacity:
            raise FsError(errno.ENOSPC, "operation does not fit in the log")
        self.pending.add(block)
        self.cache.pinned.add(block)
        self.cache.mark(block)

    def write(self, block: int) -> bytearray:
        """The buffer of ``block``, to be modified as part of the current operation."""
        self._remember(block, fresh=False)
        return self.cache.get(block)

    def zero(self, block: int) -> bytearray:
        """A zeroed buffer for newly allocated ``block``."""
        self._remember(block, fresh=True)
        return self.cache.zero(block)

    def end_op(self) -> None:
        if self._undo is None:
            raise RuntimeError("end_op without begin_op")
        self._undo = None
        if not self.enabled:
            self.cache.pinned.difference_update(self.pending)
            self.pending.clear()
            self.cache.shrink()
        elif len(self.pending) + MAX_OP_BLOCKS > self.capacity:
            self.commit()

    def abort_op(self) -> None:
        """Undo every change of the current operation (in the cache; none reached disk)."""
        undo, self._undo = self._undo, None
        for block, (old, was_dirty, was_pending) in (undo or {}).items():
            if old is None:
                self.cache.discard(block)
            else:
                self.cache.get(block)[:] = old
                if not was_dirty:
                    self.cache.clean(block)
            if not was_pending:
                self.pending.discard(block)
                self.cache.pinned.discard(block)

    @property
    def in_op(self) -> bool:
        return self._undo is not None

    # --- commit ---------------------------------------------------------------------

    def commit(self) -> None:
        """Make every finished operation durable (see the module docstring)."""
        if self._undo is not None:
            raise RuntimeError("commit inside an operation")
        dev = self.cache.device
        if not self.enabled:
            self.cache.write_back()
            dev.flush()
            return
        if not self.pending:
            return
        targets = tuple(sorted(self.pending))
        blocks = [self.cache.peek(b) for b in targets]
        for i, data in enumerate(blocks):
            dev.write(self.sb.logstart + 1 + i, data)
        dev.flush()
        self.sequence += 1
        dev.write(self.sb.logstart, LogHeader.build(self.sequence, targets, blocks).to_block())
        dev.flush()
        for block, data in zip(targets, blocks, strict=True):
            dev.write(block, data)
            self.cache.clean(block)
        dev.flush()
        dev.write(self.sb.logstart, EMPTY_LOG_BLOCK)
        self.cache.pinned.difference_update(self.pending)
        self.pending.clear()
        self.commits += 1
        self.cache.shrink()


# --- replay ---------------------------------------------------------------------------


class LogState:
    """What the log area of an image holds."""

    def __init__(self, header: LogHeader | None, blocks: list[bytes], problem: str | None) -> None:
        self.header = header
        self.blocks = blocks  # the committed blocks, when the header checks
        self.problem = problem  # why a non-empty header is not a commit

    @property
    def committed(self) -> bool:
        return self.header is not None and self.problem is None

    @property
    def empty(self) -> bool:
        return self.header is None


def read_log(dev: BlockDevice, sb: Superblock) -> LogState:
    """Read and check the log header (and its blocks) of ``sb``; never raises for
    a bad header, only reports it."""
    if sb.nlog == 0:
        return LogState(None, [], None)
    header = LogHeader.unpack(dev.read(sb.logstart))
    if header is None:
        return LogState(None, [], None)
    if header.magic != LOG_MAGIC:
        return LogState(header, [], f"log header has bad magic 0x{header.magic:08x}")
    if not 0 < header.count <= log_capacity(sb):
        return LogState(
            header, [], f"log header counts {header.count} blocks, log holds {log_capacity(sb)}"
        )
    for target in header.targets:
        if not sb.inodestart <= target < sb.size:
            return LogState(
                header,
                [],
                f"log header targets block {target}, outside {sb.inodestart}..{sb.size - 1}",
            )
    blocks = [dev.read(sb.logstart + 1 + i) for i in range(header.count)]
    if LogHeader.checksum(header.sequence, header.targets, blocks) != header.crc:
        return LogState(header, [], "log header checksum does not match (not a commit)")
    return LogState(header, blocks, None)


def install_log(dev: BlockDevice, sb: Superblock, state: LogState) -> int:
    """Replay a committed log home, then clear it; clear a header that is not a
    commit.  Returns the blocks installed."""
    if state.empty:
        return 0
    installed = 0
    if state.committed and state.header is not None:
        for target, data in zip(state.header.targets, state.blocks, strict=True):
            dev.write(target, data)
            installed += 1
        dev.flush()
    dev.write(sb.logstart, bytes(BLOCK_SIZE))
    dev.flush()
    return installed

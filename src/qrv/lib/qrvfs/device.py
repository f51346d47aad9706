"""The block device under a qrvfs: positioned reads and writes of whole 4 KiB
blocks over caller-supplied ``pread``/``pwrite``/``flush`` callables (a host
image file, a partition of one, or a partition node of devb-nvme), and the
bounded write-back block cache on top of it."""

from __future__ import annotations

import errno
from collections import OrderedDict
from collections.abc import Callable, Iterator

from qrv.lib.qrvfs.errors import FsCorrupt, FsDeviceError
from qrv.spec.qrvfs import BLOCK_SIZE

Pread = Callable[[int, int], bytes]  # (byte offset, length) -> bytes
Pwrite = Callable[[int, bytes], None]  # (byte offset, data)
Flush = Callable[[], None]


class BlockDevice:
    """``nblocks`` blocks of ``BLOCK_SIZE`` bytes; ``pwrite`` None = read-only."""

    def __init__(
        self,
        pread: Pread,
        size_bytes: int,
        pwrite: Pwrite | None = None,
        flush: Flush | None = None,
    ) -> None:
        self._pread = pread
        self._pwrite = pwrite
        self._flush = flush
        self.nblocks = size_bytes // BLOCK_SIZE
        self.writes = 0  # block writes issued (for tests and benchmarks)

    @property
    def read_only(self) -> bool:
        return self._pwrite is None

    def _check(self, block: int) -> None:
        if not 0 <= block < self.nblocks:
            raise FsCorrupt(f"block {block} is beyond the device ({self.nblocks} blocks)")

    def read(self, block: int) -> bytes:
        self._check(block)
        data = self._pread(block * BLOCK_SIZE, BLOCK_SIZE)
        if len(data) != BLOCK_SIZE:
            raise FsDeviceError(errno.EIO, f"short read of block {block} ({len(data)} bytes)")
        return data

    def read_run(self, block: int, count: int) -> list[bytearray]:
        """``count`` consecutive blocks from ``block`` in one device read, each
        its own buffer (one copy out of the device's reply)."""
        self._check(block)
        self._check(block + count - 1)
        data = memoryview(self._pread(block * BLOCK_SIZE, count * BLOCK_SIZE))
        if len(data) != count * BLOCK_SIZE:
            raise FsDeviceError(errno.EIO, f"short read of blocks {block}+{count}")
        return [bytearray(data[i : i + BLOCK_SIZE]) for i in range(0, len(data), BLOCK_SIZE)]

    def write(self, block: int, data: bytes) -> None:
        self._check(block)
        if self._pwrite is None:
            raise FsDeviceError(errno.EROFS, "device is read-only")
        if len(data) != BLOCK_SIZE:
            raise ValueError(f"block write of {len(data)} bytes")
        self._pwrite(block * BLOCK_SIZE, data)
        self.writes += 1

    def flush(self) -> None:
        """Make every completed write durable (NVMe Flush, fsync on the host)."""
        if self._flush is not None:
            self._flush()


class BlockCache:
    """A bounded LRU of blocks over a device, write-back.

    A dirty block is written when evicted or on :meth:`write_back`, unless it is
    *pinned* (it belongs to an uncommitted journal transaction: it must not reach
    its home before the commit).  Pinned blocks never count against eviction;
    the journal keeps their number bounded by the log size.
    """

    def __init__(self, device: BlockDevice, capacity: int = 1024) -> None:
        self.device = device
        self.capacity = max(8, capacity)
        self._blocks: OrderedDict[int, bytearray] = OrderedDict()
        self._dirty: set[int] = set()
        self.pinned: set[int] = set()

    def get(self, block: int) -> bytearray:
        """The cached buffer of ``block`` (read on a miss); modify it, then :meth:`mark`."""
        buf = self._blocks.get(block)
        if buf is not None:
            self._blocks.move_to_end(block)
            return buf
        buf = bytearray(self.device.read(block))
        self._insert(block, buf)
        return buf

    def get_cached(self, block: int) -> bytearray | None:
        """``block``'s buffer if it is cached (no device read)."""
        return self._blocks.get(block)

    def load_run(self, first: int, count: int) -> None:
        """Bring blocks ``first .. first+count-1`` into the cache with one device read
        (a sequential read's read-ahead); blocks already cached are kept as they are."""
        count = min(count, self.capacity // 2)
        blocks = self._blocks
        if count <= 1 or all(b in blocks for b in range(first, first + count)):
            return
        for block, buf in enumerate(self.device.read_run(first, count), first):
            if block not in blocks:
                blocks[block] = buf
        self._evict()

    def zero(self, block: int) -> bytearray:
        """A cached all-zero buffer for a newly allocated ``block`` (no read)."""
        self.device._check(block)
        buf = self._blocks.get(block)
        if buf is None:
            buf = bytearray(BLOCK_SIZE)
            self._insert(block, buf)
        else:
            buf[:] = bytes(BLOCK_SIZE)
            self._blocks.move_to_end(block)
        return buf

    def _insert(self, block: int, buf: bytearray) -> None:
        self._blocks[block] = buf
        self._evict()

    def _evict(self) -> None:
        """Drop least recently used unpinned blocks (writing dirty ones home) until
        the unpinned ones fit the capacity.  The walk stops at the last victim:
        it does not copy or visit the whole cache."""
        excess = len(self._blocks) - len(self.pinned) - self.capacity
        if excess <= 0:
            return
        victims: list[int] = []
        for block in self._blocks:  # least recently used first
            if block not in self.pinned:
                victims.append(block)
                if len(victims) == excess:
                    break
        for victim in victims:
            if victim in self._dirty:
                self.device.write(victim, bytes(self._blocks[victim]))
                self._dirty.discard(victim)
            del self._blocks[victim]

    def shrink(self) -> None:
        """Evict down to the capacity (after blocks were unpinned)."""
        self._evict()

    def discard(self, block: int) -> None:
        """Forget ``block`` without writing it."""
        self._blocks.pop(block, None)
        self._dirty.discard(block)

    def mark(self, block: int) -> None:
        """``block``'s buffer was modified."""
        self._dirty.add(block)

    def is_dirty(self, block: int) -> bool:
        return block in self._dirty

    def peek(self, block: int) -> bytes:
        return bytes(self._blocks[block])

    def clean(self, block: int) -> None:
        """``block`` reached its home (the journal installed it)."""
        self._dirty.discard(block)

    def dirty_blocks(self) -> Iterator[int]:
        return iter(sorted(self._dirty))

    def write_back(self) -> None:
        """Write every dirty, unpinned block home (in block order)."""
        for block in sorted(self._dirty - self.pinned):
            self.device.write(block, bytes(self._blocks[block]))
            self._dirty.discard(block)

    def drop(self) -> None:
        """Forget everything (after a failed operation the cache may disagree with disk)."""
        self._blocks.clear()
        self._dirty.clear()
        self.pinned.clear()

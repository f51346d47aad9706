"""The controller's volatile write cache (Identify VWC bit 0, NVMe 1.4 §5.21.1.6).

A completed Write leaves its data here, one line per LBA, until a Flush, a FUA write, a
switch of the cache to off, a reset or shutdown, or eviction writes it to the namespace's
image file.  The cache is bounded (:data:`DEFAULT_CACHE_BYTES`); when a write would make it
larger, the oldest lines are written out first.  Reads see the cache over the medium.

The LBA is the unit of atomicity (Identify AWUN = AWUPF = 0): a line is written to the
image with one ``pwrite``, and power loss (:meth:`WriteCache.power_loss`) keeps or drops
whole lines.  Each line remembers which write command put it there; at power loss an
arbitrary subset of the writes that still have lines here, drawn from the caller's random
generator, is lost, and the lines of the others reach the image.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Collection

from qrv.hw.nvme.namespace import Namespace

DEFAULT_CACHE_BYTES = 8 << 20
LOSS_PROBABILITY = 0.5
"""Each unflushed write is lost with this probability at power loss."""

Key = tuple[int, int]  # (nsid, LBA)


class WriteCache:
    """Cached LBAs of every namespace, oldest first; at most `capacity` bytes of data."""

    def __init__(self, capacity: int = DEFAULT_CACHE_BYTES) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity {capacity} is negative")
        self.capacity = capacity
        self._lines: OrderedDict[Key, tuple[bytes, int]] = OrderedDict()  # -> (data, write)
        self._namespaces: dict[int, Namespace] = {}
        self._pending: dict[int, int] = {}  # write number -> its lines still cached
        self.used = 0

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def unflushed_writes(self) -> int:
        """Write commands with at least one LBA still only in the cache."""
        return len(self._pending)

    # -- the data path ---------------------------------------------------------------

    def put(self, ns: Namespace, slba: int, data: bytes, write: int) -> None:
        """Cache `data` (whole LBAs from `slba`) as write number `write`; evict if full.

        Raises OSError if an eviction cannot write to the image."""
        self._namespaces[ns.nsid] = ns
        size, nsid = ns.lba_size, ns.nsid
        lines, pending = self._lines, self._pending
        count = len(data) // size
        replaced = 0
        for i in range(count):
            key = (nsid, slba + i)
            old = lines.pop(key, None)
            if old is not None:  # _drop, inlined: this loop is the write path's hot spot
                replaced += 1
                left = pending[old[1]] - 1
                if left:
                    pending[old[1]] = left
                else:
                    del pending[old[1]]
            lines[key] = (data[i * size : (i + 1) * size], write)
        self.used += (count - replaced) * size
        pending[write] = pending.get(write, 0) + count
        self._evict()

    def overlay(self, ns: Namespace, slba: int, nlb: int, data: bytearray | memoryview) -> None:
        """Put the cached LBAs of [slba, slba+nlb) over `data` (read from the medium)."""
        if not self._lines:
            return
        size, nsid = ns.lba_size, ns.nsid
        if nlb <= len(self._lines):
            for lba in range(slba, slba + nlb):
                line = self._lines.get((nsid, lba))
                if line is not None:
                    pos = (lba - slba) * size
                    data[pos : pos + size] = line[0]
            return
        for (line_ns, lba), (block, _) in self._lines.items():
            if line_ns == nsid and slba <= lba < slba + nlb:
                pos = (lba - slba) * size
                data[pos : pos + size] = block

    def discard(self, ns: Namespace, slba: int, nlb: int) -> None:
        """Forget cached LBAs that a write to the medium itself supersedes."""
        if not self._lines:
            return
        if nlb <= len(self._lines):
            keys = [(ns.nsid, lba) for lba in range(slba, slba + nlb)]
        else:
            keys = [k for k in self._lines if k[0] == ns.nsid and slba <= k[1] < slba + nlb]
        for key in keys:
            self._drop(key)

    # -- writing out -----------------------------------------------------------------

    def flush(self, nsids: Collection[int] | None = None) -> None:
        """Write every line (of the namespaces `nsids`, or all) to the image, in runs of
        adjacent LBAs.  A line leaves the cache only once written; OSError propagates."""
        keys = sorted(k for k in self._lines if nsids is None or k[0] in nsids)
        self._write_out(keys)

    def _write_out(self, keys: list[Key]) -> None:
        start = 0
        while start < len(keys):
            end = start + 1
            while (
                end < len(keys)
                and keys[end][0] == keys[start][0]
                and keys[end][1] == keys[end - 1][1] + 1
            ):
                end += 1
            run = keys[start:end]
            nsid, slba = run[0]
            ns = self._namespaces[nsid]
            data = b"".join(self._lines[k][0] for k in run)
            if ns.write(slba, data) != len(data):
                raise OSError(f"nsid {nsid}: short write of {len(run)} cached LBAs")
            for key in run:
                self._drop(key)
            start = end

    def _evict(self) -> None:
        """Write out the oldest lines until the cache fits again (adjacent ones together)."""
        excess = self.used - self.capacity
        victims: list[Key] = []
        for key, (block, _) in self._lines.items():
            if excess <= 0:
                break
            victims.append(key)
            excess -= len(block)
        self._write_out(sorted(victims))

    def _drop(self, key: Key) -> None:
        line = self._lines.pop(key, None)
        if line is None:
            return
        self.used -= len(line[0])
        write = line[1]
        left = self._pending[write] - 1
        if left:
            self._pending[write] = left
        else:
            del self._pending[write]

    # -- power loss ------------------------------------------------------------------

    def power_loss(self, rng: random.Random) -> int:
        """Lose an arbitrary subset (drawn from `rng`) of the unflushed writes; the lines of
        the others reach the image.  Returns how many writes were lost; the cache is empty."""
        lost = {w for w in sorted(self._pending) if rng.random() < LOSS_PROBABILITY}
        kept = sorted(k for k, (_, write) in self._lines.items() if write not in lost)
        try:
            self._write_out(kept)
        finally:
            self._lines.clear()
            self._pending.clear()
            self.used = 0
        return len(lost)

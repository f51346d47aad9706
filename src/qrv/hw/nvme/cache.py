"""The controller's volatile write cache (Identify VWC bit 0, NVMe 1.4 §5.21.1.6).

A completed Write leaves its data here until a Flush, a FUA write, a switch of the cache
to off, a reset or shutdown, or eviction writes it to the namespace's image file.  The
cache is bounded (:data:`DEFAULT_CACHE_BYTES`); when a write would make it larger, the
oldest cached LBAs are written out first.  Reads see the cache over the medium.

The LBA is the unit of atomicity (Identify AWUN = AWUPF = 0): power loss
(:meth:`WriteCache.power_loss`) keeps or drops whole LBAs.  Each cached LBA remembers which
write command put it there; at power loss an arbitrary subset of the writes that still have
LBAs here, drawn from the caller's random generator, is lost, and the LBAs of the others
reach the image.

A write's data are kept as they came, one piece per command (:class:`_Put`); what the cache
holds of it is a list of runs of LBAs (:class:`_Run`), cut where later writes, Write
Zeroes or Deallocate superseded some of them.  Every namespace keeps its runs sorted by
LBA, so a read or a write finds the cached LBAs of its range by bisection, and no write
is copied line by line.  "Oldest first" is the order of the puts, and within one put the
order of its LBAs.  A put that keeps fewer than half of its LBAs keeps only their data
(:meth:`_Put.compact`), so the memory held stays within twice the bytes cached even when
later writes supersede most of every earlier one.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Collection, Iterator
from operator import attrgetter

from qrv.hw.nvme.namespace import Namespace

DEFAULT_CACHE_BYTES = 8 << 20
LOSS_PROBABILITY = 0.5
"""Each unflushed write is lost with this probability at power loss."""

_START = attrgetter("start")


class _Put:
    """The data of one cached write (whole LBAs) and its runs still cached."""

    __slots__ = ("data", "key", "live", "ns", "runs", "write")

    def __init__(self, key: int, ns: Namespace, data: bytes, write: int, count: int) -> None:
        self.key = key
        """Its place in the cache's age order."""
        self.ns = ns
        self.data = memoryview(data if type(data) is bytes else bytes(data))  # immutable
        self.write = write
        self.runs: list[_Run] = []
        """Sorted by LBA."""
        self.live = count
        """Its LBAs still cached."""

    def compact(self) -> None:
        """Keep only the data of the LBAs still cached, runs end to end (a write mostly
        superseded must not hold its whole buffer: see :meth:`WriteCache._drop`)."""
        shift = self.ns.lba_shift
        kept = bytearray()
        for run in self.runs:
            piece = run.view(run.start, run.end)
            run.origin = run.start - (len(kept) >> shift)
            kept += piece
        self.data = memoryview(bytes(kept))


class _Run:
    """LBAs [start, end) of one namespace, cached with the data of `put`."""

    __slots__ = ("end", "origin", "put", "start")

    def __init__(self, start: int, end: int, put: _Put, origin: int) -> None:
        self.start = start
        self.end = end
        self.put = put
        self.origin = origin
        """The LBA whose data would sit at offset 0 of ``put.data``."""

    def view(self, start: int, end: int) -> memoryview:
        """The cached data of LBAs [start, end) (inside the run), in place."""
        shift = self.put.ns.lba_shift
        return self.put.data[(start - self.origin) << shift : (end - self.origin) << shift]


class WriteCache:
    """Cached LBAs of every namespace, oldest first; at most `capacity` bytes of data."""

    def __init__(self, capacity: int = DEFAULT_CACHE_BYTES) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity {capacity} is negative")
        self.capacity = capacity
        self._runs: dict[int, list[_Run]] = {}  # nsid -> runs sorted by LBA, disjoint
        self._namespaces: dict[int, Namespace] = {}
        self._puts: OrderedDict[int, _Put] = OrderedDict()  # oldest first, by put number
        self._next_put = 0
        self._pending: dict[int, int] = {}  # write number -> its LBAs still cached
        self._count = 0
        self.used = 0

    def __len__(self) -> int:
        """Cached LBAs."""
        return self._count

    @property
    def unflushed_writes(self) -> int:
        """Write commands with at least one LBA still only in the cache."""
        return len(self._pending)

    # -- the data path ---------------------------------------------------------------

    def put(self, ns: Namespace, slba: int, data: bytes, write: int) -> None:
        """Cache `data` (whole LBAs from `slba`; bytes are kept as they are, anything else
        copied once) as write number `write`; evict if full.

        Raises OSError if an eviction cannot write to the image."""
        count = len(data) >> ns.lba_shift
        if not count:
            return
        self._drop(ns.nsid, slba, slba + count)
        self._namespaces[ns.nsid] = ns
        put = _Put(self._next_put, ns, data, write, count)
        self._next_put += 1
        run = _Run(slba, slba + count, put, slba)
        put.runs.append(run)
        runs = self._runs.setdefault(ns.nsid, [])
        runs.insert(bisect_right(runs, slba, key=_START), run)
        self._puts[put.key] = put
        self._count += count
        self.used += count << ns.lba_shift
        self._pending[write] = self._pending.get(write, 0) + count
        self._evict()

    def overlay(self, ns: Namespace, slba: int, nlb: int, data: bytearray | memoryview) -> None:
        """Put the cached LBAs of [slba, slba+nlb) over `data` (read from the medium)."""
        shift = ns.lba_shift
        for run, start, end in self._overlapping(ns.nsid, slba, slba + nlb):
            data[(start - slba) << shift : (end - slba) << shift] = run.view(start, end)

    def discard(self, ns: Namespace, slba: int, nlb: int) -> None:
        """Forget cached LBAs that a write to the medium itself supersedes."""
        self._drop(ns.nsid, slba, slba + nlb)

    # -- runs --------------------------------------------------------------------------

    def _span(self, runs: list[_Run], lo: int, hi: int) -> range:
        """The indexes in `runs` of the runs with LBAs in [lo, hi)."""
        first = bisect_right(runs, lo, key=_START)
        if first and runs[first - 1].end > lo:
            first -= 1
        last = first
        while last < len(runs) and runs[last].start < hi:
            last += 1
        return range(first, last)

    def _overlapping(self, nsid: int, lo: int, hi: int) -> Iterator[tuple[_Run, int, int]]:
        """The runs of `nsid` with LBAs in [lo, hi), in LBA order, with the part inside."""
        runs = self._runs.get(nsid, [])
        for i in self._span(runs, lo, hi):
            run = runs[i]
            yield run, max(run.start, lo), min(run.end, hi)

    def _drop(self, nsid: int, lo: int, hi: int) -> None:
        """Forget the cached LBAs of [lo, hi) of `nsid` (cutting the runs that straddle it)."""
        runs = self._runs.get(nsid, [])
        span = self._span(runs, lo, hi)
        if not span:
            return
        stay: list[_Run] = []  # what the runs of the span keep, outside [lo, hi)
        cut: dict[int, _Put] = {}  # the puts that lost LBAs but keep some
        for run in runs[span.start : span.stop]:
            start, end = max(run.start, lo), min(run.end, hi)
            put = run.put
            self._forget(put, end - start)
            parts = put.runs
            at = parts.index(run)
            if run.start < start and end < run.end:  # the middle goes: two runs stay
                rest = _Run(end, run.end, put, run.origin)
                run.end = start
                parts.insert(at + 1, rest)
                stay += (run, rest)
            elif run.start < start:
                run.end = start
                stay.append(run)
            elif end < run.end:
                run.start = end
                stay.append(run)
            else:
                del parts[at]
                if not parts:
                    del self._puts[put.key]
            if parts:
                cut[put.key] = put
        runs[span.start : span.stop] = stay
        for put in cut.values():  # memory stays within twice the bytes cached
            if put.runs and 2 * put.live < len(put.data) >> put.ns.lba_shift:
                put.compact()

    def _forget(self, put: _Put, count: int) -> None:
        """`count` LBAs of `put` leave the cache."""
        put.live -= count
        self._count -= count
        self.used -= count << put.ns.lba_shift
        left = self._pending[put.write] - count
        if left:
            self._pending[put.write] = left
        else:
            del self._pending[put.write]

    # -- writing out -----------------------------------------------------------------

    def flush(self, nsids: Collection[int] | None = None) -> None:
        """Write every cached LBA (of the namespaces `nsids`, or all) to the image, in runs
        of adjacent LBAs.  An LBA leaves the cache only once written; OSError propagates."""
        ranges = [
            (nsid, run.start, run.end)
            for nsid, runs in self._runs.items()
            if nsids is None or nsid in nsids
            for run in runs
        ]
        self._write_out(ranges)

    def _write_out(self, ranges: list[tuple[int, int, int]]) -> None:
        """Write the cached LBA ranges (nsid, start, end) to the images, adjacent ones with
        one pwrite, and drop each once written."""
        for nsid, lo, hi in _merged(ranges):
            pieces = [run.view(start, end) for run, start, end in self._overlapping(nsid, lo, hi)]
            data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            if self._namespaces[nsid].write(lo, data) != len(data):
                raise OSError(f"nsid {nsid}: short write of {hi - lo} cached LBAs")
            self._drop(nsid, lo, hi)

    def _evict(self) -> None:
        """Write out the oldest LBAs until the cache fits again (adjacent ones together)."""
        excess = self.used - self.capacity
        victims: list[tuple[int, int, int]] = []
        for put in self._puts.values():
            if excess <= 0:
                break
            shift = put.ns.lba_shift
            for run in put.runs:
                if excess <= 0:
                    break
                take = min(run.end - run.start, -(-excess >> shift))
                victims.append((put.ns.nsid, run.start, run.start + take))
                excess -= take << shift
        self._write_out(victims)

    # -- power loss ------------------------------------------------------------------

    def power_loss(self, rng: random.Random) -> int:
        """Lose an arbitrary subset (drawn from `rng`) of the unflushed writes; the LBAs of
        the others reach the image.  Returns how many writes were lost; the cache is empty."""
        lost = {w for w in sorted(self._pending) if rng.random() < LOSS_PROBABILITY}
        kept = [
            (put.ns.nsid, run.start, run.end)
            for put in self._puts.values()
            if put.write not in lost
            for run in put.runs
        ]
        try:
            self._write_out(kept)
        finally:
            self._runs.clear()
            self._puts.clear()
            self._pending.clear()
            self._count = 0
            self.used = 0
        return len(lost)


def _merged(ranges: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """(nsid, start, end) ranges sorted, adjacent and overlapping ones joined."""
    out: list[tuple[int, int, int]] = []
    for nsid, lo, hi in sorted(ranges):
        if out and out[-1][0] == nsid and out[-1][2] >= lo:
            out[-1] = (nsid, out[-1][1], max(out[-1][2], hi))
        else:
            out.append((nsid, lo, hi))
    return out

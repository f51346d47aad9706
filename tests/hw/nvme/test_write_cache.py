"""The volatile write cache and power loss (Identify VWC, Set Features VWC, Flush, FUA)."""

from __future__ import annotations

import os
import random
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.hw.nvme import Namespace
from qrv.hw.nvme.cache import LOSS_PROBABILITY, WriteCache
from qrv.spec.nvme import AdminOpcode, Cns, Command, FeatureId, IdentifyController, NvmOpcode
from tests.hw.nvme.conftest import IMAGE_SIZE, Rig, file_bytes, make_image
from tests.hw.nvme.test_admin import OK, status

LBA = 512
PAGE = 4096
FUA = 1 << 30


def up(r: Rig) -> Rig:
    r.host.setup_pci()
    r.host.enable()
    r.host.create_io_queues(1)
    return r


def write(r: Rig, slba: int, data: bytes, *, fua: bool = False) -> None:
    h = r.host
    buf = h.buffer(len(data))
    h.bus.write(buf, data)
    prp1, prp2 = h.contiguous(buf, len(data))
    nlb = len(data) // LBA
    cmd = Command(
        NvmOpcode.WRITE,
        nsid=1,
        prp1=prp1,
        prp2=prp2,
        cdw10=slba,
        cdw12=(nlb - 1) | (FUA if fua else 0),
    )
    assert status(h.command(1, cmd)) == OK


def read(r: Rig, slba: int, nlb: int) -> bytes:
    h = r.host
    buf = h.buffer(nlb * LBA)
    assert status(h.rw(NvmOpcode.READ, 1, 1, slba, nlb, buf, nlb * LBA)) == OK
    return h.bus.read(buf, nlb * LBA)


def flush(r: Rig) -> None:
    assert status(r.host.command(1, Command(NvmOpcode.FLUSH, nsid=1))) == OK


def set_vwc(r: Rig, on: bool) -> None:
    cmd = Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.VOLATILE_WRITE_CACHE, cdw11=int(on))
    assert status(r.host.admin(cmd)) == OK


def test_identify_reports_cache_and_lba_atomicity(ready: Rig) -> None:
    cqe, data = ready.host.identify(Cns.CONTROLLER)
    ident = IdentifyController.unpack(data)
    assert status(cqe) == OK
    assert ident.vwc & 1
    assert ident.awun == 0 and ident.awupf == 0


def test_write_stays_in_cache_until_flush(ready: Rig) -> None:
    before = file_bytes(ready.image, 8 * LBA, PAGE)
    payload = os.urandom(PAGE)
    write(ready, 8, payload)
    assert file_bytes(ready.image, 8 * LBA, PAGE) == before  # only in the cache
    assert read(ready, 6, 12)[2 * LBA : 2 * LBA + PAGE] == payload  # reads see it
    flush(ready)
    assert file_bytes(ready.image, 8 * LBA, PAGE) == payload


def test_fsync_only_at_flush(ready: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    write(ready, 0, bytes(LBA))
    assert not synced
    flush(ready)
    assert synced


def test_bounded_cache_evicts_oldest_first(rig_factory: Callable[..., Rig]) -> None:
    r = up(rig_factory(cache_bytes=8 * LBA))
    first, second = b"\x01" * (8 * LBA), b"\x02" * (4 * LBA)
    write(r, 100, first)
    assert file_bytes(r.image, 100 * LBA, 8 * LBA) != first  # fits: all cached
    write(r, 200, second)
    assert file_bytes(r.image, 100 * LBA, 4 * LBA) == first[: 4 * LBA]  # oldest evicted
    assert file_bytes(r.image, 104 * LBA, 4 * LBA) != first[4 * LBA :]
    assert file_bytes(r.image, 200 * LBA, 4 * LBA) != second
    assert read(r, 100, 8) == first and read(r, 200, 4) == second


def test_fua_write_is_on_the_image_at_completion(ready: Rig) -> None:
    write(ready, 40, b"\xaa" * (2 * LBA))  # cached
    write(ready, 40, b"\xbb" * LBA, fua=True)  # supersedes the cached LBA 40
    assert file_bytes(ready.image, 40 * LBA, LBA) == b"\xbb" * LBA
    assert read(ready, 40, 2) == b"\xbb" * LBA + b"\xaa" * LBA
    flush(ready)
    assert file_bytes(ready.image, 40 * LBA, 2 * LBA) == b"\xbb" * LBA + b"\xaa" * LBA


def test_cache_off_writes_through_and_turning_it_off_flushes(ready: Rig) -> None:
    write(ready, 50, b"\xcc" * LBA)
    set_vwc(ready, False)
    assert file_bytes(ready.image, 50 * LBA, LBA) == b"\xcc" * LBA  # flushed on the way off
    write(ready, 51, b"\xdd" * LBA)
    assert file_bytes(ready.image, 51 * LBA, LBA) == b"\xdd" * LBA


def test_write_zeroes_supersedes_cached_blocks(ready: Rig) -> None:
    write(ready, 60, b"\xee" * (2 * LBA))
    assert status(ready.host.command(1, Command(NvmOpcode.WRITE_ZEROES, nsid=1, cdw10=60))) == OK
    assert read(ready, 60, 2) == bytes(LBA) + b"\xee" * LBA
    flush(ready)
    assert file_bytes(ready.image, 60 * LBA, 2 * LBA) == bytes(LBA) + b"\xee" * LBA


def test_close_writes_the_cache(rig_factory: Callable[..., Rig]) -> None:
    r = up(rig_factory())
    write(r, 3, b"\x5a" * LBA)
    r.ctrl.close()
    assert file_bytes(r.image, 3 * LBA, LBA) == b"\x5a" * LBA


# -- the cache by itself, against a bytearray model ------------------------------------

CACHE_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"), st.integers(0, 60), st.integers(1, 6), st.binary(min_size=1, max_size=1)
        ),
        st.tuples(st.just("discard"), st.integers(0, 60), st.integers(1, 6), st.just(b"")),
        st.tuples(st.just("flush"), st.just(0), st.just(0), st.just(b"")),
    ),
    max_size=40,
)


CAPACITIES = st.sampled_from([0, 3 * LBA, 16 * LBA, 1 << 20])
FIXTURE_OK = [HealthCheck.function_scoped_fixture]


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_OK)
@given(ops=CACHE_OPS, capacity=CAPACITIES)
def test_cache_agrees_with_a_model(
    tmp_path: Path, ops: list[tuple[str, int, int, bytes]], capacity: int
) -> None:
    check_cache_model(tmp_path, ops, capacity)


@pytest.mark.slow
@settings(max_examples=500, deadline=None, suppress_health_check=FIXTURE_OK)
@given(ops=CACHE_OPS, capacity=CAPACITIES)
def test_cache_agrees_with_a_model_many(
    tmp_path: Path, ops: list[tuple[str, int, int, bytes]], capacity: int
) -> None:
    check_cache_model(tmp_path, ops, capacity)


def check_cache_model(
    tmp_path: Path, ops: list[tuple[str, int, int, bytes]], capacity: int
) -> None:
    """Puts, discards and flushes against a bytearray; the image equals it at the end."""
    img = make_image(tmp_path / f"cache-{os.urandom(4).hex()}.img", 64 * LBA)
    model = bytearray(img.read_bytes())
    ns = Namespace(img)
    ns.nsid = 1
    cache = WriteCache(capacity)
    try:
        for n, (op, slba, count, fill) in enumerate(ops, start=1):
            nlb = min(count, 64 - slba)
            if op == "put":
                data = fill * (nlb * LBA)
                cache.put(ns, slba, data, n)
                model[slba * LBA : (slba + nlb) * LBA] = data
            elif op == "discard":  # what Write Zeroes does: drop, then write the medium
                cache.discard(ns, slba, nlb)
                ns.write(slba, bytes(nlb * LBA))
                model[slba * LBA : (slba + nlb) * LBA] = bytes(nlb * LBA)
            else:
                cache.flush()
                assert len(cache) == 0 and cache.unflushed_writes == 0
            assert cache.used <= capacity
            seen = bytearray(ns.read(0, 64))
            cache.overlay(ns, 0, 64, seen)
            assert seen == model
        cache.flush()
        assert img.read_bytes() == model
    finally:
        ns.close()
        img.unlink()


class LineCache:
    """The reference: the write cache as the NVMe model first had it, one line per LBA in
    an OrderedDict, oldest first (a re-written LBA moves to the end), each line tagged with
    its write; eviction writes out the oldest lines, a flush and power loss write lines."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.lines: OrderedDict[tuple[int, int], tuple[bytes, int]] = OrderedDict()
        self.ns: dict[int, Namespace] = {}

    def put(self, ns: Namespace, slba: int, data: bytes, write: int) -> None:
        self.ns[ns.nsid] = ns
        size = ns.lba_size
        for i in range(len(data) // size):
            self.lines.pop((ns.nsid, slba + i), None)
            self.lines[(ns.nsid, slba + i)] = (data[i * size : (i + 1) * size], write)
        excess = self.used - self.capacity
        victims = []
        for key, (block, _) in self.lines.items():
            if excess <= 0:
                break
            victims.append(key)
            excess -= len(block)
        self.write_out(victims)

    def discard(self, ns: Namespace, slba: int, nlb: int) -> None:
        for lba in range(slba, slba + nlb):
            self.lines.pop((ns.nsid, lba), None)

    def write_out(self, keys: list[tuple[int, int]]) -> None:
        for nsid, lba in keys:
            self.ns[nsid].write(lba, self.lines.pop((nsid, lba))[0])

    @property
    def used(self) -> int:
        return sum(len(block) for block, _ in self.lines.values())

    @property
    def unflushed_writes(self) -> int:
        return len({write for _, write in self.lines.values()})

    def power_loss(self, rng: random.Random) -> int:
        pending = sorted({write for _, write in self.lines.values()})
        lost = {w for w in pending if rng.random() < LOSS_PROBABILITY}
        self.write_out([k for k, (_, write) in self.lines.items() if write not in lost])
        self.lines.clear()
        return len(lost)


def test_cache_keeps_what_was_written_not_a_buffer_changed_since(tmp_path: Path) -> None:
    img = make_image(tmp_path / "keep.img", 8 * LBA)
    ns = Namespace(img)
    ns.nsid = 1
    cache = WriteCache()
    data = bytearray(b"\x11" * (2 * LBA))
    cache.put(ns, 3, data, 1)  # a buffer its caller may change afterwards
    data[:] = b"\x22" * (2 * LBA)
    seen = bytearray(ns.read(0, 8))
    cache.overlay(ns, 0, 8, seen)
    assert seen[3 * LBA : 5 * LBA] == b"\x11" * (2 * LBA)
    ns.close()


RUN_OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "put", "put", "discard", "flush"]),
        st.integers(0, 1),  # namespace 1 (512-byte LBAs) or 2 (4096)
        st.integers(0, 40),
        st.integers(1, 12),
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(ops=RUN_OPS, capacity=st.sampled_from([0, 5 * LBA, 24 * LBA, 1 << 20]), seed=st.integers())
def test_cache_writes_out_what_a_cache_of_lines_writes_out(
    tmp_path: Path, ops: list[tuple[str, int, int, int]], capacity: int, seed: int
) -> None:
    """Two images, one under the cache and one under the per-LBA reference, receive the same
    bytes at every step (eviction takes the same oldest LBAs) and after a power loss drawn
    from the same seed; what reads see, the byte count and the unflushed writes agree."""
    tag = os.urandom(4).hex()
    images = [
        [make_image(tmp_path / f"{tag}-{side}-{n}.img", 64 * 4096) for n in (1, 2)]
        for side in ("runs", "lines")
    ]
    spaces = [
        [Namespace(img, lba_size=size) for img, size in zip(pair, (LBA, 4096), strict=True)]
        for pair in images
    ]
    for pair in spaces:
        for nsid, ns in enumerate(pair, start=1):
            ns.nsid = nsid
    cache, ref = WriteCache(capacity), LineCache(capacity)
    try:
        for n, (op, which, slba, nlb) in enumerate(ops, start=1):
            mine, theirs = spaces[0][which], spaces[1][which]
            if op == "put":
                data = os.urandom(nlb * mine.lba_size)
                cache.put(mine, slba, data, n)
                ref.put(theirs, slba, data, n)
            elif op == "discard":
                cache.discard(mine, slba, nlb)
                ref.discard(theirs, slba, nlb)
            else:
                cache.flush()
                ref.write_out(sorted(ref.lines))
            for a, b in zip(*images, strict=True):
                assert a.read_bytes() == b.read_bytes()
            for ns in spaces[0]:
                seen, want = bytearray(ns.read(0, 64)), bytearray(ns.read(0, 64))
                cache.overlay(ns, 0, 64, seen)
                for (nsid, lba), (block, _) in ref.lines.items():
                    if nsid == ns.nsid and lba < 64:
                        want[lba * ns.lba_size : (lba + 1) * ns.lba_size] = block
                assert seen == want
            assert (len(cache), cache.used) == (len(ref.lines), ref.used)
            assert cache.unflushed_writes == ref.unflushed_writes
        lost = cache.power_loss(random.Random(seed))
        assert lost == ref.power_loss(random.Random(seed))
        assert len(cache) == cache.used == cache.unflushed_writes == 0
        for a, b in zip(*images, strict=True):
            assert a.read_bytes() == b.read_bytes()
    finally:
        for pair in spaces:
            for ns in pair:
                ns.close()


# -- power loss ----------------------------------------------------------------------------

Step = tuple[str, int, int]  # ("w" | "fua" | "zero", slba, nlb) or ("flush", 0, 0)
WORKLOAD: list[Step] = [
    ("w", 0, 4),
    ("w", 2, 4),
    ("flush", 0, 0),
    ("w", 4, 8),
    ("fua", 6, 2),
    ("w", 20, 3),
    ("zero", 21, 2),
    ("w", 0, 1),
    ("flush", 0, 0),
    ("w", 1, 12),
    ("w", 30, 2),
    ("fua", 31, 1),
    ("w", 10, 4),
]
WRITES = sum(1 for op, _, _ in WORKLOAD if op != "flush")
SPAN = 40  # LBAs the workload touches


def payload(step: int, slba: int, nlb: int) -> bytes:
    return b"".join(
        f"step{step:03d}lba{lba:05d}".encode().ljust(LBA, b"+") for lba in range(slba, slba + nlb)
    )


def run_until_cut(r: Rig, cut_after: int) -> list[set[bytes]]:
    """Run the workload up to its `cut_after`-th write; the values each LBA may hold
    after the power cut: the last durable one and any written after it."""
    latest = [file_bytes(r.image, lba * LBA, LBA) for lba in range(SPAN)]
    allowed = [{v} for v in latest]
    done = 0
    for step, (op, slba, nlb) in enumerate(WORKLOAD):
        if op == "flush":
            flush(r)
            allowed = [{v} for v in latest]
            continue
        data = bytes(nlb * LBA) if op == "zero" else payload(step, slba, nlb)
        if op == "zero":
            cmd = Command(NvmOpcode.WRITE_ZEROES, nsid=1, cdw10=slba, cdw12=nlb - 1)
            assert status(r.host.command(1, cmd)) == OK
        else:
            write(r, slba, data, fua=op == "fua")
        for i in range(nlb):
            block = data[i * LBA : (i + 1) * LBA]
            latest[slba + i] = block
            allowed[slba + i] = {block} if op == "fua" else allowed[slba + i] | {block}
        done += 1
        if done == cut_after:
            break
    return allowed


def check_power_cut(rig_factory: Callable[..., Rig], cut_after: int, cache_bytes: int) -> None:
    r = up(rig_factory(cache_bytes=cache_bytes))
    untouched = file_bytes(r.image, SPAN * LBA, IMAGE_SIZE - SPAN * LBA)
    seen: list[object] = []
    r.ctrl.power_cut_after(cut_after, seed=cut_after, on_cut=seen.append)
    allowed = run_until_cut(r, cut_after)
    cut = r.ctrl.power_cut
    assert cut is not None and seen == [cut] and cut.writes == cut_after
    assert cut.message == f"power cut after {cut_after} writes ({cut.lost} unflushed writes lost)"
    assert r.host.read32(0) == 0xFFFF_FFFF  # the device is gone
    r.ctrl.close()
    for lba in range(SPAN):
        assert file_bytes(r.image, lba * LBA, LBA) in allowed[lba], f"LBA {lba}"
    assert file_bytes(r.image, SPAN * LBA, IMAGE_SIZE - SPAN * LBA) == untouched


@pytest.mark.parametrize("cut_after", [1, 5, WRITES])
def test_power_cut_keeps_durable_writes(rig_factory: Callable[..., Rig], cut_after: int) -> None:
    check_power_cut(rig_factory, cut_after, 8 << 20)


@pytest.mark.slow
@pytest.mark.parametrize("cache_bytes", [8 << 20, 6 * LBA])
@pytest.mark.parametrize("cut_after", range(1, WRITES + 1))
def test_power_cut_at_every_write(
    rig_factory: Callable[..., Rig], cut_after: int, cache_bytes: int
) -> None:
    check_power_cut(rig_factory, cut_after, cache_bytes)


def test_power_cut_loses_a_seeded_subset(rig_factory: Callable[..., Rig]) -> None:
    images = []
    for seed in (7, 7, 8):
        r = up(rig_factory())
        r.ctrl.power_cut_after(12, seed=seed)
        for i in range(12):
            write(r, 2 * i, payload(i, 2 * i, 2))
        assert r.ctrl.power_cut is not None
        assert 0 < r.ctrl.power_cut.lost < 12  # some lost, some kept (for these seeds)
        r.ctrl.close()
        images.append(r.image.read_bytes())
    assert images[0] == images[1]  # the same seed loses the same writes
    assert images[0] != images[2]


def test_power_cut_needs_a_write(ready: Rig) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ready.ctrl.power_cut_after(0)


def test_superseded_writes_do_not_hold_their_whole_buffers(tmp_path: Path) -> None:
    """32 KiB writes each shifted by one LBA leave one live LBA per older write: the data
    the cache holds stays within twice its capacity (each write kept whole would hold
    300 x 32 KiB here), and reads still see the newest data of every LBA."""
    img = make_image(tmp_path / "shift.img", 1024 * LBA)
    ns = Namespace(img)
    ns.nsid = 1
    capacity = 256 * LBA
    cache = WriteCache(capacity)
    nlb = 64
    for i in range(300):
        cache.put(ns, i, bytes([i % 251]) * (nlb * LBA), i)
        held = sum(len(put.data) for put in cache._puts.values())
        assert held <= 2 * capacity + nlb * LBA, i
    seen = bytearray(ns.read(0, 1024))
    cache.overlay(ns, 0, 1024, seen)
    for lba in range(299 + nlb):
        newest = min(lba, 299)  # the last write that covered it
        assert seen[lba * LBA] == newest % 251, lba
    ns.close()

"""The read path: block maps looked up by range, the bounded LRU block cache,
read-ahead in few device requests, and reads that see every write and truncation."""

from __future__ import annotations

import os
import random
import struct

import pytest

from qrv.lib.qrvfs import BlockDevice, Filesystem, FsCorrupt
from qrv.lib.qrvfs.bmap import lookup, lookup_range
from qrv.lib.qrvfs.device import BlockCache
from qrv.lib.qrvfs.fileio import READ_AHEAD
from qrv.spec.qrvfs import ADDRS_PER_BLOCK, BLOCK_SIZE, NDIRECT, SINGLE
from tests.lib.qrvfs.memdev import mem_device, new_fs

DOUBLE_FIRST = NDIRECT + ADDRS_PER_BLOCK  # first file block under the double-indirect tree


def counting_device(img: bytearray) -> tuple[BlockDevice, list[tuple[int, int]]]:
    """A device on `img` that records every (offset, length) read."""
    reads: list[tuple[int, int]] = []
    dev = mem_device(img)

    def pread(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return bytes(img[offset : offset + length])

    dev._pread = pread
    return dev, reads


@pytest.fixture
def sparse() -> tuple[Filesystem, int]:
    """A file with data in direct blocks, holes, the single-indirect tree and
    across the single/double-indirect boundary."""
    _, fs = new_fs(size_mib=8, ninodes=64)
    inum = fs.create("/sparse", 0o644, 0, 0)
    fs.write(inum, 0, os.urandom(3 * BLOCK_SIZE))
    fs.write(inum, 20 * BLOCK_SIZE, os.urandom(40 * BLOCK_SIZE))
    fs.write(inum, (DOUBLE_FIRST - 5) * BLOCK_SIZE, os.urandom(10 * BLOCK_SIZE + 100))
    return fs, inum


def test_lookup_range_equals_lookup_block_by_block(sparse: tuple[Filesystem, int]) -> None:
    fs, inum = sparse
    ino = fs.inode(inum)
    nblocks = -(-ino.size // BLOCK_SIZE) + 3  # and past the end: holes
    single = [lookup(fs.vol, ino, fbn) for fbn in range(nblocks)]
    assert lookup_range(fs.vol, ino, 0, nblocks) == single
    rng = random.Random(13)
    for _ in range(200):
        first = rng.randrange(nblocks)
        count = rng.randrange(0, nblocks - first + 1)
        assert lookup_range(fs.vol, ino, first, count) == single[first : first + count]
    assert any(single) and 0 in single  # data and holes both covered


def test_lookup_range_refuses_pointers_outside_the_data_area(
    sparse: tuple[Filesystem, int],
) -> None:
    fs, inum = sparse
    ino = fs.inode(inum)
    beyond = fs.vol.sb.size + 7
    bad_root = ino.with_addr(SINGLE, beyond)
    with pytest.raises(FsCorrupt, match="an index pointer"):
        lookup_range(fs.vol, bad_root, NDIRECT, 4)
    bad_direct = ino.with_addr(0, beyond)
    with pytest.raises(FsCorrupt, match="a block pointer"):
        lookup_range(fs.vol, bad_direct, 0, 2)
    leaf = fs.vol.cache.get(ino.addrs[SINGLE])
    struct.pack_into("<Q", leaf, 8 * (20 - NDIRECT), beyond)  # file block 20
    with pytest.raises(FsCorrupt, match="a block pointer"):
        lookup_range(fs.vol, ino, 15, 10)
    with pytest.raises(FsCorrupt, match="a block pointer"):
        fs.read(inum, 0, 30 * BLOCK_SIZE)


def test_reads_match_the_data_at_every_offset(sparse: tuple[Filesystem, int]) -> None:
    fs, inum = sparse
    size = fs.inode(inum).size
    whole = fs.read(inum, 0, size)
    assert len(whole) == size
    assert whole[3 * BLOCK_SIZE : 20 * BLOCK_SIZE] == bytes(17 * BLOCK_SIZE)  # a hole
    rng = random.Random(7)
    for _ in range(100):
        offset = rng.randrange(size + 10)
        length = rng.choice((1, 100, BLOCK_SIZE - 1, BLOCK_SIZE, 65536, 300_000))
        assert fs.read(inum, offset, length) == whole[offset : offset + length]


def test_sequential_read_takes_few_device_requests() -> None:
    img, fs = new_fs(size_mib=8, ninodes=64)
    data = os.urandom(2 << 20)
    fs.write_file("/big", data)
    fs.unmount()
    dev, reads = counting_device(img)
    fs = Filesystem.mount(dev)
    inum = fs.lookup("/big")
    reads.clear()
    got = b"".join(fs.read(inum, off, 65536) for off in range(0, len(data), 65536))
    assert got == data
    blocks = len(data) // BLOCK_SIZE
    runs = -(-blocks // (16 + READ_AHEAD))  # a 64 KiB read and its read-ahead per request
    assert len(reads) <= runs + 4  # + index blocks
    assert max(length for _, length in reads) == (16 + READ_AHEAD) * BLOCK_SIZE


def test_reads_see_writes_and_truncations() -> None:
    img, fs = new_fs(size_mib=8, ninodes=64)
    data = bytearray(os.urandom(1 << 20))
    inum = fs.create("/f", 0o644, 0, 0)
    fs.write(inum, 0, bytes(data))
    assert fs.read(inum, 0, len(data)) == data  # every block cached now
    patch = os.urandom(3 * BLOCK_SIZE + 10)
    fs.write(inum, 5000, patch)
    data[5000 : 5000 + len(patch)] = patch
    assert fs.read(inum, 0, len(data)) == data
    fs.truncate(inum, 70_000)
    fs.truncate(inum, len(data))  # grows again with a hole
    data[70_000:] = bytes(len(data) - 70_000)
    assert fs.read(inum, 0, len(data)) == data
    fs.write(inum, 600_000, b"new")  # a block allocated again, maybe a freed one
    data[600_000:600_003] = b"new"
    assert fs.read(inum, 0, len(data)) == data
    fs.unmount()
    assert Filesystem.mount(mem_device(img)).read_file("/f") == data


def test_cache_evicts_least_recently_used_and_keeps_pinned_blocks() -> None:
    img = bytearray(64 * BLOCK_SIZE)
    cache = BlockCache(mem_device(img), capacity=8)
    cache.get(3)[:4] = b"drt!"
    cache.mark(3)
    for block in range(8):
        cache.get(block)
    cache.get(0)  # now the most recently used: 1 2 3 4 5 6 7 0
    cache.pinned.update({1, 2})
    cache.get(2)[:4] = b"pin!"
    cache.mark(2)
    for block in range(8, 14):
        cache.get(block)
    cached = {b for b in range(64) if cache.get_cached(b) is not None}
    assert {1, 2} <= cached  # pinned: kept, and not counted
    assert len(cached - {1, 2}) == 8
    assert cached - {1, 2} == {0, 7, 8, 9, 10, 11, 12, 13}
    assert img[3 * BLOCK_SIZE : 3 * BLOCK_SIZE + 4] == b"drt!"  # dirty: written home
    assert img[2 * BLOCK_SIZE : 2 * BLOCK_SIZE + 4] == bytes(4)  # pinned: not yet


def test_load_run_reads_once_and_keeps_cached_blocks() -> None:
    img = bytearray(os.urandom(64 * BLOCK_SIZE))
    dev, reads = counting_device(img)
    cache = BlockCache(dev, capacity=16)
    cache.get(4)[:3] = b"new"
    cache.mark(4)
    cache.load_run(2, 6)
    assert reads[-1] == (2 * BLOCK_SIZE, 6 * BLOCK_SIZE)
    assert cache.peek(4)[:3] == b"new"  # the cached (dirty) copy wins
    for block in (2, 3, 5, 6, 7):
        assert cache.peek(block) == img[block * BLOCK_SIZE : (block + 1) * BLOCK_SIZE]
    n = len(reads)
    cache.load_run(2, 6)  # all cached: no request
    cache.load_run(40, 100)  # at most half the cache in one request
    assert reads[n:] == [(40 * BLOCK_SIZE, 8 * BLOCK_SIZE)]

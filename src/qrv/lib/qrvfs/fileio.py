"""Reading, writing and truncating an inode's bytes within one operation."""

from __future__ import annotations

import errno
from dataclasses import replace

from qrv.lib.qrvfs.bmap import lookup, lookup_range, map_alloc, truncate_blocks
from qrv.lib.qrvfs.errors import FsError
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import BLOCK_SIZE, MAX_FILE_SIZE, Inode

_ZERO = bytes(BLOCK_SIZE)
READ_AHEAD = 64
"""Blocks read ahead of a read whose last block is not cached (256 KiB)."""


def read_data(vol: Volume, ino: Inode, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes at ``offset`` (short at end of file; holes read as zeros).

    When the last block wanted is not cached, the blocks wanted and up to
    :data:`READ_AHEAD` blocks after them are brought into the cache, each run of
    consecutive disk blocks with one device request.  The reply is joined once
    from views of the cached blocks."""
    end = min(ino.size, offset + max(0, length))
    if offset >= end:
        return b""
    first, last = offset // BLOCK_SIZE, (end - 1) // BLOCK_SIZE
    blocks = lookup_range(vol, ino, first, last - first + 1)
    if blocks[-1] == 0 or vol.cache.get_cached(blocks[-1]) is None:
        ahead = min(READ_AHEAD, (ino.size - 1) // BLOCK_SIZE - last)
        _load_runs(vol, blocks + lookup_range(vol, ino, last + 1, ahead))
    parts: list[bytes | memoryview] = []
    pos = offset
    for block in blocks:
        within = pos % BLOCK_SIZE
        n = min(BLOCK_SIZE - within, end - pos)
        parts.append(memoryview(vol.read_block(block))[within : within + n] if block else _ZERO[:n])
        pos += n
    return b"".join(parts)


def _load_runs(vol: Volume, mapped: list[int]) -> None:
    """Read each run of consecutive disk blocks in ``mapped`` (0 = hole) into the
    cache with one device request (a run of one is left to the read itself)."""
    run_start = 0
    for i in range(1, len(mapped) + 1):
        if i == len(mapped) or not mapped[i] or mapped[i] != mapped[i - 1] + 1:
            if mapped[run_start] and i - run_start > 1:
                vol.cache.load_run(mapped[run_start], i - run_start)
            run_start = i


def write_data(vol: Volume, ino: Inode, offset: int, data: bytes) -> Inode:
    """Write ``data`` at ``offset``; returns the inode with new addrs and size
    (not yet written: the caller stamps times and writes it)."""
    if offset + len(data) > MAX_FILE_SIZE:
        raise FsError(errno.EFBIG, f"write beyond the largest file ({MAX_FILE_SIZE} bytes)")
    pos = 0
    while pos < len(data):
        fbn, within = divmod(offset + pos, BLOCK_SIZE)
        n = min(BLOCK_SIZE - within, len(data) - pos)
        block, ino, _ = map_alloc(vol, ino, fbn)
        vol.write_block(block)[within : within + n] = data[pos : pos + n]
        pos += n
    if offset + len(data) > ino.size:
        ino = replace(ino, size=offset + len(data))
    return ino


def truncate_data(vol: Volume, ino: Inode, size: int) -> Inode:
    """Shrink (freeing blocks, zeroing the tail of the last one) or grow (a hole)."""
    if size > MAX_FILE_SIZE:
        raise FsError(errno.EFBIG, f"size {size} is beyond the largest file")
    if size < ino.size:
        keep = -(-size // BLOCK_SIZE)
        ino = truncate_blocks(vol, ino, keep)
        within = size % BLOCK_SIZE
        if within:
            block = lookup(vol, ino, size // BLOCK_SIZE)
            if block:
                buf = vol.write_block(block)
                buf[within:] = _ZERO[within:]
    return replace(ino, size=size)

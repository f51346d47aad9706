"""Reading, writing and truncating an inode's bytes within one operation."""

from __future__ import annotations

import errno
from dataclasses import replace

from qrv.lib.qrvfs.bmap import lookup, map_alloc, truncate_blocks
from qrv.lib.qrvfs.errors import FsError
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import BLOCK_SIZE, MAX_FILE_SIZE, Inode

_ZERO = bytes(BLOCK_SIZE)


def read_data(vol: Volume, ino: Inode, offset: int, length: int) -> bytes:
    """Up to ``length`` bytes at ``offset`` (short at end of file; holes read as zeros)."""
    end = min(ino.size, offset + max(0, length))
    out = bytearray()
    pos = offset
    while pos < end:
        fbn, within = divmod(pos, BLOCK_SIZE)
        n = min(BLOCK_SIZE - within, end - pos)
        block = lookup(vol, ino, fbn)
        out += vol.read_block(block)[within : within + n] if block else _ZERO[:n]
        pos += n
    return bytes(out)


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

"""File block maps: 7 direct blocks, then single, double and triple indirect
index blocks of 512 u64 each (spec/qrvfs.md "Inode").  Zero is a hole."""

from __future__ import annotations

import errno
import struct

from qrv.lib.qrvfs.alloc import alloc_block, free_block
from qrv.lib.qrvfs.errors import FsError
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import (
    ADDRS_PER_BLOCK,
    INDEX,
    MAX_FILE_BLOCKS,
    NDIRECT,
    SINGLE,
    Inode,
)

_U64 = struct.Struct("<Q")

# (addrs slot, depth, first file block it maps) of the three index trees
TREES = tuple(
    (SINGLE + level - 1, level, NDIRECT + sum(ADDRS_PER_BLOCK**k for k in range(1, level)))
    for level in (1, 2, 3)
)


def block_path(fbn: int) -> tuple[int, list[int]]:
    """(addrs slot, index-block entry at each level) of file block ``fbn``."""
    if fbn < NDIRECT:
        return fbn, []
    for slot, depth, first in TREES:
        span = ADDRS_PER_BLOCK**depth
        if fbn < first + span:
            rel = fbn - first
            return slot, [(rel // ADDRS_PER_BLOCK**k) % ADDRS_PER_BLOCK for k in range(depth)][::-1]
    raise FsError(errno.EFBIG, f"file block {fbn} is beyond the largest file ({MAX_FILE_BLOCKS})")


def _entry(vol: Volume, index_block: int, i: int) -> int:
    return int(_U64.unpack_from(vol.read_block(index_block), i * 8)[0])


def lookup(vol: Volume, ino: Inode, fbn: int) -> int:
    """The disk block of file block ``fbn`` (0 for a hole)."""
    return lookup_range(vol, ino, fbn, 1)[0]


def lookup_range(vol: Volume, ino: Inode, first: int, count: int) -> list[int]:
    """The disk blocks of file blocks ``first .. first+count-1`` (0 for a hole),
    each index and block pointer checked against the data area; every index block on the way is
    read once per range, not once per file block (a sequential read maps 16 to
    80 blocks a call)."""
    out: list[int] = []
    lo, hi = vol.sb.datastart, vol.sb.size
    fbn, end = first, first + count
    while fbn < end:
        slot, path = block_path(fbn)
        if not path:  # direct blocks: the inode's own slots
            n = min(end, NDIRECT) - fbn
            entries: tuple[int, ...] = ino.addrs[slot : slot + n]
        else:  # the rest of one leaf index block
            n = min(end - fbn, ADDRS_PER_BLOCK - path[-1])
            leaf = ino.addrs[slot]
            for i in path[:-1]:
                if leaf == 0:
                    break
                vol.check_data_block(leaf, "an index pointer")
                leaf = _entry(vol, leaf, i)
            if leaf == 0:
                entries = (0,) * n
            else:
                vol.check_data_block(leaf, "an index pointer")
                entries = struct.unpack_from(f"<{n}Q", vol.read_block(leaf), path[-1] * 8)
        for block in entries:
            if block and not lo <= block < hi:
                vol.check_data_block(block, "a block pointer")
        out += entries
        fbn += n
    return out


def map_alloc(vol: Volume, ino: Inode, fbn: int) -> tuple[int, Inode, bool]:
    """(disk block, updated inode, allocated now) of ``fbn``, allocating the data
    block and any missing index blocks."""
    slot, path = block_path(fbn)
    block = ino.addrs[slot]
    fresh = False
    if block == 0:
        block = alloc_block(vol)
        ino = ino.with_addr(slot, block)
        fresh = True
    else:
        vol.check_data_block(block, "a block pointer")
    for i in path:
        child = _entry(vol, block, i)
        fresh = False
        if child == 0:
            child = alloc_block(vol)
            _U64.pack_into(vol.write_block(block), i * 8, child)
            fresh = True
        else:
            vol.check_data_block(child, "a block pointer")
        block = child
    return block, ino, fresh


def _free_tree(vol: Volume, block: int, depth: int) -> None:
    vol.check_data_block(block, "a block pointer")
    if depth > 0:
        for child in INDEX.unpack(bytes(vol.read_block(block))):
            if child:
                _free_tree(vol, child, depth - 1)
    free_block(vol, block)


def _trim(vol: Volume, block: int, depth: int, first: int, keep: int) -> None:
    """Free what index ``block`` (mapping from file block ``first``) maps at or
    beyond ``keep``; the block itself stays."""
    vol.check_data_block(block, "an index pointer")
    span = ADDRS_PER_BLOCK ** (depth - 1)
    for i, child in enumerate(INDEX.unpack(bytes(vol.read_block(block)))):
        start = first + i * span
        if child == 0 or start + span <= keep:
            continue
        if start >= keep:
            _free_tree(vol, child, depth - 1)
            _U64.pack_into(vol.write_block(block), i * 8, 0)
        else:
            _trim(vol, child, depth - 1, start, keep)


def truncate_blocks(vol: Volume, ino: Inode, keep: int) -> Inode:
    """Free every block of file blocks ``keep..``; returns the inode with its
    addrs updated (the caller sets the size and writes it)."""
    for slot in range(NDIRECT):
        if slot >= keep and ino.addrs[slot]:
            _free_tree(vol, ino.addrs[slot], 0)
            ino = ino.with_addr(slot, 0)
    for slot, depth, first in TREES:
        root = ino.addrs[slot]
        if root == 0 or first + ADDRS_PER_BLOCK**depth <= keep:
            continue
        if first >= keep:
            _free_tree(vol, root, depth)
            ino = ino.with_addr(slot, 0)
        else:
            _trim(vol, root, depth, first, keep)
    return ino

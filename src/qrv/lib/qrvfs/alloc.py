"""Allocation: data blocks from the free-block bitmap, inodes from the inode
table (a free inode has type 0)."""

from __future__ import annotations

import errno

from qrv.lib.qrvfs.errors import FsCorrupt, FsError
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import BITS_PER_BITMAP_BLOCK, BLOCK_SIZE, Inode, InodeType, bitmap_position

_FULL = 0xFF


def _find_free(vol: Volume, start: int, end: int) -> int | None:
    """The first free block in ``start .. end-1`` per the bitmap."""
    block = start
    while block < end:
        bblock, byte, _ = bitmap_position(vol.sb, block)
        buf = vol.read_block(bblock)
        chunk_end = min(end, block - block % BITS_PER_BITMAP_BLOCK + BITS_PER_BITMAP_BLOCK)
        while block < chunk_end:
            byte = (block % BITS_PER_BITMAP_BLOCK) // 8
            value = buf[byte]
            if value == _FULL:
                block = block - block % 8 + 8
                continue
            if not value & (1 << (block % 8)):
                return block
            block += 1
    return None


def alloc_block(vol: Volume) -> int:
    """A free data block, marked in use and zeroed (ENOSPC when none is left)."""
    sb = vol.sb
    found = _find_free(vol, vol.block_hint, sb.size)
    if found is None:
        found = _find_free(vol, sb.datastart, vol.block_hint)
    if found is None:
        raise FsError(errno.ENOSPC, "no free data blocks")
    bblock, byte, mask = bitmap_position(sb, found)
    vol.write_block(bblock)[byte] |= mask
    vol.journal.zero(found)
    vol.block_hint = found + 1 if found + 1 < sb.size else sb.datastart
    return found


def free_block(vol: Volume, block: int) -> None:
    vol.check_data_block(block, "a freed pointer")
    bblock, byte, mask = bitmap_position(vol.sb, block)
    if not vol.read_block(bblock)[byte] & mask:
        raise FsCorrupt(f"block {block} is freed but the bitmap has it free already")
    vol.write_block(bblock)[byte] &= ~mask & _FULL


def block_in_use(vol: Volume, block: int) -> bool:
    bblock, byte, mask = bitmap_position(vol.sb, block)
    return bool(vol.read_block(bblock)[byte] & mask)


def free_block_count(vol: Volume) -> int:
    sb = vol.sb
    used = 0
    for i in range(sb.datastart - sb.bmapstart):
        buf = bytes(vol.read_block(sb.bmapstart + i))
        last = min(BITS_PER_BITMAP_BLOCK, sb.size - i * BITS_PER_BITMAP_BLOCK)
        full, rest = divmod(last, 8)
        used += int.from_bytes(buf[:full], "little").bit_count()
        if rest:
            used += (buf[full] & ((1 << rest) - 1)).bit_count()
    return max(0, sb.size - used)


def alloc_inode(vol: Volume, ino: Inode) -> int:
    """A free inode number, written with ``ino`` (ENOSPC when the table is full)."""
    n = vol.sb.ninodes
    for step in range(n - 1):
        inum = (vol.inode_hint - 1 + step) % (n - 1) + 1
        if vol.read_inode(inum).type == InodeType.FREE:
            vol.write_inode(inum, ino)
            vol.inode_hint = inum % (n - 1) + 1
            return inum
    raise FsError(errno.ENOSPC, "no free inodes")


def free_inode_count(vol: Volume) -> int:
    return sum(
        1 for inum in range(1, vol.sb.ninodes) if vol.read_inode(inum).type == InodeType.FREE
    )


assert BLOCK_SIZE * 8 == BITS_PER_BITMAP_BLOCK

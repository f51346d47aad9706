"""Formatting a device with qrvfs v2 by the real mkfs-qrv's layout rules
(spec/qrvfs.md "Layout"): log, inode table, bitmap, then data; blocks
0 .. datastart-1 and the root directory's block marked in use; the root is
inode 1, a directory holding "." and ".." (both itself)."""

from __future__ import annotations

from qrv.lib.qrvfs.device import BlockDevice
from qrv.lib.qrvfs.errors import FsDeviceError
from qrv.lib.qrvfs.journal import min_log_blocks
from qrv.lib.qrvfs.volume import Clock, wall_clock
from qrv.spec.qrvfs import (
    BITS_PER_BITMAP_BLOCK,
    BLOCK_SIZE,
    ROOT_INUM,
    SUPERBLOCK_BLOCK,
    Inode,
    InodeType,
    QrvfsFormatError,
    Superblock,
    inode_location,
    pack_dirent,
    plan_layout,
)

ROOT_MODE = 0o755


def format_device(
    dev: BlockDevice,
    *,
    size_blocks: int | None = None,
    ninodes: int,
    nlog: int,
    now: Clock = wall_clock,
) -> Superblock:
    """Write an empty qrvfs on ``dev`` (its first ``size_blocks`` blocks; default all)."""
    size = dev.nblocks if size_blocks is None else size_blocks
    if size > dev.nblocks:
        raise QrvfsFormatError(
            f"filesystem of {size} blocks does not fit the device ({dev.nblocks} blocks)"
        )
    sb = plan_layout(size, ninodes, nlog)
    if 0 < nlog < min_log_blocks(sb):
        raise QrvfsFormatError(
            f"a log of {nlog} blocks is too small: 0 (none) or at least {min_log_blocks(sb)}"
        )
    if dev.read_only:
        raise FsDeviceError(30, "device is read-only")  # EROFS
    root_block = sb.datastart
    zero = bytes(BLOCK_SIZE)
    for block in range(sb.datastart):
        if block != SUPERBLOCK_BLOCK:
            dev.write(block, zero)
    used = root_block + 1  # blocks 0 .. root_block are in use
    for i in range(sb.datastart - sb.bmapstart):
        first = i * BITS_PER_BITMAP_BLOCK
        bits = max(0, min(BITS_PER_BITMAP_BLOCK, used - first))
        bitmap = bytearray(BLOCK_SIZE)
        bitmap[: bits // 8] = b"\xff" * (bits // 8)
        if bits % 8:
            bitmap[bits // 8] = (1 << (bits % 8)) - 1
        dev.write(sb.bmapstart + i, bytes(bitmap))
    t = now()
    root = Inode(InodeType.DIR, 2, ROOT_MODE, 0, 0, 512, t, t, t).with_addr(0, root_block)
    block, offset = inode_location(sb, ROOT_INUM)
    table = bytearray(BLOCK_SIZE)
    table[offset : offset + len(root.pack())] = root.pack()
    dev.write(block, bytes(table))
    entries = pack_dirent(ROOT_INUM, b".") + pack_dirent(ROOT_INUM, b"..")
    dev.write(root_block, entries.ljust(BLOCK_SIZE, b"\x00"))
    dev.flush()
    dev.write(SUPERBLOCK_BLOCK, sb.to_block())
    dev.flush()
    return sb

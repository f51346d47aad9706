"""A mounted qrvfs volume's state: superblock, device, cache, journal, clock;
inode and block access with every number checked against the superblock."""

from __future__ import annotations

import time
from collections.abc import Callable

from qrv.lib.qrvfs.device import BlockCache, BlockDevice
from qrv.lib.qrvfs.errors import FsCorrupt
from qrv.lib.qrvfs.journal import Journal
from qrv.spec.qrvfs import INODE_SIZE, MAX_FILE_SIZE, Inode, InodeType, Superblock, inode_location

Clock = Callable[[], int]


def wall_clock() -> int:
    return int(time.time())


class Volume:
    def __init__(
        self,
        dev: BlockDevice,
        sb: Superblock,
        cache_blocks: int = 1024,
        now: Clock = wall_clock,
    ) -> None:
        self.dev = dev
        self.sb = sb
        self.cache = BlockCache(dev, cache_blocks)
        self.journal = Journal(self.cache, sb)
        self.now = now
        self.block_hint = sb.datastart
        self.inode_hint = 1

    # --- blocks ---------------------------------------------------------------------

    def check_data_block(self, block: int, what: str) -> int:
        if not self.sb.datastart <= block < self.sb.size:
            raise FsCorrupt(
                f"{what} points to block {block}, outside the data area "
                f"{self.sb.datastart}..{self.sb.size - 1}"
            )
        return block

    def read_block(self, block: int) -> bytearray:
        """The cached buffer of ``block`` (do not modify: use :meth:`write_block`)."""
        return self.cache.get(block)

    def write_block(self, block: int) -> bytearray:
        return self.journal.write(block)

    # --- inodes ---------------------------------------------------------------------

    def check_inum(self, inum: int, what: str = "inode") -> int:
        if not 1 <= inum < self.sb.ninodes:
            raise FsCorrupt(f"{what} {inum} is out of range 1..{self.sb.ninodes - 1}")
        return inum

    def read_inode(self, inum: int) -> Inode:
        self.check_inum(inum)
        block, offset = inode_location(self.sb, inum)
        ino = Inode.unpack(self.cache.get(block), offset)
        if ino.type not in InodeType._value2member_map_:
            raise FsCorrupt(f"inode {inum} has unknown type {ino.type}")
        if ino.size > MAX_FILE_SIZE:
            raise FsCorrupt(f"inode {inum} has size {ino.size}, beyond the largest file")
        return ino

    def write_inode(self, inum: int, ino: Inode) -> None:
        self.check_inum(inum)
        block, offset = inode_location(self.sb, inum)
        self.journal.write(block)[offset : offset + INODE_SIZE] = ino.pack()

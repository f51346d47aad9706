"""The qrvfs checker behind `qrv fsck`: superblock, log, inodes, every block
claimed once and in range, the bitmap equal to the reachable blocks, directory
entries, link counts, sizes against block maps, orphans.

The walk is bounded by the image, never by what it claims: a block is
descended into at most once (a second claim is a problem, not a second walk),
directories are visited once, and a directory's size is checked before its
entries are read.  With ``repair`` the log is replayed first and each problem
is fixed in place (bad pointers and entries cleared, unreachable inodes
freed, link counts set, the bitmap rebuilt); nothing is moved to a
lost+found.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from qrv.lib.qrvfs.bmap import TREES, lookup
from qrv.lib.qrvfs.device import BlockDevice
from qrv.lib.qrvfs.dirs import entries
from qrv.lib.qrvfs.errors import FsCorrupt
from qrv.lib.qrvfs.journal import install_log, read_log
from qrv.lib.qrvfs.mount import open_volume, read_superblock
from qrv.spec.qrvfs import (
    BITS_PER_BITMAP_BLOCK,
    BLOCK_SIZE,
    DIRENT_SIZE,
    DIRENTS_PER_BLOCK,
    INDEX,
    INODE_SIZE,
    MAX_FILE_SIZE,
    NAME_MAX,
    NDIRECT,
    ROOT_INUM,
    Inode,
    InodeType,
    Superblock,
    inode_location,
    pack_dirent,
)

MAX_LISTED = 20  # per kind of block-level problem; the rest are counted
Where = tuple[str, int, int]  # ("inode", inum, slot) or ("index", block, entry)


@dataclass
class CheckReport:
    superblock: Superblock
    problems: list[str] = field(default_factory=list)
    repaired: bool = False
    files: int = 0
    directories: int = 0
    symlinks: int = 0
    used_blocks: int = 0


class _Checker:
    def __init__(self, dev: BlockDevice, repair: bool) -> None:
        self.repair = repair
        result = open_volume(dev, read_only=True, cache_blocks=4096)
        self.vol = result.volume
        self.sb = self.vol.sb
        self.problems: list[str] = []
        self.inodes: dict[int, Inode] = {}
        self.claimed: dict[int, int] = {}  # block -> inum
        self.owned: dict[int, set[int]] = {}  # inum -> its blocks
        self.mapped_end: dict[int, int] = {}  # inum -> highest mapped file block + 1
        self.refs: dict[int, int] = {}
        self.parent: dict[int, int] = {ROOT_INUM: ROOT_INUM}
        self.entry_of: dict[int, tuple[int, int]] = {}  # directory -> (parent, slot)

    def problem(self, message: str) -> None:
        self.problems.append(message)

    # --- raw access -----------------------------------------------------------------

    def _rw(self, block: int) -> bytearray:
        buf = self.vol.cache.get(block)
        self.vol.cache.mark(block)
        return buf

    def _put_inode(self, inum: int, ino: Inode) -> None:
        self.inodes[inum] = ino
        if self.repair:
            block, offset = inode_location(self.sb, inum)
            self._rw(block)[offset : offset + INODE_SIZE] = ino.pack()

    def _clear_pointer(self, where: Where) -> None:
        if not self.repair:
            return
        kind, owner, slot = where
        if kind == "inode":
            self._put_inode(owner, self.inodes[owner].with_addr(slot, 0))
        else:
            self._rw(owner)[slot * 8 : slot * 8 + 8] = bytes(8)

    # --- inodes and their blocks ----------------------------------------------------

    def scan_inodes(self) -> None:
        for inum in range(1, self.sb.ninodes):
            block, offset = inode_location(self.sb, inum)
            ino = Inode.unpack(self.vol.cache.get(block), offset)
            if ino.type == InodeType.FREE:
                continue
            bad = None
            if ino.type not in InodeType._value2member_map_:
                bad = f"unknown type {ino.type}"
            elif ino.size > MAX_FILE_SIZE:
                bad = f"size {ino.size} beyond the largest file"
            elif ino.type == InodeType.SYMLINK and ino.size > BLOCK_SIZE:
                bad = f"symbolic link of {ino.size} bytes (at most one block)"
            if bad is not None:
                self.problem(f"inode {inum}: {bad}" + (": cleared" if self.repair else ""))
                if self.repair:
                    self._put_inode(inum, Inode())
                    del self.inodes[inum]
                continue
            self.inodes[inum] = ino
            self.owned[inum] = set()
            self._walk_blocks(inum, ino)
            if inum not in self.inodes:
                continue
            ino = self.inodes[inum]
            if ino.type == InodeType.SYMLINK and ino.size and ino.addrs[0] == 0:
                self.problem(
                    f"inode {inum}: symbolic link without its target block"
                    + (": cleared" if self.repair else "")
                )
                if self.repair:
                    self._forget(inum)

    def _forget(self, inum: int) -> None:
        """Free ``inum`` (repair): its blocks become unclaimed, the slot type 0."""
        for block in self.owned.pop(inum, set()):
            del self.claimed[block]
        self._put_inode(inum, Inode())
        del self.inodes[inum]

    def _claim(self, inum: int, block: int, where: Where, what: str) -> bool:
        sb = self.sb
        if not sb.datastart <= block < sb.size:
            self.problem(
                f"inode {inum}: {what} {block} is outside the data area "
                f"{sb.datastart}..{sb.size - 1}"
            )
            self._clear_pointer(where)
            return False
        other = self.claimed.get(block)
        if other is not None:
            self.problem(f"inode {inum}: block {block} is also claimed by inode {other}")
            self._clear_pointer(where)
            return False
        self.claimed[block] = inum
        self.owned[inum].add(block)
        return True

    def _walk_blocks(self, inum: int, ino: Inode) -> None:
        end = 0
        limit = -(-ino.size // BLOCK_SIZE)
        for slot in range(NDIRECT):
            block = ino.addrs[slot]
            if block and self._claim(inum, block, ("inode", inum, slot), "block"):
                end = slot + 1
        for slot, depth, first in TREES:
            root = ino.addrs[slot]
            if root and self._claim(inum, root, ("inode", inum, slot), "index block"):
                end = max(end, self._walk_index(inum, root, depth, first))
        self.mapped_end[inum] = end
        if end > limit:
            grow = self.repair and ino.type != InodeType.SYMLINK
            self.problem(
                f"inode {inum}: maps file block {end - 1}, beyond its size {ino.size}"
                + (f": size set to {end * BLOCK_SIZE}" if grow else "")
            )
            if grow:  # as e2fsck does: the size follows the blocks
                self._put_inode(inum, replace(self.inodes[inum], size=end * BLOCK_SIZE))
            elif self.repair:
                self._forget(inum)

    def _walk_index(self, inum: int, block: int, depth: int, first: int) -> int:
        """Claim what index ``block`` maps; returns the highest mapped file block + 1."""
        end = 0
        span = 512 ** (depth - 1)
        for i, child in enumerate(INDEX.unpack(bytes(self.vol.cache.get(block)))):
            if not child:
                continue
            kind = "block" if depth == 1 else "index block"
            if not self._claim(inum, child, ("index", block, i), kind):
                continue
            start = first + i * span
            end = max(
                end, start + 1 if depth == 1 else self._walk_index(inum, child, depth - 1, start)
            )
        return end

    # --- the tree ---------------------------------------------------------------------

    def _dir_slots(self, dinum: int, ino: Inode) -> list[tuple[int, int, bytes]] | None:
        if ino.size % DIRENT_SIZE or ino.size > self.sb.nblocks * BLOCK_SIZE:
            self.problem(f"directory {dinum}: size {ino.size} is not a plausible multiple of 256")
            return None
        try:
            return list(entries(self.vol, dinum))
        except FsCorrupt as exc:
            self.problem(f"directory {dinum}: {exc}")
            return None

    def _clear_entry(self, dinum: int, slot: int) -> None:
        if not self.repair:
            return
        block = lookup(self.vol, self.inodes[dinum], slot // DIRENTS_PER_BLOCK)
        offset = (slot % DIRENTS_PER_BLOCK) * DIRENT_SIZE
        self._rw(block)[offset : offset + DIRENT_SIZE] = bytes(DIRENT_SIZE)

    def _set_entry(self, dinum: int, slot: int, inum: int, name: bytes) -> None:
        block = lookup(self.vol, self.inodes[dinum], slot // DIRENTS_PER_BLOCK)
        offset = (slot % DIRENTS_PER_BLOCK) * DIRENT_SIZE
        self._rw(block)[offset : offset + DIRENT_SIZE] = pack_dirent(inum, name)

    def walk_tree(self) -> None:
        root = self.inodes.get(ROOT_INUM)
        slots = None
        if root is not None and root.type == InodeType.DIR:
            slots = self._dir_slots(ROOT_INUM, root)
        if slots is None:
            self.problem(
                f"root inode {ROOT_INUM} is not a readable directory"
                + (": recreated empty" if self.repair else "")
            )
            if not self.repair or not self._new_root():
                return
        queue = deque([ROOT_INUM])
        while queue:
            dinum = queue.popleft()
            slots = self._dir_slots(dinum, self.inodes[dinum])
            if slots is not None and self._check_dir(dinum, slots, queue):
                continue
            if self.repair and dinum in self.entry_of:
                # an unreadable directory is cut off; what it held is freed as unreachable
                parent, slot = self.entry_of[dinum]
                self._clear_entry(parent, slot)
                self.refs[dinum] -= 1

    def _new_root(self) -> bool:
        """Repair: an empty root directory in a fresh block (everything else
        becomes unreachable and is freed)."""
        if ROOT_INUM in self.inodes:
            self._forget(ROOT_INUM)
        sb = self.sb
        block = next((b for b in range(sb.datastart, sb.size) if b not in self.claimed), None)
        if block is None:
            self.problem("no free block for a new root directory")
            return False
        now = self.vol.now()
        root = Inode(InodeType.DIR, 2, 0o755, 0, 0, 2 * DIRENT_SIZE, now, now, now)
        self._put_inode(ROOT_INUM, root.with_addr(0, block))
        entries = pack_dirent(ROOT_INUM, b".") + pack_dirent(ROOT_INUM, b"..")
        self._rw(block)[:] = entries.ljust(BLOCK_SIZE, b"\x00")
        self.claimed[block] = ROOT_INUM
        self.owned[ROOT_INUM] = {block}
        return True

    def _check_dir(
        self, dinum: int, slots: list[tuple[int, int, bytes]], queue: deque[int]
    ) -> bool:
        """Check one directory's entries; False when it cannot be repaired in place."""
        by_slot = {slot: (inum, name) for slot, inum, name in slots}
        expect = {0: (dinum, b"."), 1: (self.parent[dinum], b"..")}
        for slot, (inum, name) in expect.items():
            got = by_slot.get(slot)
            if got != (inum, name):
                self.problem(
                    f"directory {dinum}: entry {slot} should be {name.decode()!r} -> {inum}, "
                    f"is {got!r}" + (": rewritten" if self.repair else "")
                )
                if self.repair:
                    if self.inodes[dinum].size < (slot + 1) * DIRENT_SIZE:
                        return False
                    self._set_entry(dinum, slot, inum, name)
                    by_slot[slot] = (inum, name)
        seen: set[bytes] = set()
        for slot, (inum, name) in sorted(by_slot.items()):
            where = f"directory {dinum}: entry {name!r}"
            if slot in expect and by_slot[slot] == expect[slot]:
                self.refs[inum] = self.refs.get(inum, 0) + 1
                continue
            bad = None
            if not 1 <= inum < self.sb.ninodes:
                bad = f"names inode {inum}, out of range"
            elif inum not in self.inodes:
                bad = f"names free inode {inum}"
            elif name in seen or name in (b".", b".."):
                bad = "is a duplicate name"
            elif b"/" in name or len(name) > NAME_MAX:
                bad = "is not a valid name"
            elif self.inodes[inum].type == InodeType.DIR and inum in self.parent:
                bad = f"links directory {inum} a second time"
            if bad is not None:
                self.problem(f"{where} {bad}" + (": removed" if self.repair else ""))
                self._clear_entry(dinum, slot)
                continue
            seen.add(name)
            self.refs[inum] = self.refs.get(inum, 0) + 1
            if self.inodes[inum].type == InodeType.DIR:
                self.parent[inum] = dinum
                self.entry_of[inum] = (dinum, slot)
                queue.append(inum)
        return True

    # --- summaries --------------------------------------------------------------------

    def check_links(self) -> None:
        for inum, ino in sorted(list(self.inodes.items())):
            refs = self.refs.get(inum, 0)
            if refs == 0:
                kind = "orphan (unlinked, not freed)" if ino.nlink == 0 else "not in any directory"
                self.problem(f"inode {inum}: {kind}" + (": freed" if self.repair else ""))
                if self.repair:
                    self._forget(inum)
                continue
            if refs != ino.nlink:
                self.problem(f"inode {inum}: link count {ino.nlink}, {refs} entries name it")
                if self.repair:
                    self._put_inode(inum, replace(self.inodes[inum], nlink=refs))

    def check_bitmap(self) -> None:
        sb = self.sb
        lost: list[int] = []  # in use, marked free
        leaked: list[int] = []  # marked in use, unreferenced
        for i in range(sb.datastart - sb.bmapstart):
            bitmap = bytes(self.vol.cache.get(sb.bmapstart + i))
            first = i * BITS_PER_BITMAP_BLOCK
            fixed = bytearray(BLOCK_SIZE)
            for block in range(first, min(sb.size, first + BITS_PER_BITMAP_BLOCK)):
                used = block < sb.datastart or block in self.claimed
                marked = bool(bitmap[(block - first) // 8] >> (block % 8) & 1)
                if used:
                    fixed[(block - first) // 8] |= 1 << (block % 8)
                if used and not marked:
                    lost.append(block)
                elif marked and not used:
                    leaked.append(block)
            if self.repair and fixed != bitmap:
                self._rw(sb.bmapstart + i)[:] = fixed
        kinds = ((lost, "in use but marked free"), (leaked, "marked in use but unused"))
        for blocks, text in kinds:
            for block in blocks[:MAX_LISTED]:
                self.problem(f"block {block}: {text}")
            if len(blocks) > MAX_LISTED:
                self.problem(f"... and {len(blocks) - MAX_LISTED} more blocks {text}")


def check(dev: BlockDevice, *, repair: bool = False) -> CheckReport:
    """Check (and with ``repair`` fix) the qrvfs on ``dev``.  Raises
    QrvfsFormatError when there is no usable superblock."""
    sb = read_superblock(dev)
    log_problems: list[str] = []
    state = read_log(dev, sb)
    if state.committed and state.header is not None:
        log_problems.append(
            f"log holds a committed transaction of {state.header.count} "
            "block(s), not installed" + (": replayed" if repair else "")
        )
    elif state.problem is not None:
        log_problems.append(state.problem + (": cleared" if repair else ""))
    if repair and not state.empty:
        install_log(dev, sb, state)
    checker = _Checker(dev, repair)
    checker.problems += log_problems
    checker.scan_inodes()
    checker.walk_tree()
    checker.check_links()
    checker.check_bitmap()
    if repair and checker.problems:
        checker.vol.cache.write_back()
        dev.flush()
    report = CheckReport(sb, checker.problems, repair and bool(checker.problems))
    for ino in checker.inodes.values():
        report.files += ino.type == InodeType.FILE
        report.directories += ino.type == InodeType.DIR
        report.symlinks += ino.type == InodeType.SYMLINK
    report.used_blocks = len(checker.claimed)
    return report

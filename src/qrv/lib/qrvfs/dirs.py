"""Directories: arrays of 256-byte entries (inum u32, NUL-terminated name).

Reading is defensive: a directory whose size is not a multiple of 256, that
has a hole, or that is larger than the data area is corrupt (so a corrupt size
can never make a listing run on)."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import replace

from qrv.lib.qrvfs.bmap import lookup
from qrv.lib.qrvfs.errors import FsCorrupt, FsError
from qrv.lib.qrvfs.fileio import write_data
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    DIRENT_SIZE,
    DIRENTS_PER_BLOCK,
    NAME_MAX,
    Inode,
    InodeType,
    pack_dirent,
    unpack_dirent,
)

DOT = b"."
DOTDOT = b".."


def check_name(name: bytes) -> None:
    if len(name) > NAME_MAX:
        raise FsError(errno.ENAMETOOLONG, f"name of {len(name)} bytes (at most {NAME_MAX})")
    if not name or b"/" in name or b"\x00" in name:
        raise FsError(errno.EINVAL, f"invalid name {name!r}")


def _dir_inode(vol: Volume, dinum: int) -> Inode:
    ino = vol.read_inode(dinum)
    if ino.type != InodeType.DIR:
        raise FsError(errno.ENOTDIR, f"inode {dinum} is not a directory")
    if ino.size % DIRENT_SIZE:
        raise FsCorrupt(f"directory {dinum} has size {ino.size}, not a multiple of 256")
    if ino.size > vol.sb.nblocks * BLOCK_SIZE:
        raise FsCorrupt(f"directory {dinum} has size {ino.size}, larger than the data area")
    return ino


def entries(vol: Volume, dinum: int) -> Iterator[tuple[int, int, bytes]]:
    """(slot, inum, name) of every used entry of directory ``dinum``."""
    ino = _dir_inode(vol, dinum)
    nslots = ino.size // DIRENT_SIZE
    for fbn in range(-(-nslots // DIRENTS_PER_BLOCK)):
        block = lookup(vol, ino, fbn)
        if block == 0:
            raise FsCorrupt(f"directory {dinum} has a hole at block {fbn}")
        raw = bytes(vol.read_block(block))
        for i in range(min(DIRENTS_PER_BLOCK, nslots - fbn * DIRENTS_PER_BLOCK)):
            inum, name = unpack_dirent(raw, i * DIRENT_SIZE)
            if inum:
                yield fbn * DIRENTS_PER_BLOCK + i, inum, name


def find(vol: Volume, dinum: int, name: bytes) -> tuple[int, int] | None:
    """(slot, inum) of ``name`` in directory ``dinum``."""
    for slot, inum, entry_name in entries(vol, dinum):
        if entry_name == name:
            return slot, vol.check_inum(inum, f"entry {name!r} of directory {dinum}: inode")
    return None


def _slot_buffer(vol: Volume, dinum: int, slot: int) -> tuple[bytearray, int]:
    ino = vol.read_inode(dinum)
    block = lookup(vol, ino, slot // DIRENTS_PER_BLOCK)
    if block == 0:
        raise FsCorrupt(f"directory {dinum} has a hole at slot {slot}")
    return vol.write_block(block), (slot % DIRENTS_PER_BLOCK) * DIRENT_SIZE


def set_slot(vol: Volume, dinum: int, slot: int, inum: int, name: bytes) -> None:
    buf, offset = _slot_buffer(vol, dinum, slot)
    buf[offset : offset + DIRENT_SIZE] = pack_dirent(inum, name)


def clear_slot(vol: Volume, dinum: int, slot: int) -> None:
    buf, offset = _slot_buffer(vol, dinum, slot)
    buf[offset : offset + DIRENT_SIZE] = bytes(DIRENT_SIZE)


def add(vol: Volume, dinum: int, name: bytes, inum: int) -> None:
    """Add ``name`` -> ``inum`` in the first empty slot, or append (EEXIST if present)."""
    check_name(name)
    used: set[int] = set()
    for slot, _, entry_name in entries(vol, dinum):
        if entry_name == name:
            raise FsError(errno.EEXIST, f"{name!r} exists")
        used.add(slot)
    ino = _dir_inode(vol, dinum)
    free = next((s for s in range(ino.size // DIRENT_SIZE) if s not in used), None)
    if free is not None:
        set_slot(vol, dinum, free, inum, name)
        return
    ino = write_data(vol, ino, ino.size, pack_dirent(inum, name))
    now = vol.now()
    vol.write_inode(dinum, replace(ino, mtime=now, ctime=now))


def is_empty(vol: Volume, dinum: int) -> bool:
    return all(name in (DOT, DOTDOT) for _, _, name in entries(vol, dinum))


def init_dir(vol: Volume, dinum: int, parent: int) -> None:
    """Write "." and ".." into the new, empty directory ``dinum``."""
    ino = vol.read_inode(dinum)
    ino = write_data(vol, ino, 0, pack_dirent(dinum, DOT) + pack_dirent(parent, DOTDOT))
    vol.write_inode(dinum, ino)

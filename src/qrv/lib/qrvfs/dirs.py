"""Directories: arrays of 256-byte entries (inum u32, NUL-terminated name).

Reading is defensive: a directory whose size is not a multiple of 256, that
has a hole, or that is larger than the data area is corrupt (so a corrupt size
can never make a listing run on)."""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator
from dataclasses import replace

from qrv.lib.qrvfs.bmap import lookup, lookup_range
from qrv.lib.qrvfs.errors import FsCorrupt, FsError
from qrv.lib.qrvfs.fileio import write_data
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    DIRENT_SIZE,
    DIRENTS_PER_BLOCK,
    NAME_FIELD,
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


_INUMS = struct.Struct("<" + f"I{DIRENT_SIZE - 4}x" * DIRENTS_PER_BLOCK)
"""The inum of each entry of a directory block, in one unpack."""
_MAP_RANGE = 64
"""Directory blocks mapped per :func:`lookup_range` call."""


def _blocks(vol: Volume, dinum: int) -> Iterator[tuple[int, bytes, int]]:
    """(first slot, contents, slots of the directory in it) of each block of
    directory ``dinum``, its block map looked up a range at a time (a range,
    not the whole: a corrupt size stops at the first hole, not after mapping
    the whole data area)."""
    ino = _dir_inode(vol, dinum)
    nslots = ino.size // DIRENT_SIZE
    nblocks = -(-nslots // DIRENTS_PER_BLOCK)
    for start in range(0, nblocks, _MAP_RANGE):
        mapped = lookup_range(vol, ino, start, min(_MAP_RANGE, nblocks - start))
        for fbn, block in enumerate(mapped, start):
            if block == 0:
                raise FsCorrupt(f"directory {dinum} has a hole at block {fbn}")
            first = fbn * DIRENTS_PER_BLOCK
            yield first, bytes(vol.read_block(block)), min(DIRENTS_PER_BLOCK, nslots - first)


def entries(vol: Volume, dinum: int) -> Iterator[tuple[int, int, bytes]]:
    """(slot, inum, name) of every used entry of directory ``dinum``."""
    for first, raw, count in _blocks(vol, dinum):
        for i in range(count):
            inum, name = unpack_dirent(raw, i * DIRENT_SIZE)
            if inum:
                yield first + i, inum, name


def find(vol: Volume, dinum: int, name: bytes) -> tuple[int, int] | None:
    """(slot, inum) of ``name`` in directory ``dinum``.

    Each block is searched for the name field's bytes (the name, then the NUL
    that ends it unless it fills the field) and only a hit at the start of a
    used entry's field counts: the answer :func:`entries` would give, without
    unpacking every entry."""
    if len(name) > NAME_FIELD:
        return None
    for block in _blocks(vol, dinum):
        found = _find_in(vol, dinum, name, block)
        if found is not None:
            return found
    return None


def _find_in(
    vol: Volume, dinum: int, name: bytes, block: tuple[int, bytes, int]
) -> tuple[int, int] | None:
    """(slot, inum) of ``name`` in one block (first slot, contents, slots) of the
    directory (:func:`find`)."""
    first, raw, count = block
    key = name + b"\x00" if len(name) < NAME_FIELD else name
    at = raw.find(key, 4)
    while at >= 0:
        slot, field = divmod(at, DIRENT_SIZE)
        if field == 4 and slot < count:
            inum = _INUMS.unpack_from(raw)[slot]
            if inum:
                return first + slot, vol.check_inum(
                    inum, f"entry {name!r} of directory {dinum}: inode"
                )
        at = raw.find(key, at + 1)
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
    """Add ``name`` -> ``inum`` in the first empty slot, or append (EEXIST if present):
    one pass over the directory's blocks looks for the name and the first free slot."""
    check_name(name)
    free: int | None = None
    for block in _blocks(vol, dinum):
        if _find_in(vol, dinum, name, block) is not None:
            raise FsError(errno.EEXIST, f"{name!r} exists")
        if free is None:
            first, raw, count = block
            inums = _INUMS.unpack_from(raw)
            free = next((first + i for i in range(count) if inums[i] == 0), None)
    if free is not None:
        set_slot(vol, dinum, free, inum, name)
        return
    ino = _dir_inode(vol, dinum)
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

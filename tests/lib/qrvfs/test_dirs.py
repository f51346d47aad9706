"""Directory lookups: :func:`dirs.find` (a search of each block's bytes) gives
what a walk of every entry gives, for names inside other names, freed slots
that still hold a name, and bytes past the directory's size."""

from __future__ import annotations

import errno
import struct
from dataclasses import replace

import pytest

from qrv.lib.qrvfs import Filesystem, FsCorrupt, FsError, dirs
from qrv.lib.qrvfs.bmap import lookup, lookup_range
from qrv.lib.qrvfs.volume import Volume
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    DIRENT_SIZE,
    DIRENTS_PER_BLOCK,
    NAME_FIELD,
    Inode,
    pack_dirent,
)
from tests.lib.qrvfs.memdev import new_fs

NAMES = [b"b", b"ab", b"abc", b"bc", b"c" * 251, b"c" * 250, "s\u00e9t".encode(), b"x.1", b"x"]


def walk_find(fs: Filesystem, dinum: int, name: bytes) -> tuple[int, int] | None:
    for slot, inum, entry in dirs.entries(fs.vol, dinum):
        if entry == name:
            return slot, inum
    return None


@pytest.fixture
def tricky() -> tuple[Filesystem, int]:
    """A directory of two blocks and a bit: names inside names, freed slots,
    a freed slot that kept its name, a stale entry past the end."""
    _, fs = new_fs(size_mib=4, ninodes=128)
    dinum = fs.mkdir("/d")
    for i in range(2 * DIRENTS_PER_BLOCK):
        fs.write_file(f"/d/f{i}", b"")
    for name in NAMES:
        fs.write_file(b"/d/" + name, name)
    for i in range(0, 2 * DIRENTS_PER_BLOCK, 3):
        fs.unlink(f"/d/f{i}")
    ino = fs.inode(dinum)
    nslots = ino.size // DIRENT_SIZE
    assert nslots % DIRENTS_PER_BLOCK  # the last block is partly beyond the size
    last = fs.vol.cache.get(lookup(fs.vol, ino, nslots // DIRENTS_PER_BLOCK))
    struct.pack_into("<I", last, (DIRENTS_PER_BLOCK - 1) * DIRENT_SIZE, 5)
    last[(DIRENTS_PER_BLOCK - 1) * DIRENT_SIZE + 4 : DIRENTS_PER_BLOCK * DIRENT_SIZE] = pack_dirent(
        5, b"beyond"
    )[4:]
    first = fs.vol.cache.get(lookup(fs.vol, ino, 0))
    ghost = 2 * DIRENT_SIZE  # "f0"'s freed slot (after "." and ".."): inum 0, a name
    first[ghost + 4 : ghost + DIRENT_SIZE] = pack_dirent(1, b"ghost")[4:]
    return fs, dinum


def test_find_equals_a_walk_of_every_entry(tricky: tuple[Filesystem, int]) -> None:
    fs, dinum = tricky
    queries = [
        *NAMES,
        b"f1",
        b"f2",
        b"f0",
        b"f30",
        b"ghost",
        b"beyond",
        b"c",
        b"a",
        b"x.",
        b"1",
        b"c" * 252,
        b"c" * 300,
    ]
    for name in queries:
        assert dirs.find(fs.vol, dinum, name) == walk_find(fs, dinum, name), name
    assert dirs.find(fs.vol, dinum, b"ab") is not None
    assert dirs.find(fs.vol, dinum, b"ghost") is None
    assert dirs.find(fs.vol, dinum, b"beyond") is None
    assert fs.read_file("/d/" + "c" * 250) == b"c" * 250


def test_add_fills_the_first_freed_slot_and_refuses_a_name_twice(
    tricky: tuple[Filesystem, int],
) -> None:
    fs, dinum = tricky
    size = fs.inode(dinum).size
    inum = fs.write_file("/d/new", b"n")
    assert dirs.find(fs.vol, dinum, b"new") == (2, inum)  # f0's slot, its name gone
    assert dirs.find(fs.vol, dinum, b"ghost") is None
    assert fs.inode(dinum).size == size
    with pytest.raises(FsError) as err:
        dirs.add(fs.vol, dinum, b"ab", inum)
    assert err.value.errno == errno.EEXIST


def test_a_full_name_field_is_found() -> None:
    _, fs = new_fs()
    dinum = fs.mkdir("/d")
    ino = fs.inode(dinum)
    buf = fs.vol.cache.get(lookup(fs.vol, ino, 0))
    full = b"z" * NAME_FIELD  # written by another tool: no NUL at the end
    buf[0:DIRENT_SIZE] = struct.pack("<I", dinum) + full
    assert dirs.find(fs.vol, dinum, full) == (0, dinum) == walk_find(fs, dinum, full)


def test_a_corrupt_size_stops_at_the_first_hole(monkeypatch: pytest.MonkeyPatch) -> None:
    _, fs = new_fs()
    dinum = fs.mkdir("/d")
    huge = fs.vol.sb.nblocks * BLOCK_SIZE  # the largest size a directory may claim
    fs.change_inode(dinum, lambda ino: replace(ino, size=huge))
    asked: list[int] = []

    def counting(vol: Volume, ino: Inode, first: int, count: int) -> list[int]:
        asked.append(count)
        return lookup_range(vol, ino, first, count)

    monkeypatch.setattr(dirs, "lookup_range", counting)
    with pytest.raises(FsCorrupt, match="hole at block 1"):
        dirs.find(fs.vol, dinum, b"absent")
    assert sum(asked) <= 64 < huge // BLOCK_SIZE

"""Corrupted images: random bytes in the superblock, inodes, directories, index
blocks, the bitmap and the log header.  Checking, mounting and walking the
tree, writing, and repairing may only fail with a QrvError (one clear line),
never another exception, and never hang (every walk is bounded by the image).
Few examples by default; many under ``-m slow``."""

from __future__ import annotations

import contextlib
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.errors import QrvError
from qrv.lib.qrvfs import Filesystem, FsError
from qrv.lib.qrvfs.bmap import lookup
from qrv.lib.qrvfs.check import check
from qrv.spec.qrvfs import BLOCK_SIZE, INDEX, InodeType, LogHeader
from tests.lib.qrvfs.memdev import mem_device, new_fs

READ_CAP = 1 << 16  # bytes read per file while walking (a corrupt size may claim 512 GiB)


@cache
def base_image() -> tuple[bytes, dict[str, tuple[int, ...]]]:
    img, fs = new_fs(size_mib=4, ninodes=96, nlog=48)
    fs.mkdir("/d")
    fs.mkdir("/d/e")
    for i in range(20):
        fs.write_file(f"/d/f{i}", bytes([i]) * (i * 700))
    big = fs.create("/big")
    fs.write(big, 0, b"x" * (10 * BLOCK_SIZE))
    fs.write(big, (7 + 512 + 3) * BLOCK_SIZE, b"double")
    fs.symlink("/d/f3", "/link")
    fs.symlink("/loop2", "/loop1")
    fs.symlink("/loop1", "/loop2")
    vol = fs.vol
    dirs_ = [lookup(vol, fs.inode(n), 0) for n in (1, fs.lookup("/d"), fs.lookup("/d/e"))]
    ino = fs.inode(big)
    double_children = [b for b in INDEX.unpack(bytes(vol.read_block(ino.addrs[8]))) if b]
    fs.unmount()
    sb = vol.sb
    regions = {
        "superblock": (1,),
        "inodes": tuple(range(sb.inodestart, sb.bmapstart)),
        "bitmap": tuple(range(sb.bmapstart, sb.datastart)),
        "directories": tuple(dirs_),
        "index": (ino.addrs[7], ino.addrs[8], *double_children),
        "log": (sb.logstart,),
    }
    return bytes(img), regions


def walk(fs: Filesystem) -> None:
    stack = [b"/"]
    seen = 0
    while stack and seen < 500:
        path = stack.pop()
        for name, inum in fs.listdir(path):
            seen += 1
            if name in (b".", b".."):
                continue
            child = path.rstrip(b"/") + b"/" + name
            try:
                kind = fs.inode(inum).type
                if kind == InodeType.DIR:
                    stack.append(child)
                elif kind == InodeType.SYMLINK:
                    fs.readlink(child)
                    fs.stat(child)
                else:
                    fs.read(inum, 0, READ_CAP)
            except FsError:
                continue


def exercise(img: bytearray) -> None:
    for step in (
        lambda: check(mem_device(bytearray(img))),
        lambda: walk(Filesystem.mount(mem_device(bytearray(img), writable=False))),
        lambda: _write_some(bytearray(img)),
        lambda: _repair_then_check(bytearray(img)),
    ):
        with contextlib.suppress(QrvError):
            step()


def _write_some(img: bytearray) -> None:
    fs = Filesystem.mount(mem_device(img))
    for op in (
        lambda: fs.write_file("/new", b"n" * 9000),
        lambda: fs.mkdir("/d/e/g"),
        lambda: fs.rename("/d/f5", "/d/e/f5"),
        lambda: fs.unlink("/d/f7"),
        lambda: fs.truncate(fs.lookup("/big"), 5),
    ):
        with contextlib.suppress(FsError):
            op()
    walk(fs)
    fs.unmount()


def _repair_then_check(img: bytearray) -> None:
    check(mem_device(img), repair=True)
    after = check(mem_device(img))
    assert after.problems == [], f"left after --repair: {after.problems}"


corruption = st.tuples(
    st.sampled_from(["superblock", "inodes", "bitmap", "directories", "index", "log"]),
    st.integers(0, 10**6),  # which block of the region
    st.integers(0, BLOCK_SIZE - 1),  # offset
    st.binary(min_size=1, max_size=16),
)


def corrupt(changes: list[tuple[str, int, int, bytes]]) -> bytearray:
    base, regions = base_image()
    img = bytearray(base)
    for region, pick, offset, raw in changes:
        blocks = regions[region]
        at = blocks[pick % len(blocks)] * BLOCK_SIZE + offset
        data = raw
        if region == "log" and pick % 2:
            # a plausible header: the right magic, random counts/targets
            data = LogHeader(pick % 60, 1, offset, (pick % 1000,) * min(pick % 60, 40)).to_block()
            at -= offset
        img[at : at + len(data)] = data[: len(img) - at]
    return img


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(st.lists(corruption, min_size=1, max_size=4))
def test_corrupted_images_fail_cleanly(changes: list[tuple[str, int, int, bytes]]) -> None:
    exercise(corrupt(changes))


@pytest.mark.slow
@settings(FUZZ, max_examples=1500)
@given(st.lists(corruption, min_size=1, max_size=6))
def test_corrupted_images_fail_cleanly_many(changes: list[tuple[str, int, int, bytes]]) -> None:
    exercise(corrupt(changes))


def test_base_image_is_clean() -> None:
    base, _ = base_image()
    assert check(mem_device(bytearray(base))).problems == []

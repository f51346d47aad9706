"""The library against the independent reference (refimpl.py, written from the
format document): images the reference writes read through the library, and
images the library writes read back through the reference, over the edge
cases of the format."""

from __future__ import annotations

import errno

import pytest

from qrv.lib.qrvfs import Filesystem, FsError
from qrv.lib.qrvfs.check import check
from qrv.spec.qrvfs import BLOCK_SIZE, InodeType
from tests.lib.qrvfs.memdev import mem_device, new_fs
from tests.lib.qrvfs.refimpl import T_DIR, T_FILE, T_LINK, RefNode, RefReader, RefWriter, flatten

SINGLE_START = 7 * BLOCK_SIZE  # first byte mapped through the single indirect block
DOUBLE_START = (7 + 512) * BLOCK_SIZE  # first byte mapped through the double indirect block
SIZES = [0, 1, 4095, 4096, 4097, SINGLE_START - 1, SINGLE_START, SINGLE_START + 1,
         DOUBLE_START - 1, DOUBLE_START, DOUBLE_START + 4097]  # fmt: skip
UTF8 = "grüße-日本語-🙂".encode()
LONG = b"n" * 251


def pattern(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def lib_tree(fs: Filesystem, path: bytes = b"/") -> dict[bytes, tuple[int, bytes]]:
    """The same shape as refimpl.flatten, read through the library."""
    out: dict[bytes, tuple[int, bytes]] = {}
    for name, inum in fs.listdir(path):
        if name in (b".", b".."):
            continue
        child = path.rstrip(b"/") + b"/" + name
        kind = fs.inode(inum).type
        if kind == InodeType.DIR:
            out[child] = (T_DIR, b"")
            out.update(lib_tree(fs, child))
        elif kind == InodeType.SYMLINK:
            out[child] = (T_LINK, fs.readlink(child))
        else:
            out[child] = (T_FILE, fs.read_file(child))
    return out


def reference_image() -> tuple[RefWriter, bytearray]:
    w = RefWriter(size_blocks=2048, ninodes=96)
    for n in SIZES:
        w.add(f"/f{n}", RefNode(T_FILE, data=pattern(n, n)))
    w.add("/dir", RefNode(T_DIR, 0o750, uid=1000, gid=100))
    w.add(b"/dir/" + UTF8, RefNode(T_FILE, data=b"utf8"))
    w.add(b"/dir/" + LONG, RefNode(T_FILE, data=b"long"))
    w.add("/link", RefNode(T_LINK, 0o777, data=b"dir/" + UTF8))
    hole = {0: b"A" * BLOCK_SIZE, 600: b"B" * BLOCK_SIZE}
    w.add("/holes", RefNode(T_FILE, sparse=hole, size=601 * BLOCK_SIZE - 100))
    path = ""
    for depth in range(40):
        path += f"/d{depth}"
        w.add(path, RefNode(T_DIR, 0o755))
    w.add(path + "/leaf", RefNode(T_FILE, data=b"deep"))
    return w, w.image()


def test_library_reads_reference_images() -> None:
    w, img = reference_image()
    fs = Filesystem.mount(mem_device(img, writable=False))
    assert fs.read_only
    assert lib_tree(fs) == flatten(w.root)
    for n in SIZES:
        inum, ino = fs.stat(f"/f{n}")
        assert ino.size == n
        assert fs.read(inum, max(0, n - 10), 100) == pattern(n, n)[max(0, n - 10) :]
    inum, ino = fs.stat("/dir")
    assert (ino.mode, ino.uid, ino.gid, ino.nlink) == (0o750, 1000, 100, 2)
    assert fs.read_file("/link") == b"utf8"
    holes = fs.read_file("/holes")
    assert holes[:BLOCK_SIZE] == b"A" * BLOCK_SIZE
    assert holes[BLOCK_SIZE : 600 * BLOCK_SIZE] == bytes(599 * BLOCK_SIZE)
    assert holes[600 * BLOCK_SIZE :] == b"B" * (BLOCK_SIZE - 100)
    assert check(mem_device(img, writable=False)).problems == []


def test_reference_reads_library_images() -> None:
    img, fs = new_fs(size_mib=12, ninodes=160)
    expect: dict[bytes, tuple[int, bytes]] = {}
    for n in SIZES:
        fs.write_file(f"/f{n}", pattern(n, n))
        expect[f"/f{n}".encode()] = (T_FILE, pattern(n, n))
    fs.mkdir("/dir")
    expect[b"/dir"] = (T_DIR, b"")
    for name in (UTF8, LONG):
        fs.write_file(b"/dir/" + name, name)
        expect[b"/dir/" + name] = (T_FILE, name)
    fs.symlink(b"dir/" + UTF8, "/link")
    expect[b"/link"] = (T_LINK, b"dir/" + UTF8)
    inum = fs.create("/holes")
    fs.write(inum, DOUBLE_START + 5, b"tail")  # data beyond a hole, via the double indirect
    fs.write(inum, 3, b"head")
    expect[b"/holes"] = (T_FILE, b"\0\0\0head" + bytes(DOUBLE_START + 5 - 7) + b"tail")
    path = b""
    for depth in range(40):
        path += b"/d%d" % depth
        fs.mkdir(path)
        expect[path] = (T_DIR, b"")
    fs.unmount()
    assert flatten(RefReader(img).tree()) == expect


def test_truncate_and_unlink_free_every_block() -> None:
    img, fs = new_fs(size_mib=8)
    free = fs.statvfs().free_blocks
    inum = fs.create("/big")
    fs.write(inum, 0, pattern(DOUBLE_START + 3 * BLOCK_SIZE))
    fs.truncate(inum, SINGLE_START + 10)
    assert fs.read_file("/big") == pattern(SINGLE_START + 10)
    fs.truncate(inum, DOUBLE_START + 2)  # grows with a hole
    assert fs.read_file("/big")[SINGLE_START + 10 :] == bytes(DOUBLE_START + 2 - SINGLE_START - 10)
    fs.unlink("/big")
    fs.unmount()
    assert fs.statvfs().free_blocks == free
    RefReader(img).tree()


def test_name_limits() -> None:
    _, fs = new_fs()
    fs.write_file(b"/" + LONG, b"x")
    with pytest.raises(FsError) as err:
        fs.create(b"/" + LONG + b"n")
    assert err.value.errno == errno.ENAMETOOLONG


def test_full_inode_table() -> None:
    img, fs = new_fs(ninodes=64)
    made = 0
    with pytest.raises(FsError) as err:
        while True:
            fs.create(f"/f{made}")
            made += 1
    assert err.value.errno == errno.ENOSPC
    assert made == 64 - 2  # inode 0 and the root
    fs.unmount()
    assert len(RefReader(img).tree().children) == made
    assert check(mem_device(img)).problems == []


@pytest.mark.parametrize("nlog", [0, 64])
def test_full_disk(nlog: int) -> None:
    img, fs = new_fs(size_mib=1, nlog=nlog)
    chunk = pattern(10 * BLOCK_SIZE)
    inum = fs.create("/fill")
    written = 0
    with pytest.raises(FsError) as err:
        while True:
            written += fs.write(inum, written, chunk)
    assert err.value.errno == errno.ENOSPC
    assert fs.statvfs().free_blocks == 0
    size = fs.inode(inum).size
    assert fs.read_file("/fill") == (chunk * (size // len(chunk) + 1))[:size]
    with pytest.raises(FsError):
        fs.mkdir("/nospace")
    fs.unmount()
    assert check(mem_device(img)).problems == []
    assert flatten(RefReader(img).tree())[b"/fill"][1][:size] == fs.read_file("/fill")

"""An independent qrvfs v2 reader and writer, written from the format document
(../shared/spec/qrvfs.md) alone: it imports nothing from qrv, so the tests can
check the library against it in both directions.

The writer builds a whole image in memory, laying it out as the document's
"Layout" section says the real mkfs does, appending directory entries in
creation order and allocating data blocks upward from datastart.  The reader
decodes an image into a plain tree and, as it goes, asserts the document's
invariants (bitmap = reachable blocks, link counts, ".", "..").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

BS = 4096
MAGIC = 0x51525631
SB_FMT = "<IIQQQQQQQQ"  # magic version size nblocks ninodes nlog logstart inodestart bmap data
INODE_FMT = "<HHIIIQQQQ10Q"
T_DIR, T_FILE, T_LINK = 1, 2, 3
PER_INDEX = 512


@dataclass
class RefNode:
    kind: int
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    data: bytes = b""  # file contents (holes as zeros) or link target
    sparse: dict[int, bytes] = field(default_factory=dict)  # file block -> 4096 bytes
    size: int | None = None  # for sparse files
    children: dict[bytes, RefNode] = field(default_factory=dict)  # insertion = entry order


class RefWriter:
    """Build an image: ``add(path, node)`` then ``image()``."""

    def __init__(self, size_blocks: int, ninodes: int, nlog: int = 0) -> None:
        self.size, self.ninodes, self.nlog = size_blocks, ninodes, nlog
        self.root = RefNode(T_DIR, 0o755)

    def add(self, path: str | bytes, node: RefNode) -> RefNode:
        parts = [p for p in (path.encode() if isinstance(path, str) else path).split(b"/") if p]
        here = self.root
        for p in parts[:-1]:
            here = here.children[p]
        here.children[parts[-1]] = node
        return node

    def image(self) -> bytearray:
        logstart = 2
        inodestart = logstart + self.nlog
        bmapstart = inodestart + (self.ninodes + 31) // 32
        datastart = bmapstart + (self.size + 32767) // 32768
        img = bytearray(self.size * BS)
        struct.pack_into(
            SB_FMT,
            img,
            BS,
            MAGIC,
            2,
            self.size,
            self.size - datastart,
            self.ninodes,
            self.nlog,
            logstart,
            inodestart,
            bmapstart,
            datastart,
        )
        self.img, self.inodestart, self.next_block = img, inodestart, datastart
        self.next_inum = 2
        self._put(self.root, 1, 1)
        for b in range(self.next_block):
            img[bmapstart * BS + b // 8] |= 1 << (b % 8)
        return img

    def _alloc(self) -> int:
        b = self.next_block
        if b >= self.size:
            raise ValueError("reference image full")
        self.next_block += 1
        return b

    def _map(self, addrs: list[int], fbn: int) -> int:
        """Allocate file block ``fbn`` (and index blocks) and return its disk block."""
        if fbn < 7:
            addrs[fbn] = addrs[fbn] or self._alloc()
            return addrs[fbn]
        fbn -= 7
        slot, depth = 7, 1
        while fbn >= PER_INDEX**depth:
            fbn -= PER_INDEX**depth
            slot, depth = slot + 1, depth + 1
        addrs[slot] = addrs[slot] or self._alloc()
        block = addrs[slot]
        for level in range(depth - 1, -1, -1):
            i = (fbn // PER_INDEX**level) % PER_INDEX
            (child,) = struct.unpack_from("<Q", self.img, block * BS + i * 8)
            if not child:
                child = self._alloc()
                struct.pack_into("<Q", self.img, block * BS + i * 8, child)
            block = child
        return block

    def _write(self, addrs: list[int], blocks: dict[int, bytes]) -> None:
        for fbn in sorted(blocks):
            b = self._map(addrs, fbn)
            self.img[b * BS : b * BS + len(blocks[fbn])] = blocks[fbn]

    def _put(self, node: RefNode, inum: int, parent: int) -> None:
        addrs = [0] * 10
        nlink = 1
        if node.kind == T_DIR:
            entries = [(inum, b"."), (parent, b"..")]
            nlink = 2
            for name, child in node.children.items():
                cnum = self.next_inum
                self.next_inum += 1
                entries.append((cnum, name))
                self._put(child, cnum, inum)
                nlink += child.kind == T_DIR
            raw = b"".join(struct.pack("<I252s", n, name) for n, name in entries)
            size = len(raw)
            self._write(addrs, {i // BS: raw[i : i + BS] for i in range(0, size, BS)})
        elif node.sparse:
            size = node.size or 0
            self._write(addrs, node.sparse)
            whole = bytearray(size)
            for fbn, chunk in node.sparse.items():
                whole[fbn * BS : fbn * BS + len(chunk)] = chunk
            node.data = bytes(whole[:size])
        else:
            size = len(node.data)
            self._write(addrs, {i // BS: node.data[i : i + BS] for i in range(0, size, BS)})
        raw = struct.pack(
            INODE_FMT,
            node.kind,
            nlink,
            node.mode,
            node.uid,
            node.gid,
            size,
            node.mtime,
            node.mtime,
            node.mtime,
            *addrs,
        )
        off = self.inodestart * BS + inum * 128
        self.img[off : off + 128] = raw


def ref_format(size_blocks: int, ninodes: int, nlog: int = 0) -> bytearray:
    return RefWriter(size_blocks, ninodes, nlog).image()


# --- the reader -------------------------------------------------------------------------


class RefReader:
    def __init__(self, img: bytes) -> None:
        self.img = bytes(img)
        f = struct.unpack_from(SB_FMT, self.img, BS)
        assert f[0] == MAGIC and f[1] == 2, f"not qrvfs v2: {f[:2]}"
        (
            _,
            _,
            self.size,
            self.nblocks,
            self.ninodes,
            self.nlog,
            self.logstart,
            self.inodestart,
            self.bmapstart,
            self.datastart,
        ) = f
        self.used: set[int] = set()
        self.refs: dict[int, int] = {}

    def inode(self, inum: int) -> tuple[int, ...]:
        return struct.unpack_from(INODE_FMT, self.img, self.inodestart * BS + inum * 128)

    def _block(self, b: int) -> bytes:
        return self.img[b * BS : (b + 1) * BS]

    def _claim(self, b: int) -> int:
        assert self.datastart <= b < self.size, f"block {b} out of the data area"
        assert b not in self.used, f"block {b} claimed twice"
        self.used.add(b)
        return b

    def _blocks(self, addrs: tuple[int, ...]) -> dict[int, int]:
        """file block -> disk block of every mapped block (claiming index blocks too)."""
        out = {i: self._claim(a) for i, a in enumerate(addrs[:7]) if a}
        first = 7
        for slot, depth in ((7, 1), (8, 2), (9, 3)):
            if addrs[slot]:
                self._index(self._claim(addrs[slot]), depth, first, out)
            first += PER_INDEX**depth
        return out

    def _index(self, block: int, depth: int, first: int, out: dict[int, int]) -> None:
        for i, child in enumerate(struct.unpack("<512Q", self._block(block))):
            if child:
                start = first + i * PER_INDEX ** (depth - 1)
                if depth == 1:
                    out[start] = self._claim(child)
                else:
                    self._index(self._claim(child), depth - 1, start, out)

    def _data(self, ino: tuple[int, ...]) -> bytes:
        size = ino[5]
        blocks = self._blocks(ino[9:])
        assert all(fbn * BS < size for fbn in blocks), "block mapped beyond the size"
        out = bytearray(size)
        for fbn, b in blocks.items():
            n = min(BS, size - fbn * BS)
            out[fbn * BS : fbn * BS + n] = self._block(b)[:n]
        return bytes(out)

    def tree(self) -> RefNode:
        """The whole tree; asserts the document's invariants along the way."""
        root = self._node(1, 1)
        for b in range(self.size):
            bit = self.img[self.bmapstart * BS + b // 8] >> (b % 8) & 1
            assert bit == (b < self.datastart or b in self.used), f"bitmap wrong at block {b}"
        for inum, count in self.refs.items():
            assert self.inode(inum)[1] == count, (
                f"inode {inum} nlink {self.inode(inum)[1]} != {count}"
            )
        for inum in range(1, self.ninodes):
            assert self.inode(inum)[0] == 0 or inum in self.refs, f"inode {inum} unreachable"
        return root

    def _node(self, inum: int, parent: int) -> RefNode:
        ino = self.inode(inum)
        kind, mode, uid, gid, mtime = ino[0], ino[2], ino[3], ino[4], ino[7]
        node = RefNode(kind, mode, uid, gid, mtime)
        data = self._data(ino)
        if kind != T_DIR:
            node.data = data
            return node
        assert len(data) % 256 == 0
        entries = [struct.unpack_from("<I252s", data, i) for i in range(0, len(data), 256)]
        names = [(n, raw.split(b"\0", 1)[0]) for n, raw in entries if n]
        assert names[:2] == [(inum, b"."), (parent, b"..")], f"dir {inum} starts {names[:2]}"
        for n, _ in names[:2]:
            self.refs[n] = self.refs.get(n, 0) + 1
        for n, name in names[2:]:
            self.refs[n] = self.refs.get(n, 0) + 1
            assert name not in node.children, f"duplicate name {name!r}"
            node.children[name] = self._node(n, inum)
        return node


def flatten(node: RefNode, prefix: bytes = b"") -> dict[bytes, tuple[int, bytes]]:
    """path -> (kind, contents or link target; b"" for directories)."""
    out: dict[bytes, tuple[int, bytes]] = {}
    for name, child in node.children.items():
        path = prefix + b"/" + name
        out[path] = (child.kind, child.data if child.kind != T_DIR else b"")
        if child.kind == T_DIR:
            out.update(flatten(child, path))
    return out

"""qrvfs v2 on-disk layouts (spec/qrvfs.md), shared by the filesystem core, the
host tools and (later) fs-qrv.

All integers are little-endian; a block is 4096 bytes; block numbers are
relative to the start of the filesystem.  The log header is qrv's own (the real
system never writes the log); its layout is documented in docs/qrvfs.md and
below at :data:`LOG_HEADER`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, fields, replace
from enum import IntEnum

from qrv.errors import QrvfsError

BLOCK_SIZE = 4096
MAGIC = 0x51525631  # "QRV1" read as a little-endian u32
VERSION = 2
SUPERBLOCK_BLOCK = 1
SUPERBLOCK_SIZE = 80  # 72 bytes of fields, 8 reserved (zero)
LOG_START = 2  # where the real mkfs puts the log (and the inode table when nlog = 0)

INODE_SIZE = 128
INODES_PER_BLOCK = BLOCK_SIZE // INODE_SIZE  # 32
ROOT_INUM = 1
NDIRECT = 7
NADDRS = 10
SINGLE, DOUBLE, TRIPLE = 7, 8, 9  # addrs[] slots of the indirect blocks
ADDRS_PER_BLOCK = BLOCK_SIZE // 8  # 512 u64 per index block
MAX_FILE_BLOCKS = NDIRECT + ADDRS_PER_BLOCK + ADDRS_PER_BLOCK**2 + ADDRS_PER_BLOCK**3
MAX_FILE_SIZE = MAX_FILE_BLOCKS * BLOCK_SIZE
MODE_MASK = 0o7777  # inode mode holds permission bits only

DIRENT_SIZE = 256
DIRENTS_PER_BLOCK = BLOCK_SIZE // DIRENT_SIZE  # 16
NAME_FIELD = 252
NAME_MAX = 251  # bytes, NUL-terminated in a 252-byte field

BITS_PER_BITMAP_BLOCK = BLOCK_SIZE * 8  # 32768 blocks per bitmap block

# Defaults of the real mkfs-qrv.
REAL_DEFAULT_SIZE_MIB = 8
REAL_DEFAULT_INODES = 128
REAL_DEFAULT_NLOG = 0


class QrvfsFormatError(QrvfsError):
    """A superblock (or image) that is not a usable qrvfs v2 filesystem."""


class InodeType(IntEnum):
    """Inode ``type`` field."""

    FREE = 0
    DIR = 1
    FILE = 2
    SYMLINK = 3
    DEVICE = 4


# --- Superblock (block 1, offset 0) ---------------------------------------------------

SUPERBLOCK = struct.Struct("<IIQQQQQQQQ8x")
assert SUPERBLOCK.size == SUPERBLOCK_SIZE


@dataclass(frozen=True)
class Superblock:
    magic: int
    version: int
    size: int  # total blocks
    nblocks: int  # data blocks
    ninodes: int  # inode slots, inode 0 included
    nlog: int
    logstart: int
    inodestart: int
    bmapstart: int
    datastart: int

    @classmethod
    def unpack(cls, raw: bytes | bytearray) -> Superblock:
        return cls(*SUPERBLOCK.unpack_from(raw))

    def pack(self) -> bytes:
        return SUPERBLOCK.pack(*self.as_dict().values())

    def to_block(self) -> bytes:
        return self.pack().ljust(BLOCK_SIZE, b"\x00")

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def inode_blocks(ninodes: int) -> int:
    return -(-ninodes // INODES_PER_BLOCK)


def bitmap_blocks(size: int) -> int:
    return -(-size // BITS_PER_BITMAP_BLOCK)


def plan_layout(size: int, ninodes: int, nlog: int) -> Superblock:
    """The real mkfs's layout rules (spec/qrvfs.md "Layout") for ``size`` blocks."""
    if ninodes < ROOT_INUM + 1:
        raise QrvfsFormatError(f"{ninodes} inodes: need at least 2 (inode 0 and the root)")
    if nlog < 0:
        raise QrvfsFormatError(f"log of {nlog} blocks: must not be negative")
    inodestart = LOG_START + nlog
    bmapstart = inodestart + inode_blocks(ninodes)
    datastart = bmapstart + bitmap_blocks(size)
    if datastart + 1 > size:
        raise QrvfsFormatError(
            f"{size} blocks cannot hold {nlog} log blocks, {ninodes} inodes and the bitmap "
            f"(metadata ends at block {datastart}, and the root needs one data block)"
        )
    return Superblock(
        MAGIC,
        VERSION,
        size,
        size - datastart,
        ninodes,
        nlog,
        LOG_START,
        inodestart,
        bmapstart,
        datastart,
    )


def superblock_problems(sb: Superblock, device_blocks: int) -> list[str]:
    """Why ``sb`` cannot be used on a device of ``device_blocks`` blocks ([] = usable)."""
    if sb.magic != MAGIC:
        return [f"bad magic 0x{sb.magic:08x}, expected 0x{MAGIC:08x} (not a qrvfs filesystem)"]
    if sb.version != VERSION:
        return [f"unknown qrvfs version {sb.version}, expected {VERSION}"]
    problems: list[str] = []
    if sb.size > device_blocks:
        problems.append(f"filesystem of {sb.size} blocks exceeds the device ({device_blocks})")
    if sb.ninodes < ROOT_INUM + 1:
        problems.append(f"ninodes {sb.ninodes} leaves no root inode")
    areas = [
        ("log", sb.logstart, sb.nlog),
        ("inode table", sb.inodestart, inode_blocks(sb.ninodes)),
        ("bitmap", sb.bmapstart, bitmap_blocks(sb.size)),
        ("data", sb.datastart, sb.nblocks),
    ]
    cursor, prev = SUPERBLOCK_BLOCK + 1, "superblock"
    for name, start, count in areas:
        if start < cursor:
            problems.append(f"{name} at block {start} overlaps the {prev} (ends at {cursor})")
        cursor, prev = max(cursor, start + count), name
    if sb.datastart + sb.nblocks != sb.size:
        problems.append(f"datastart {sb.datastart} + nblocks {sb.nblocks} != size {sb.size}")
    if cursor > sb.size:
        problems.append(f"areas end at block {cursor}, beyond the size {sb.size}")
    if sb.nblocks < 1:
        problems.append("no data blocks")
    return problems


# --- Inode (128 bytes, 32 per block) --------------------------------------------------

INODE = struct.Struct("<HHIIIQQQQ10Q")
assert INODE.size == INODE_SIZE


@dataclass(frozen=True)
class Inode:
    type: int = InodeType.FREE
    nlink: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    size: int = 0
    atime: int = 0
    mtime: int = 0
    ctime: int = 0
    addrs: tuple[int, ...] = (0,) * NADDRS

    @classmethod
    def unpack(cls, raw: bytes | bytearray, offset: int = 0) -> Inode:
        v = INODE.unpack_from(raw, offset)
        return cls(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], tuple(v[9:]))

    def pack(self) -> bytes:
        return INODE.pack(
            self.type,
            self.nlink,
            self.mode,
            self.uid,
            self.gid,
            self.size,
            self.atime,
            self.mtime,
            self.ctime,
            *self.addrs,
        )

    def with_addr(self, slot: int, block: int) -> Inode:
        addrs = list(self.addrs)
        addrs[slot] = block
        return replace(self, addrs=tuple(addrs))


def inode_location(sb: Superblock, inum: int) -> tuple[int, int]:
    """(block, byte offset in it) of inode ``inum``."""
    return sb.inodestart + inum // INODES_PER_BLOCK, (inum % INODES_PER_BLOCK) * INODE_SIZE


# --- Index blocks ---------------------------------------------------------------------

INDEX = struct.Struct(f"<{ADDRS_PER_BLOCK}Q")
assert INDEX.size == BLOCK_SIZE

# --- Directory entries (256 bytes, 16 per block) --------------------------------------

DIRENT = struct.Struct(f"<I{NAME_FIELD}s")
assert DIRENT.size == DIRENT_SIZE


def pack_dirent(inum: int, name: bytes) -> bytes:
    if not 0 < len(name) <= NAME_MAX or b"\x00" in name:
        raise QrvfsFormatError(f"directory entry name of {len(name)} bytes is not storable")
    return DIRENT.pack(inum, name)


def unpack_dirent(raw: bytes | bytearray, offset: int = 0) -> tuple[int, bytes]:
    """(inum, name); the name ends at the first NUL (a full 252-byte field has none)."""
    inum, field = DIRENT.unpack_from(raw, offset)
    end = field.find(b"\x00")
    return inum, field if end < 0 else field[:end]


# --- Free-block bitmap ----------------------------------------------------------------


def bitmap_position(sb: Superblock, block: int) -> tuple[int, int, int]:
    """(bitmap block, byte in it, bit mask) of ``block``."""
    bit = block % BITS_PER_BITMAP_BLOCK
    return sb.bmapstart + block // BITS_PER_BITMAP_BLOCK, bit // 8, 1 << (bit % 8)


# --- Log header (qrv's journal; the first block of the log area) ----------------------
#
#  offset  type        field
#       0  u32         magic     0x474f4c51 ("QLOG" little-endian); all-zero block = empty log
#       4  u32         count     logged blocks n (0 = empty); block i is at logstart + 1 + i
#       8  u64         sequence  transaction number, +1 per commit
#      16  u32         crc       CRC-32 of bytes 0..15 and 20.., then of the n logged blocks
#      20  u32         reserved  zero
#      24  u64[n]      targets   home block number of logged block i
#
# A header is committed when its magic, count and crc all check; a header that
# does not check is not a commit (the blocks stay where they are).

LOG_MAGIC = 0x474F4C51
LOG_HEADER = struct.Struct("<IIQII")
assert LOG_HEADER.size == 24
LOG_TARGETS_MAX = (BLOCK_SIZE - LOG_HEADER.size) // 8  # 509


@dataclass(frozen=True)
class LogHeader:
    count: int
    sequence: int
    crc: int
    targets: tuple[int, ...]
    magic: int = LOG_MAGIC

    @staticmethod
    def checksum(sequence: int, targets: tuple[int, ...], blocks: list[bytes]) -> int:
        raw = LOG_HEADER.pack(LOG_MAGIC, len(targets), sequence, 0, 0)
        crc = zlib.crc32(raw[:16])
        crc = zlib.crc32(raw[20:], crc)
        crc = zlib.crc32(struct.pack(f"<{len(targets)}Q", *targets), crc)
        for block in blocks:
            crc = zlib.crc32(block, crc)
        return crc

    @classmethod
    def build(cls, sequence: int, targets: tuple[int, ...], blocks: list[bytes]) -> LogHeader:
        return cls(len(targets), sequence, cls.checksum(sequence, targets, blocks), targets)

    def to_block(self) -> bytes:
        raw = LOG_HEADER.pack(self.magic, self.count, self.sequence, self.crc, 0)
        raw += struct.pack(f"<{len(self.targets)}Q", *self.targets)
        return raw.ljust(BLOCK_SIZE, b"\x00")

    @classmethod
    def unpack(cls, raw: bytes) -> LogHeader | None:
        """The header in ``raw``; None for an empty log (all zero, or count 0)."""
        magic, count, sequence, crc, _ = LOG_HEADER.unpack_from(raw)
        if magic == 0 and count == 0:
            return None
        targets: tuple[int, ...] = ()
        if count <= LOG_TARGETS_MAX:
            targets = struct.unpack_from(f"<{count}Q", raw, LOG_HEADER.size)
        return cls(count, sequence, crc, targets, magic)


EMPTY_LOG_BLOCK = bytes(BLOCK_SIZE)


# --- fs-qrv's own messages (an _IO_MSG with this mgrid) -------------------------------

FSQRV_MGRID = 0x5146  # "FQ"
MOUNT_TABLE_DIR = "/proc/mount"
"""Each fs-qrv also serves ``/proc/mount/<pid>``: one line, ``DEVICE on DIR type qrv (rw)``."""


class FsQrvMsg(IntEnum):
    """``subtype`` of an _IO_MSG to fs-qrv (sent on any open of the mount)."""

    UNMOUNT = 1  # commit, flush, detach and exit; EBUSY while other files are open
    UNMOUNT_FORCE = 2  # the same, even with files open
    STATVFS = 3  # reply: STATVFS
    SYNC = 4  # commit and flush the whole filesystem


STATVFS = struct.Struct("<QQQQQQ")  # bsize, blocks, bfree, files, ffree, namemax

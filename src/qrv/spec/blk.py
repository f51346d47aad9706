"""Block-device devctls served by devb-nvme and used by its clients.

``_DCMD_BLK`` is QNX's block class (``<devctl.h>``: ``_DCMD_BLK =
_DCMD_FSYS = 0x02``).  The commands are qrv's own numbers in that class (QNX's
io-blk answers ``DCMD_CAM_*``/``DCMD_BLK_PARTENTRY`` instead; neither carries
the NVMe namespace and start LBA together, and it has no discard):

* ``DCMD_BLK_GEOMETRY`` (from): a :class:`BlkGeometry`.
* ``DCMD_BLK_DISCARD`` (to): a :class:`BlkRange` of the node, in bytes, LBA-aligned;
  the blocks are deallocated (Dataset Management) and read as zeroes afterwards.
  Needs the node open for writing (EBADF otherwise); EINVAL if the range is not
  LBA-aligned or runs past the node's end.  Like Linux's ``BLKDISCARD``.
* ``DCMD_BLK_ZERO`` (to): as discard, with Write Zeroes.  Like ``BLKZEROOUT``.
* ``DCMD_BLK_FLUSH`` (none): the device's volatile write cache to the medium
  (what ``fsync`` does too).
* ``DCMD_BLK_REREAD`` (none): re-read the namespace's partition table after a
  tool rewrote it, replacing the partition nodes.  Only on a whole-namespace node
  (EINVAL on a partition), by root (EPERM), and EBUSY while any partition node of
  the namespace is open.  Like ``BLKRRPART``.  The reply's ``ret_val`` is the
  number of partitions found.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.spec.iomsg import DEVDIR_FROM, DEVDIR_NONE, DEVDIR_TO, Layout, dcmd

_DCMD_BLK = 0x02

_GEOMETRY = Layout("<IIQQQ")
assert _GEOMETRY.size == 32


@dataclass(frozen=True)
class BlkGeometry:
    """Where a block path sits on its namespace: LBA size, LBA count, first LBA, bytes."""

    nsid: int
    lba_size: int
    nlba: int
    start_lba: int
    size_bytes: int

    SIZE = _GEOMETRY.size

    def pack(self) -> bytes:
        return _GEOMETRY.pack(self.nsid, self.lba_size, self.nlba, self.start_lba, self.size_bytes)

    @classmethod
    def unpack(cls, data: bytes) -> BlkGeometry:
        if len(data) < _GEOMETRY.size:
            raise ValueError(f"geometry: need {_GEOMETRY.size} bytes, got {len(data)}")
        return cls(*_GEOMETRY.unpack_from(data))


_RANGE = Layout("<QQ")


@dataclass(frozen=True)
class BlkRange:
    """A byte range of a block node: offset from the node's start, length."""

    offset: int
    length: int

    SIZE = _RANGE.size

    def pack(self) -> bytes:
        return _RANGE.pack(self.offset, self.length)

    @classmethod
    def unpack(cls, data: bytes) -> BlkRange:
        if len(data) < _RANGE.size:
            raise ValueError(f"range: need {_RANGE.size} bytes, got {len(data)}")
        return cls(*_RANGE.unpack_from(data))


DCMD_BLK_GEOMETRY = dcmd(DEVDIR_FROM, _DCMD_BLK, 0x40, _GEOMETRY.size)
DCMD_BLK_DISCARD = dcmd(DEVDIR_TO, _DCMD_BLK, 0x41, _RANGE.size)
DCMD_BLK_ZERO = dcmd(DEVDIR_TO, _DCMD_BLK, 0x42, _RANGE.size)
DCMD_BLK_FLUSH = dcmd(DEVDIR_NONE, _DCMD_BLK, 0x43, 0)
DCMD_BLK_REREAD = dcmd(DEVDIR_NONE, _DCMD_BLK, 0x44, 0)

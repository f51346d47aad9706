"""Block-device devctls served by devb-nvme and used by its clients.

``_DCMD_BLK`` is QNX's block class (``<devctl.h>``: ``_DCMD_BLK =
_DCMD_FSYS = 0x02``).  The geometry query is qrv's own command number in
that class (QNX's io-blk answers ``DCMD_CAM_*``/``DCMD_BLK_PARTENTRY``
instead; neither carries the NVMe namespace and start LBA together).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from qrv.spec.iomsg import DEVDIR_FROM, dcmd

_DCMD_BLK = 0x02

_GEOMETRY = struct.Struct("<IIQQQ")
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


DCMD_BLK_GEOMETRY = dcmd(DEVDIR_FROM, _DCMD_BLK, 0x40, _GEOMETRY.size)

"""The block resource manager: ``/dev/nvme0n1`` and one region per GPT partition.

Each path's attr is an :class:`NvmeRegion` (the seed's ``nvme_region_t``, an
``iofunc_attr_t`` subclass) carrying its namespace, first LBA and LBA count.
Every handler recovers the region from ``ocb.attr`` and clips the access to
it, so a partition node cannot read outside its own range.  Read-only: an
open asking for write access gets EROFS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qrv.drivers.devb_nvme.controller import Namespace
from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    devctl_reply,
    iofunc_attr_init,
    iofunc_devctl_default,
    iofunc_func_init,
    iofunc_open_default,
    iofunc_read_verify,
)
from qrv.lib.c.msg import IoDevctl, IoOpen, IoRead
from qrv.lib.c.resmgr import (
    HandlerResult,
    ResmgrConnectFuncs,
    ResmgrContext,
    ResmgrIoFuncs,
)
from qrv.spec.blk import DCMD_BLK_GEOMETRY, BlkGeometry
from qrv.spec.iomsg import _IO_FLAG_WR, EIO, EOK, EROFS, S_IFBLK

NO_NAMESPACE = Namespace(0, 0, 512)
BLOCK_MODE = S_IFBLK | 0o444  # br--r--r--, as the seed's ls -l /dev shows

# reads the namespace: (namespace, first LBA, LBA count) -> bytes; raises OSError(EIO)
BlockReader = Callable[[Namespace, int, int], bytes]


@dataclass(eq=False)
class NvmeRegion(IofuncAttr):
    """A contiguous LBA range of one namespace, served at one path."""

    ns: Namespace = NO_NAMESPACE
    start_lba: int = 0
    nlba: int = 0

    @property
    def size_bytes(self) -> int:
        return self.nlba * self.ns.lba_size


def make_region(ns: Namespace, start_lba: int, nlba: int) -> NvmeRegion:
    region = NvmeRegion(ns=ns, start_lba=start_lba, nlba=nlba)
    iofunc_attr_init(region, BLOCK_MODE)
    region.nbytes = region.size_bytes
    region.blocksize = ns.lba_size
    return region


class BlockHandlers:
    """The connect and I/O tables of the block resource manager."""

    def __init__(self, reader: BlockReader) -> None:
        self.reader = reader
        self.connect_funcs, self.io_funcs = self._tables()

    def _tables(self) -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
        connect, io = iofunc_func_init()
        connect.open = self.open
        io.read = self.read
        io.devctl = self.devctl
        return connect, io

    def open(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        if msg.ioflag & _IO_FLAG_WR:
            return EROFS
        return iofunc_open_default(ctp, msg, attr)

    def read(self, ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
        err = iofunc_read_verify(ctp, msg, ocb)
        if err != EOK:
            return err
        region = ocb.attr
        if not isinstance(region, NvmeRegion):
            return EIO
        offset = ocb.offset if msg.offset is None else msg.offset
        data = self.read_bytes(region, offset, msg.nbytes)
        if msg.offset is None:
            ocb.offset = offset + len(data)
        return data

    def read_bytes(self, region: NvmeRegion, offset: int, nbytes: int) -> bytes:
        """Bytes [offset, offset+nbytes) of `region`, clipped to its end (EOF: b"")."""
        end = min(offset + nbytes, region.size_bytes)
        if offset >= end:
            return b""
        lba_size = region.ns.lba_size
        first = offset // lba_size
        last = (end - 1) // lba_size
        raw = self.reader(region.ns, region.start_lba + first, last - first + 1)
        skip = offset - first * lba_size
        return raw[skip : skip + end - offset]

    def devctl(self, ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb) -> HandlerResult:
        region = ocb.attr
        if msg.dcmd == DCMD_BLK_GEOMETRY and isinstance(region, NvmeRegion):
            geometry = BlkGeometry(
                region.ns.nsid, region.ns.lba_size, region.nlba, region.start_lba, region.nbytes
            )
            return devctl_reply(ctp, geometry.pack())
        return iofunc_devctl_default(ctp, msg, ocb)

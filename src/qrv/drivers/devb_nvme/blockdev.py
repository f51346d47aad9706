"""The block resource manager: ``/dev/nvme0n1`` and one region per GPT partition.

Each path's attr is an :class:`NvmeRegion` (the seed's ``nvme_region_t``, an
``iofunc_attr_t`` subclass) carrying its namespace, first LBA and LBA count.
Every handler recovers the region from ``ocb.attr`` and clips the access to
it, so a partition node can neither read nor write outside its own range.

Read-only (the default): ``br--r--r--`` and an open asking for write access
gets EROFS.  Writable (devb-nvme ``rw``): ``brw-r--r--``, root-owned, and the
open checks the permission bits (EACCES for others).

Writes (``write``/``pwrite``): a write that starts inside the node and runs
past its end is clipped (a short count); one that starts at or past the end
gets ENOSPC, as Linux does for block devices (so does any write on an fd
opened ``O_APPEND``: it starts at the end).  A write not aligned to the LBA
size reads its first and last blocks and writes them back merged.  An fd opened
``O_SYNC`` or ``O_DSYNC`` writes with Force Unit Access.  ``fsync``/``fdatasync``
(``_IO_SYNC``) flush the device's volatile write cache; closing does not (as
on Linux).  The devctls are those of :mod:`qrv.spec.blk`.

One read message moves at most :data:`MAX_READ_BYTES`; a larger request gets a
short count (as POSIX allows, and as Linux caps one ``read`` at 2 GiB - 4 KiB),
so what a client asks for never sizes the driver's buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from qrv.drivers.devb_nvme.controller import Namespace, Payload
from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    devctl_reply,
    iofunc_attr_init,
    iofunc_devctl_default,
    iofunc_func_init,
    iofunc_open_default,
    iofunc_read_at,
    iofunc_write_from,
)
from qrv.lib.c.msg import IoDevctl, IoOpen, IoRead, IoSync, IoWrite
from qrv.lib.c.resmgr import (
    HandlerResult,
    ResmgrConnectFuncs,
    ResmgrContext,
    ResmgrIoFuncs,
    WritePayload,
    resmgr_write_source,
)
from qrv.spec.blk import (
    DCMD_BLK_DISCARD,
    DCMD_BLK_FLUSH,
    DCMD_BLK_GEOMETRY,
    DCMD_BLK_REREAD,
    DCMD_BLK_ZERO,
    BlkGeometry,
    BlkRange,
)
from qrv.spec.iomsg import (
    _IO_FLAG_WR,
    EBADF,
    EINVAL,
    EIO,
    ENOSPC,
    EOK,
    EPERM,
    EROFS,
    O_DSYNC,
    O_SYNC,
    S_IFBLK,
    oserror,
)

NO_NAMESPACE = Namespace(0, 0, 512)
READ_ONLY_MODE = S_IFBLK | 0o444  # br--r--r--, as the seed's ls -l /dev shows
WRITABLE_MODE = S_IFBLK | 0o644  # brw-r--r--


class BlockDevice(Protocol):
    """What the handlers need of the driver; failures are OSError (EIO, EBUSY, ...)."""

    def read_blocks(
        self, ns: Namespace, slba: int, nlb: int, skip: int = 0, nbytes: int | None = None
    ) -> bytes:
        """Of `nlb` blocks at `slba`, the `nbytes` bytes (default: the rest) from `skip`."""

    def read_blocks_at(self, ns: Namespace, lbas: list[int]) -> bytes:
        """One block at each of `lbas`, in that order, read together."""

    def write_blocks(
        self, ns: Namespace, slba: int, data: bytes | memoryview | Payload, fua: bool
    ) -> None:
        """`data`: whole blocks (read before the call returns; not kept)."""

    def flush(self, ns: Namespace) -> None: ...

    def discard(self, ns: Namespace, slba: int, nlb: int) -> None: ...

    def zero(self, ns: Namespace, slba: int, nlb: int) -> None: ...

    def reread(self, ns: Namespace) -> int: ...


@dataclass(eq=False)
class NvmeRegion(IofuncAttr):
    """A contiguous LBA range of one namespace, served at one path (`partition` 0: the
    whole namespace, else the GPT slot)."""

    ns: Namespace = NO_NAMESPACE
    start_lba: int = 0
    nlba: int = 0
    partition: int = 0

    @property
    def size_bytes(self) -> int:
        return self.nlba * self.ns.lba_size

    def reshape(self, ns: Namespace) -> None:
        """`ns` was reformatted: a whole-namespace node takes its new size and LBA size (a
        partition node keeps its range until the GPT is read again)."""
        self.ns = ns
        if not self.partition:
            self.nlba = ns.nlba
        self.nbytes, self.blocksize = self.size_bytes, ns.lba_size


MAX_READ_BYTES = 16 << 20
"""The most one ``_IO_READ`` returns; the client reads on for the rest."""


def make_region(
    ns: Namespace, start_lba: int, nlba: int, *, partition: int = 0, writable: bool = False
) -> NvmeRegion:
    region = NvmeRegion(ns=ns, start_lba=start_lba, nlba=nlba, partition=partition)
    iofunc_attr_init(region, WRITABLE_MODE if writable else READ_ONLY_MODE)
    region.nbytes = region.size_bytes
    region.blocksize = ns.lba_size
    return region


def _region(ocb: IofuncOcb) -> NvmeRegion:
    if not isinstance(ocb.attr, NvmeRegion):
        raise oserror(EIO)
    return ocb.attr


class BlockHandlers:
    """The connect and I/O tables of the block resource manager."""

    def __init__(self, device: BlockDevice, *, writable: bool = False) -> None:
        self.device = device
        self.writable = writable
        self.connect_funcs, self.io_funcs = self._tables()

    def _tables(self) -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
        connect, io = iofunc_func_init()
        connect.open = self.open
        io.read = self.read
        io.write = self.write
        io.sync = self.sync
        io.devctl = self.devctl
        return connect, io

    def open(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        if msg.ioflag & _IO_FLAG_WR and not self.writable:
            return EROFS
        return iofunc_open_default(ctp, msg, attr)

    # -- read ------------------------------------------------------------------------

    def read(self, ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
        region = _region(ocb)
        return iofunc_read_at(ctp, msg, ocb, lambda off, n: self.read_bytes(region, off, n))

    def read_bytes(self, region: NvmeRegion, offset: int, nbytes: int) -> bytes:
        """Bytes [offset, offset+nbytes) of `region`, clipped to its end (EOF: b"").

        The resmgr layer has refused negative offsets and counts already; the
        check here keeps the region's bounds this function's own invariant.
        """
        if offset < 0 or nbytes < 0:
            raise oserror(EINVAL, f"read of {nbytes} bytes at offset {offset}")
        end = min(offset + min(nbytes, MAX_READ_BYTES), region.size_bytes)
        if offset >= end:
            return b""
        lba_size = region.ns.lba_size
        first = offset // lba_size
        last = (end - 1) // lba_size
        skip = offset - first * lba_size
        count = last - first + 1
        return self.device.read_blocks(
            region.ns, region.start_lba + first, count, skip, end - offset
        )

    # -- write -----------------------------------------------------------------------

    def write(self, ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
        region = _region(ocb)
        fua = bool(ocb.ioflag & (O_SYNC | O_DSYNC))
        return iofunc_write_from(
            ctp,
            msg,
            ocb,
            resmgr_write_source,
            lambda off, data: self.write_bytes(region, off, data, fua=fua),
        )

    def write_bytes(self, region: NvmeRegion, offset: int, data: WritePayload, *, fua: bool) -> int:
        """Write `data` at byte `offset` of `region`, clipped to its end; bytes written.
        ENOSPC if `offset` is at or past the end (and there is something to write).

        The data are copied once, from the client's message: an aligned write's
        straight into the bounce buffers, an unaligned one's into the buffer of its
        blocks, between the edges read from the device."""
        if not len(data):
            return 0
        if offset >= region.size_bytes:
            raise oserror(ENOSPC)
        end = min(offset + len(data), region.size_bytes)
        lba = region.ns.lba_size
        first, last = offset // lba, (end - 1) // lba
        head, tail = offset - first * lba, (last + 1) * lba - end
        body = data.head(end - offset)  # clipped, not copied
        if head or tail:
            blocks = self._edges(region, first, last, head > 0, tail > 0)
            body.readinto(memoryview(blocks)[head : head + len(body)], 0)
            self.device.write_blocks(region.ns, region.start_lba + first, memoryview(blocks), fua)
        else:
            self.device.write_blocks(region.ns, region.start_lba + first, body, fua)
        return end - offset

    def _edges(
        self, region: NvmeRegion, first: int, last: int, head: bool, tail: bool
    ) -> bytearray:
        """Blocks first..last with the partial edge blocks read from the device (the
        ones in between are about to be overwritten: zeros), one buffer the data then
        go into."""
        lba = region.ns.lba_size
        count = last - first + 1
        if count <= 2:
            return bytearray(self.device.read_blocks(region.ns, region.start_lba + first, count))
        blocks = bytearray(count * lba)
        edges = [n for n, partial in ((first, head), (last, tail)) if partial]
        got = self.device.read_blocks_at(region.ns, [region.start_lba + n for n in edges])
        if head:
            blocks[:lba] = got[:lba]
        if tail:
            blocks[-lba:] = got[-lba:]
        return blocks

    # -- durability and devctls ----------------------------------------------------------

    def sync(self, ctp: ResmgrContext, msg: IoSync, ocb: IofuncOcb) -> HandlerResult:
        del ctp, msg
        self.device.flush(_region(ocb).ns)
        return EOK

    def devctl(self, ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb) -> HandlerResult:
        region = ocb.attr
        if not isinstance(region, NvmeRegion):
            return iofunc_devctl_default(ctp, msg, ocb)
        if msg.dcmd == DCMD_BLK_GEOMETRY:
            geometry = BlkGeometry(
                region.ns.nsid, region.ns.lba_size, region.nlba, region.start_lba, region.nbytes
            )
            return devctl_reply(ctp, geometry.pack())
        if msg.dcmd in (DCMD_BLK_DISCARD, DCMD_BLK_ZERO):
            return self._range_command(ctp, msg, ocb, region)
        if msg.dcmd == DCMD_BLK_FLUSH:
            self.device.flush(region.ns)
            return devctl_reply(ctp, b"")
        if msg.dcmd == DCMD_BLK_REREAD:
            if region.partition:
                return EINVAL
            if ctp.info is None or ctp.info.uid != 0:
                return EPERM
            return devctl_reply(ctp, b"", self.device.reread(region.ns))
        return iofunc_devctl_default(ctp, msg, ocb)

    def _range_command(
        self, ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb, region: NvmeRegion
    ) -> HandlerResult:
        if not ocb.ioflag & _IO_FLAG_WR:
            return EBADF
        try:
            rng = BlkRange.unpack(msg.data)
        except ValueError:
            return EINVAL
        lba = region.ns.lba_size
        if rng.offset % lba or rng.length % lba or rng.offset + rng.length > region.size_bytes:
            return EINVAL
        slba, nlb = region.start_lba + rng.offset // lba, rng.length // lba
        if nlb:
            if msg.dcmd == DCMD_BLK_DISCARD:
                self.device.discard(region.ns, slba, nlb)
            else:
                self.device.zero(region.ns, slba, nlb)
        return devctl_reply(ctp, b"")

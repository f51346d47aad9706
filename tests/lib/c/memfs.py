"""A test resource manager: files held in memory, served through iofunc defaults.

Used by the lib, userland and system tests as a stand-in for a driver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from qrv.lib.c import procmgr_ready
from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    iofunc_attr_init,
    iofunc_func_init,
    iofunc_read_verify,
    iofunc_write_verify,
)
from qrv.lib.c.msg import IoRead, IoWrite
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.spec.iomsg import EOK, EROFS, S_IFBLK


@dataclass(eq=False)
class MemFile(IofuncAttr):
    """An attr subclass carrying the file's bytes (as the seed's nvme_region_t)."""

    data: bytearray = field(default_factory=bytearray)
    writable: bool = False


def mem_read(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_read_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    f = ocb.attr
    assert isinstance(f, MemFile)
    start = ocb.offset if msg.offset is None else msg.offset
    chunk = bytes(f.data[start : start + max(msg.nbytes, 0)])
    if msg.offset is None:
        ocb.offset += len(chunk)
    ctp.status = len(chunk)
    return chunk


def mem_write(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_write_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    f = ocb.attr
    assert isinstance(f, MemFile)
    if not f.writable:
        return EROFS  # a read-only device (as devb-nvme's nodes), even for root
    start = ocb.offset if msg.offset is None else msg.offset
    end = min(start + len(msg.data), len(f.data))
    n = max(0, end - start)
    f.data[start:end] = msg.data[:n]
    if msg.offset is None:
        ocb.offset += n
    ctp.status = n
    return EOK


def memfs(
    files: dict[str, tuple[int, bytes]], sizes: dict[str, int] | None = None
) -> Callable[[list[str]], int]:
    """A program serving `files` (path -> (mode, contents)); `sizes` overrides st_size."""

    def main(argv: list[str]) -> int:
        del argv
        dpp = dispatch_create()
        resmgr_attach(dpp, None, None, 0, 0, None, None, None)
        connect, io = iofunc_func_init()
        io.read, io.write = mem_read, mem_write
        for path, (mode, data) in files.items():
            attr = MemFile(data=bytearray(data), writable=bool(mode & 0o200))
            iofunc_attr_init(attr, mode)
            attr.nbytes = (sizes or {}).get(path, len(data))
            resmgr_attach(dpp, None, path, 0, 0, connect, io, attr)
        procmgr_ready()
        dispatch_loop(dpp)
        return 0

    return main


BLOCK_RO = S_IFBLK | 0o444

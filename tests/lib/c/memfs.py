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
    iofunc_read_at,
    iofunc_write_at,
)
from qrv.lib.c.msg import IoRead, IoWrite
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.spec.iomsg import EROFS, S_IFBLK, oserror


@dataclass(eq=False)
class MemFile(IofuncAttr):
    """An attr subclass carrying the file's bytes (as the seed's nvme_region_t)."""

    data: bytearray = field(default_factory=bytearray)
    writable: bool = False


def mem_read(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    f = ocb.attr
    assert isinstance(f, MemFile)
    return iofunc_read_at(ctp, msg, ocb, lambda start, n: bytes(f.data[start : start + n]))


def mem_write(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
    f = ocb.attr
    assert isinstance(f, MemFile)

    def write_at(start: int, data: bytes) -> int:
        if not f.writable:
            raise oserror(EROFS)  # a read-only device (as devb-nvme's nodes), even for root
        end = min(start + len(data), len(f.data))
        n = max(0, end - start)
        f.data[start:end] = data[:n]
        return n

    return iofunc_write_at(ctp, msg, ocb, write_at)


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

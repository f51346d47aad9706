"""hello: a resource manager serving /dev/hello (docs/tutorial.md, part 1).

``hello`` starts the server as a process of its own and returns once
/dev/hello exists; the server runs on.  Reading /dev/hello gives the
greeting; writing it replaces the greeting (at most 256 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.c import procmgr_ready, spawn, stdio
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
from qrv.lib.c.proc import procmgr_waitfor
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.spec.iomsg import EINVAL, EOK, S_IFCHR

PATH = "/dev/hello"
MAX_GREETING = 256


@dataclass(eq=False)
class Greeting(IofuncAttr):
    """The device's attribute structure, carrying the greeting."""

    text: bytes = field(default=b"Hello, world!\n")


def read(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_read_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    attr = ocb.attr
    assert isinstance(attr, Greeting)
    start = ocb.offset if msg.offset is None else msg.offset
    chunk = attr.text[start : start + msg.nbytes]
    if msg.offset is None:
        ocb.offset += len(chunk)
    ctp.status = len(chunk)
    return chunk


def write(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_write_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    if len(msg.data) > MAX_GREETING:
        return EINVAL
    attr = ocb.attr
    assert isinstance(attr, Greeting)
    attr.text = bytes(msg.data)
    attr.nbytes = len(attr.text)
    ctp.status = len(msg.data)
    return EOK


def serve(argv: list[str]) -> int:
    dpp = dispatch_create()
    connect, io = iofunc_func_init()
    io.read, io.write = read, write
    attr = Greeting()
    iofunc_attr_init(attr, S_IFCHR | 0o666)
    attr.nbytes = len(attr.text)
    resmgr_attach(dpp, None, PATH, 0, 0, connect, io, attr)
    procmgr_ready()
    dispatch_loop(dpp)
    return 0


def main(argv: list[str]) -> int:
    pid = spawn(serve, ["hello-server"])
    if not procmgr_waitfor(pid, PATH, 5.0):
        stdio.eprintf("hello: the server did not come up\n")
        return 1
    stdio.printf(f"hello: serving {PATH}\n")
    return 0

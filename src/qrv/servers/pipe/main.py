"""pipe: anonymous pipes through the pathname space (QNX's ``pipe`` server).

Usage: ``pipe`` (no options).  It serves ``/dev/pipe``:

* an open of ``/dev/pipe`` for reading and writing (``O_RDWR``) makes a new
  pipe and is both a reader and a writer of it; ``fstat`` gives its number
  as ``st_ino`` (``S_IFIFO``);
* an open of ``/dev/pipe/N`` (``O_RDONLY`` or ``O_WRONLY``) is another end of
  pipe N (ENOENT once its last open closed); a shell opens the ends in the
  children of a pipeline, then closes the one it made;
* any other open of ``/dev/pipe`` is the directory (empty: pipes have no names).

``lseek`` is ESPIPE.  Reads and writes follow :mod:`qrv.servers.pipe.pipes`; a client blocked in
a read or write waits un-replied (``_RESMGR_NOREPLY``) and is answered when
the pipe changes; a client killed meanwhile is dropped when its open closes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from qrv.lib.c import ipc
from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import (
    iofunc_attr_init,
    iofunc_close_ocb_default,
    iofunc_func_init,
    iofunc_ocb_attach,
    iofunc_open,
    iofunc_read_verify,
    iofunc_write_verify,
)
from qrv.lib.c.iofunc_types import IofuncAttr, IofuncOcb
from qrv.lib.c.msg import IoLseek, IoOpen, IoRead, IoWrite
from qrv.lib.c.proc import procmgr_ready
from qrv.lib.c.resmgr import RESMGR_NOREPLY, HandlerResult, ResmgrContext, resmgr_attach
from qrv.lib.c.stdio import eprintf
from qrv.servers.pipe.pipes import Answer, Pipe, Waiter
from qrv.spec.iomsg import (
    _IO_FLAG_MASK,
    _IO_FLAG_RD,
    _IO_FLAG_WR,
    ENOENT,
    EOK,
    ESPIPE,
    S_IFDIR,
    S_IFIFO,
    FileType,
    ResmgrFlag,
)

PATH = "/dev/pipe"
FIFO_MODE = S_IFIFO | 0o666
DIR_MODE = S_IFDIR | 0o555


@dataclass(eq=False)
class PipeAttr(IofuncAttr):
    """The attr of one pipe (its number is st_ino); `pipe` None for the directory."""

    pipe: Pipe | None = None


class PipeServer:
    def __init__(self) -> None:
        self.pipes: dict[int, PipeAttr] = {}
        self.next_number = 1
        self.dir = PipeAttr()
        iofunc_attr_init(self.dir, DIR_MODE)

    # -- connect ---------------------------------------------------------------------

    def open(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        del attr
        access = msg.ioflag & _IO_FLAG_MASK
        if msg.path == "":
            if access != _IO_FLAG_RD | _IO_FLAG_WR:
                return self._attach(ctp, msg, self.dir)
            return self._attach(ctp, msg, self._new())
        target = self.pipes.get(int(msg.path)) if msg.path.isdigit() else None
        if target is None:
            return ENOENT
        return self._attach(ctp, msg, target)

    def _new(self) -> PipeAttr:
        number = self.next_number
        self.next_number += 1
        attr = PipeAttr(pipe=Pipe(number))
        iofunc_attr_init(attr, FIFO_MODE)
        attr.inode = number
        self.pipes[number] = attr
        return attr

    def _attach(self, ctp: ResmgrContext, msg: IoOpen, attr: PipeAttr) -> HandlerResult:
        err = iofunc_open(ctp, msg, attr)
        if err != EOK:
            return err
        err = iofunc_ocb_attach(ctp, msg, IofuncOcb(attr, msg.ioflag), attr)
        if err == EOK and attr.pipe is not None:
            self._count(attr)
        return err

    # -- I/O ---------------------------------------------------------------------------

    def read(self, ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
        err = iofunc_read_verify(ctp, msg, ocb)
        if err != EOK:
            return err
        pipe = _pipe(ocb)
        if pipe is None:
            return b""  # the directory lists nothing
        data = pipe.read(msg.nbytes)
        if data is None:
            pipe.blocked_readers.append(Waiter(ctp.rcvid, ocb, nbytes=msg.nbytes))
            return RESMGR_NOREPLY
        self._settle(pipe)
        ctp.status = len(data)
        return data

    def write(self, ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
        err = iofunc_write_verify(ctp, msg, ocb)
        if err != EOK:
            return err
        pipe = _pipe(ocb)
        if pipe is None:
            return ENOENT
        n = pipe.write(msg.data)
        if n is None:
            pipe.blocked_writers.append(Waiter(ctp.rcvid, ocb, data=msg.data))
            return RESMGR_NOREPLY
        if n < 0:
            return -n
        self._settle(pipe)
        ctp.status = n
        return EOK

    def close_ocb(self, ctp: ResmgrContext, ocb: IofuncOcb) -> HandlerResult:
        iofunc_close_ocb_default(ctp, ocb)
        attr = ocb.attr
        assert isinstance(attr, PipeAttr)
        if attr.pipe is None:
            return EOK
        attr.pipe.forget(ocb)
        self._count(attr)
        self._settle(attr.pipe)
        if attr.count == 0:
            del self.pipes[attr.pipe.number]
        return EOK

    # -- internals -----------------------------------------------------------------------

    def _count(self, attr: PipeAttr) -> None:
        assert attr.pipe is not None
        attr.pipe.readers, attr.pipe.writers = attr.rcount, attr.wcount
        attr.pipe.opens = attr.count

    def _settle(self, pipe: Pipe) -> None:
        """Answer every blocked client the last change lets go on."""
        for answer in pipe.wake():
            _answer(answer)
        attr = self.pipes.get(pipe.number)
        if attr is not None:
            attr.nbytes = len(pipe.buf)


def _pipe(ocb: IofuncOcb) -> Pipe | None:
    attr = ocb.attr
    return attr.pipe if isinstance(attr, PipeAttr) else None


def _answer(a: Answer) -> None:
    with contextlib.suppress(OSError):  # the client is gone (killed): nothing to answer
        if a.err:
            ipc.MsgError(a.rcvid, a.err)
        elif a.data or not a.count:
            ipc.MsgReply(a.rcvid, len(a.data), a.data)
        else:
            ipc.MsgReply(a.rcvid, a.count)


def no_seek(ctp: ResmgrContext, msg: IoLseek, ocb: IofuncOcb) -> HandlerResult:
    """A pipe has no file offset: ESPIPE (POSIX lseek)."""
    del ctp, msg, ocb
    return ESPIPE


def main(argv: list[str]) -> int:
    if argv[1:]:
        eprintf(f"pipe: unknown argument '{argv[1]}' (usage: pipe)\n")
        return 2
    server = PipeServer()
    dpp = dispatch_create()
    resmgr_attach(dpp, None, None, FileType.ANY, 0, None, None, None)
    connect, io = iofunc_func_init()
    connect.open = server.open
    io.read, io.write, io.close_ocb = server.read, server.write, server.close_ocb
    io.lseek = no_seek
    resmgr_attach(dpp, None, PATH, FileType.ANY, ResmgrFlag.DIR, connect, io, server.dir)
    procmgr_ready()
    dispatch_loop(dpp)
    return 0

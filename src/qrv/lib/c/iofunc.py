"""``<sys/iofunc.h>``: attributes, OCBs and the default handlers (QNX ``lib/c/iofunc``).

Behaviour kept from QNX (notes §2 "Default handler behaviour"):
open checks the client's credentials (euid 0 passes; missing bits →
EACCES), O_CREAT|O_EXCL on an existing name → EEXIST, write access to a
directory → EISDIR, O_TRUNC without write access is dropped; read verify →
EBADF without ``_IO_FLAG_RD`` (write verify likewise); lseek SEEK_SET/CUR/END
with EINVAL for another whence or a negative result, EOVERFLOW for a result
beyond ``OFF_MAX`` (the offset stays where it was); devctl serves
DCMD_ALL_GETFLAGS/SETFLAGS/GETMOUNTFLAGS, anything else ENOSYS.

One deliberate difference: ``iofunc_stat`` reports ``st_size = nbytes`` for
block devices too (QNX reports 512-byte blocks there) because the seed's
``ls -l /dev`` shows 67108864 for a 64 MiB namespace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from qrv.kernel import MsgInfo
from qrv.lib.c._sys import cur
from qrv.lib.c.iofunc_attrs import (
    iofunc_chmod_default,
    iofunc_chown_default,
    iofunc_utime_default,
)
from qrv.lib.c.iofunc_types import DEFAULT_BLKSIZE, IofuncAttr, IofuncOcb
from qrv.lib.c.msg import IoDevctl, IoLseek, IoOpen, IoRead, IoStat, IoWrite
from qrv.lib.c.resmgr import (
    RESMGR_DEFAULT,
    HandlerResult,
    ResmgrConnectFuncs,
    ResmgrContext,
    ResmgrIoFuncs,
    resmgr_write_payload,
)
from qrv.spec.iomsg import (
    _IO_FLAG_RD,
    _IO_FLAG_WR,
    _IO_XTYPE_MASK,
    _IO_XTYPE_NONE,
    _IO_XTYPE_OFFSET,
    DCMD_ALL_GETFLAGS,
    DCMD_ALL_GETMOUNTFLAGS,
    DCMD_ALL_SETFLAGS,
    DEVCTL_REPLY,
    EACCES,
    EBADF,
    EEXIST,
    EINVAL,
    EISDIR,
    ENOSYS,
    EOK,
    EOVERFLOW,
    LSEEK_REPLY,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_SETFLAG,
    O_TRUNC,
    OFF_MAX,
    S_IFDIR,
    S_IFMT,
    S_IREAD,
    S_IWRITE,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    Stat,
    oflag_from_ioflag,
)

__all__ = [
    "DEFAULT_BLKSIZE",
    "IOFUNC_ATTR_ATIME",
    "IOFUNC_ATTR_CTIME",
    "IOFUNC_ATTR_MTIME",
    "IofuncAttr",
    "IofuncOcb",
    "devctl_reply",
    "iofunc_attr_init",
    "iofunc_check_access",
    "iofunc_close_ocb_default",
    "iofunc_devctl_default",
    "iofunc_func_init",
    "iofunc_lseek_default",
    "iofunc_ocb_attach",
    "iofunc_open",
    "iofunc_open_default",
    "iofunc_read_at",
    "iofunc_read_default",
    "iofunc_read_verify",
    "iofunc_stat",
    "iofunc_stat_default",
    "iofunc_write_at",
    "iofunc_write_default",
    "iofunc_write_from",
    "iofunc_write_verify",
]

IOFUNC_ATTR_MTIME = 0x1
IOFUNC_ATTR_ATIME = 0x2
IOFUNC_ATTR_CTIME = 0x4
_INT = 4
_GROUP_SHIFT, _OTHER_SHIFT = 3, 6


def iofunc_attr_init(
    attr: IofuncAttr, mode: int, dattr: IofuncAttr | None = None, info: MsgInfo | None = None
) -> None:
    """Reset `attr`: mode, nlink 1, owner from the client (`info`) or the caller, times now."""
    del dattr
    now = int(time.time())
    if info is not None:
        uid, gid = info.uid, info.gid
    else:
        p = cur().process
        uid, gid = p.uid, p.gid
    attr.mode, attr.uid, attr.gid, attr.nlink = mode, uid, gid, 1
    attr.nbytes = attr.inode = attr.rdev = 0
    attr.count = attr.rcount = attr.wcount = 0
    attr.mtime = attr.atime = attr.ctime = now
    attr.flags = IOFUNC_ATTR_MTIME | IOFUNC_ATTR_ATIME | IOFUNC_ATTR_CTIME


def iofunc_func_init() -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
    """Tables filled with the defaults (``iofunc_func_init.c``); `msg` and `space`
    stay empty, and so do the connect slots other than open (ENOSYS)."""
    connect = ResmgrConnectFuncs(open=iofunc_open_default)
    io = ResmgrIoFuncs(
        read=iofunc_read_default,
        write=iofunc_write_default,
        close_ocb=iofunc_close_ocb_default,
        stat=iofunc_stat_default,
        devctl=iofunc_devctl_default,
        lseek=iofunc_lseek_default,
        chmod=iofunc_chmod_default,
        chown=iofunc_chown_default,
        utime=iofunc_utime_default,
    )
    return connect, io


def iofunc_check_access(ctp: ResmgrContext, attr: IofuncAttr, check: int) -> int:
    """EOK if the client may access `attr` for `check` (S_IREAD | S_IWRITE ...)."""
    if ctp.info is None:
        return ENOSYS
    if ctp.info.uid == 0:
        return EOK
    if ctp.info.uid == attr.uid:
        granted = attr.mode & (S_IREAD | S_IWRITE | 0o100)
    elif ctp.info.gid == attr.gid:
        granted = (attr.mode << _GROUP_SHIFT) & (S_IREAD | S_IWRITE | 0o100)
    else:
        granted = (attr.mode << _OTHER_SHIFT) & (S_IREAD | S_IWRITE | 0o100)
    return EOK if check & ~granted == 0 else EACCES


def iofunc_open(ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> int:
    """``_iofunc_open``: the checks of an open of an existing `attr`."""
    oflag = msg.ioflag
    if oflag & O_CREAT and oflag & O_EXCL:
        return EEXIST
    check = 0
    if msg.ioflag & _IO_FLAG_RD:
        check |= S_IREAD
    if msg.ioflag & _IO_FLAG_WR:
        if attr.mode & S_IFMT == S_IFDIR:
            return EISDIR
        check |= S_IWRITE
    return iofunc_check_access(ctp, attr, check)


def iofunc_ocb_attach(ctp: ResmgrContext, msg: IoOpen, ocb: IofuncOcb, attr: IofuncAttr) -> int:
    """Bind `ocb` to the client's connection and count the open."""
    ioflag = msg.ioflag
    if not ioflag & _IO_FLAG_WR:
        ioflag &= ~O_TRUNC  # O_TRUNC without write access is dropped
    ocb.attr, ocb.ioflag, ocb.offset = attr, ioflag, 0
    attr.count += 1
    if ioflag & _IO_FLAG_RD:
        attr.rcount += 1
    if ioflag & _IO_FLAG_WR:
        attr.wcount += 1
    ctp.bind_ocb(ocb)
    return EOK


def iofunc_open_default(ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
    err = iofunc_open(ctp, msg, attr)
    if err != EOK:
        return err
    return iofunc_ocb_attach(ctp, msg, IofuncOcb(attr, msg.ioflag), attr)


def iofunc_close_ocb_default(ctp: ResmgrContext, ocb: IofuncOcb) -> HandlerResult:
    del ctp
    attr = ocb.attr
    attr.count = max(0, attr.count - 1)
    if ocb.ioflag & _IO_FLAG_RD:
        attr.rcount = max(0, attr.rcount - 1)
    if ocb.ioflag & _IO_FLAG_WR:
        attr.wcount = max(0, attr.wcount - 1)
    return EOK


def iofunc_read_verify(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> int:
    del ctp
    if not ocb.ioflag & _IO_FLAG_RD:
        return EBADF
    if msg.xtype & _IO_XTYPE_MASK not in (_IO_XTYPE_NONE, _IO_XTYPE_OFFSET):
        return ENOSYS
    return EOK


def iofunc_write_verify(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> int:
    del ctp
    if not ocb.ioflag & _IO_FLAG_WR:
        return EBADF
    if msg.xtype & _IO_XTYPE_MASK not in (_IO_XTYPE_NONE, _IO_XTYPE_OFFSET):
        return ENOSYS
    return EOK


def iofunc_read_at(
    ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb, read_at: Callable[[int, int], bytes]
) -> HandlerResult:
    """A read handler's frame: verify, then ``read_at(offset, nbytes)`` at the message's
    own offset (pread, ``_IO_XTYPE_OFFSET``) or else the OCB's, which then moves on
    past the bytes returned (QNX's ``_IO_SET_READ_NBYTES`` and ``ocb->offset`` update).

    The offset and count are never negative: the message parser refuses those and
    lseek never sets one.  `read_at` clips to the end (EOF: ``b""``) and may raise
    OSError for the reply's errno.
    """
    err = iofunc_read_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    offset = ocb.offset if msg.offset is None else msg.offset
    data = read_at(offset, msg.nbytes)
    if msg.offset is None:
        ocb.offset = offset + len(data)
    ctp.status = len(data)
    return data


def iofunc_write_at(
    ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb, write_at: Callable[[int, bytes], int]
) -> HandlerResult:
    """A write handler's frame: verify, gather the whole payload, then
    ``write_at(offset, data) -> bytes written`` at the message's own offset (pwrite)
    or else the OCB's, which then moves on past the bytes written.  An OCB opened
    ``O_APPEND`` writes at ``ocb.attr.nbytes`` whatever the message says, as Linux's
    pwrite does (keep ``nbytes`` current before calling), and its offset ends there.
    """
    return iofunc_write_from(ctp, msg, ocb, resmgr_write_payload, write_at)


Payload = TypeVar("Payload")


def iofunc_write_from(
    ctp: ResmgrContext,
    msg: IoWrite,
    ocb: IofuncOcb,
    payload: Callable[[ResmgrContext, IoWrite], Payload],
    write_at: Callable[[int, Payload], int],
) -> HandlerResult:
    """:func:`iofunc_write_at` with the data as `payload(ctp, msg)` gives them, e.g.
    :func:`qrv.lib.c.resmgr.resmgr_write_source`'s, which copies them only where they go."""
    err = iofunc_write_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    data = payload(ctp, msg)
    appending = bool(ocb.ioflag & O_APPEND)
    if appending:
        offset = ocb.attr.nbytes
    else:
        offset = ocb.offset if msg.offset is None else msg.offset
    done = write_at(offset, data)
    if msg.offset is None or appending:
        ocb.offset = offset + done
    ctp.status = done
    return EOK


def iofunc_read_default(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    """Verify, then reply 0 bytes (``iofunc_read_default.c``)."""
    err = iofunc_read_verify(ctp, msg, ocb)
    return err if err != EOK else b""


def iofunc_write_default(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
    """Verify, then report 0 bytes written."""
    err = iofunc_write_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    ctp.status = 0
    return EOK


def iofunc_lseek_default(ctp: ResmgrContext, msg: IoLseek, ocb: IofuncOcb) -> HandlerResult:
    if msg.whence == SEEK_SET:
        base = 0
    elif msg.whence == SEEK_CUR:
        base = ocb.offset
    elif msg.whence == SEEK_END:
        base = ocb.attr.nbytes
    else:
        return EINVAL
    new = base + msg.offset
    if new < 0:
        return EINVAL
    if new > OFF_MAX:
        return EOVERFLOW  # POSIX: the offset cannot be represented in an off_t
    ocb.offset = new
    return LSEEK_REPLY.pack(new)


def iofunc_stat(ctp: ResmgrContext, attr: IofuncAttr) -> Stat:
    """``iofunc_stat``, with st_size in bytes for every type (see the module note)."""
    del ctp
    blksize = max(attr.blocksize, DEFAULT_BLKSIZE)
    blocks = -(-attr.nbytes // DEFAULT_BLKSIZE)
    return Stat(
        ino=attr.inode,
        size=attr.nbytes,
        dev=0,
        rdev=attr.rdev,
        uid=attr.uid,
        gid=attr.gid,
        mtime=attr.mtime,
        atime=attr.atime,
        ctime=attr.ctime,
        mode=attr.mode,
        nlink=attr.nlink,
        blksize=blksize,
        blocks=blocks,
    )


def iofunc_stat_default(ctp: ResmgrContext, msg: IoStat, ocb: IofuncOcb) -> HandlerResult:
    del msg
    return iofunc_stat(ctp, ocb.attr).pack()


def devctl_reply(ctp: ResmgrContext, data: bytes, ret_val: int = 0) -> bytes:
    """The ``_io_devctl_reply`` header + data, as a handler's return value."""
    del ctp
    return DEVCTL_REPLY.pack(0, ret_val, len(data), 0) + data


def iofunc_devctl_default(ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb) -> HandlerResult:
    if msg.dcmd == DCMD_ALL_GETFLAGS:
        return devctl_reply(ctp, oflag_from_ioflag(ocb.ioflag).to_bytes(_INT, "little"))
    if msg.dcmd == DCMD_ALL_SETFLAGS:
        if len(msg.data) < _INT:
            return EINVAL
        flags = int.from_bytes(msg.data[:_INT], "little")
        ocb.ioflag = (ocb.ioflag & ~O_SETFLAG) | (flags & O_SETFLAG)
        return devctl_reply(ctp, b"")
    if msg.dcmd == DCMD_ALL_GETMOUNTFLAGS:
        return devctl_reply(ctp, (0).to_bytes(_INT, "little"))
    return RESMGR_DEFAULT

"""Message-passing calls of ``<sys/neutrino.h>``, acting on the calling process.

Failures raise ``OSError`` with the kernel's errno (EBADF on a stale coid,
ESRCH when the server died while we were blocked, ...); see docs/kernel-api.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from qrv.kernel import Kernel, MsgInfo
from qrv.lib.c._sys import K, cur, running
from qrv.spec.iomsg import _NTO_SIDE_CHANNEL, ChannelFlag, Pulse, PulseCode

__all__ = [
    "DEFAULT_RBYTES",
    "_NTO_SIDE_CHANNEL",
    "ChannelCreate",
    "ChannelDestroy",
    "ChannelFlag",
    "ConnectAttach",
    "ConnectDetach",
    "MsgError",
    "MsgInfo",
    "MsgRead",
    "MsgReadInto",
    "MsgReceive",
    "MsgReply",
    "MsgReplyv",
    "MsgSend",
    "MsgSendPulse",
    "MsgSendv",
    "MsgWrite",
    "Pulse",
    "PulseCode",
]

DEFAULT_RBYTES = 65536
"""Default size of a reply (client) or receive (server) buffer."""


def ChannelCreate(flags: int = 0) -> int:
    t = cur()
    return K(t).ipc.channel_create(t, flags)


def ChannelDestroy(chid: int) -> None:
    t = cur()
    K(t).ipc.channel_destroy(t, chid)


def ConnectAttach(nd: int, pid: int, chid: int, index: int = 0, flags: int = 0) -> int:
    """A connection to channel `chid` of process `pid` (node `nd` must be 0, the local node)."""
    del nd, flags
    t = cur()
    return K(t).ipc.connect_attach(t, pid, chid, index, 0)


def ConnectDetach(coid: int) -> None:
    t = cur()
    K(t).ipc.connect_detach(t, coid)


def MsgSend(
    coid: int, smsg: bytes, rbytes: int = DEFAULT_RBYTES, timeout: float | None = None
) -> tuple[int, bytes]:
    """Send and block until replied: (status, reply of at most `rbytes` bytes)."""
    t = running() or cur()  # cur() raises ESRCH outside a process
    k: Kernel = t.process.kernel
    return k.ipc.msg_sendv(t, coid, (smsg,), rbytes, timeout)


def MsgSendv(
    coid: int,
    siov: Sequence[bytes | bytearray | memoryview],
    rbytes: int = DEFAULT_RBYTES,
    timeout: float | None = None,
) -> tuple[int, bytes]:
    """Gathered send: the parts are sent as one message, not joined (the server's
    MsgReceive/MsgRead/MsgReadInto copy from them; keep them unchanged until the reply)."""
    t = cur()
    return K(t).ipc.msg_sendv(t, coid, siov, rbytes, timeout)


def MsgReceive(
    chid: int, rbytes: int = DEFAULT_RBYTES, timeout: float | None = None
) -> tuple[int, bytes, MsgInfo | None]:
    """(rcvid, message, info); rcvid 0 and info None for a pulse (bytes = packed _pulse)."""
    t = running() or cur()  # cur() raises ESRCH outside a process
    k: Kernel = t.process.kernel
    return k.ipc.msg_receive(t, chid, rbytes, timeout)


def MsgReply(rcvid: int, status: int = 0, msg: bytes | memoryview = b"") -> None:
    t = running() or cur()  # cur() raises ESRCH outside a process
    k: Kernel = t.process.kernel
    k.ipc.msg_reply(t, rcvid, status, (msg,))


def MsgReplyv(rcvid: int, status: int, parts: Sequence[bytes | memoryview]) -> None:
    t = cur()
    K(t).ipc.msg_reply(t, rcvid, status, parts)


def MsgError(rcvid: int, err: int) -> None:
    t = cur()
    K(t).ipc.msg_error(t, rcvid, err)


def MsgRead(rcvid: int, nbytes: int, offset: int) -> bytes:
    """`nbytes` of the client's message from `offset` (clipped to its end), as bytes."""
    t = cur()
    return K(t).ipc.msg_read(t, rcvid, nbytes, offset)


def MsgReadInto(rcvid: int, msg: bytearray | memoryview, nbytes: int, offset: int) -> int:
    """QNX ``MsgRead(rcvid, msg, bytes, offset)``: copy `nbytes` of the client's message
    from `offset` into the writable buffer `msg` (one copy, e.g. into a DMA buffer);
    the number copied (fewer past the message's end).  EFAULT if `msg` cannot take
    `nbytes`; EINVAL for a negative count or offset; ESRCH if the client is gone."""
    t = cur()
    return K(t).ipc.msg_read_into(t, rcvid, msg, nbytes, offset)


def MsgWrite(rcvid: int, data: bytes, offset: int) -> int:
    t = cur()
    return K(t).ipc.msg_write(t, rcvid, data, offset)


def MsgSendPulse(coid: int, priority: int, code: int, value: int) -> None:
    t = cur()
    K(t).ipc.msg_send_pulse(t, coid, priority, code, value)

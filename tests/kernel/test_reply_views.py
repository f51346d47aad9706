"""A reply of a view of the server's buffer (MsgReply / MsgReplyv of an iov): the kernel
copies it once, into the client's reply; the server may reuse its buffer at once."""

from __future__ import annotations

from qrv.lib.c import ipc
from tests.kernel.test_ipc import start_server


def test_a_view_reply_is_copied_once_and_the_buffer_reused(sysk) -> None:
    k, _ = sysk
    buffer = bytearray(b"0123456789")

    def server(chid: int) -> int:
        while True:
            rcvid, msg, _info = ipc.MsgReceive(chid)
            view = memoryview(buffer)
            if msg == b"view":
                ipc.MsgReply(rcvid, 0, view[2:6])
            elif msg == b"iov":
                ipc.MsgReplyv(rcvid, 7, [b"<", view[:3], b">", view[7:]])
            buffer[:] = b"reused....".ljust(10, b".")  # as a driver's next command does

    pid, chid = start_server(k, server)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        status, reply = ipc.MsgSend(coid, b"view", rbytes=64)
        assert (status, reply, type(reply)) == (0, b"2345", bytes)
        buffer[:] = b"abcdefghij"
        assert ipc.MsgSend(coid, b"iov", rbytes=64) == (7, b"<abc>hij")
        buffer[:] = b"0123456789"
        assert ipc.MsgSend(coid, b"view", rbytes=3) == (0, b"234")  # clipped to the buffer

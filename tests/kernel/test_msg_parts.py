"""A message kept as the sender's parts: MsgReceive, MsgRead and MsgReadInto copy from
them at any offset (QNX ``MsgRead(rcvid, msg, bytes, offset)``, ker_message.c).

Expected bytes come from joining the parts in the test (plain Python), errnos from
QNX's documentation of MsgRead (EFAULT: a fault on the receiver's buffer; ESRCH: the
rcvid is not REPLY-blocked, e.g. its client died).
"""

from __future__ import annotations

import array
import errno
import queue
import random
from collections.abc import Callable

from qrv.kernel import Kernel
from qrv.lib.c import ipc
from tests.kernel.system import KEvent
from tests.kernel.test_ipc import T, start_server

Op = Callable[[int], object]


def serve(k: Kernel, ops: list[Op], rbytes: int = 8) -> tuple[int, int, queue.Queue[object]]:
    """A server that receives one message (into `rbytes`), runs each op on its rcvid,
    puts each result (an OSError's errno as ``("errno", n)``), then replies."""
    results: queue.Queue[object] = queue.Queue()

    def body(chid: int) -> int:
        rcvid, msg, info = ipc.MsgReceive(chid, rbytes=rbytes)
        assert info is not None
        results.put((msg, info.msglen, info.srcmsglen))
        for op in ops:
            try:
                results.put(op(rcvid))
            except OSError as exc:
                results.put(("errno", exc.errno))
        ipc.MsgReply(rcvid, 0, b"ok")
        return 0

    pid, chid = start_server(k, body)
    return pid, chid, results


def read_into(size: int, nbytes: int, offset: int, fill: int = 0xEE) -> Op:
    """MsgReadInto a `size`-byte buffer of `fill` bytes: (count, the whole buffer)."""

    def op(rcvid: int) -> tuple[int, bytes]:
        buf = bytearray([fill]) * size
        n = ipc.MsgReadInto(rcvid, buf, nbytes, offset)
        return n, bytes(buf)

    return op


def test_parts_are_received_and_read_at_every_offset(sysk) -> None:
    k, _ = sysk
    ints = array.array("I", [0x64636261, 0x68676665])  # a part that is not bytes-sized items
    parts = [b"HEAD", bytearray(b"0123456789"), memoryview(b"abcdefghij")[2:7], ints]
    whole = b"HEAD0123456789cdefg" + ints.tobytes()
    ops: list[Op] = [
        lambda r: ipc.MsgRead(r, 6, 2),  # across the first two parts
        lambda r: ipc.MsgRead(r, 100, 10),  # clipped at the end
        lambda r: ipc.MsgRead(r, 4, len(whole)),  # at the end: nothing
        lambda r: ipc.MsgRead(r, 4, len(whole) + 5),  # past the end: nothing
        read_into(32, 32, 0),  # all of it, into a larger buffer: the rest untouched
        read_into(8, 5, 12),  # fewer than the buffer holds, across three parts
        read_into(8, 8, len(whole) - 3),  # a short read at the end
        read_into(8, 8, len(whole) + 1),  # past the end: 0, buffer untouched
        read_into(8, 0, 3),  # nothing asked
    ]
    pid, chid, results = serve(k, ops)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        assert ipc.MsgSendv(coid, parts, 16) == (0, b"ok")
    assert results.get(timeout=T) == (whole[:8], 8, len(whole))
    assert results.get(timeout=T) == whole[2:8]
    assert results.get(timeout=T) == whole[10:]
    assert results.get(timeout=T) == b""
    assert results.get(timeout=T) == b""
    assert results.get(timeout=T) == (len(whole), whole + b"\xee" * (32 - len(whole)))
    assert results.get(timeout=T) == (5, whole[12:17] + b"\xee" * 3)
    assert results.get(timeout=T) == (3, whole[-3:] + b"\xee" * 5)
    assert results.get(timeout=T) == (0, b"\xee" * 8)
    assert results.get(timeout=T) == (0, b"\xee" * 8)


def test_read_into_refuses_what_its_buffer_cannot_take(sysk) -> None:
    k, _ = sysk
    efault, einval = ("errno", errno.EFAULT), ("errno", errno.EINVAL)

    def into(buf: object, nbytes: int, offset: int = 0) -> Op:
        return lambda r: ipc.MsgReadInto(r, buf, nbytes, offset)  # type: ignore[arg-type]

    ops: list[Op] = [
        into(bytearray(4), 5),  # more than the buffer holds
        into(b"read-only", 4),  # not writable
        into(memoryview(bytearray(8))[::2], 2),  # not contiguous
        into(object(), 1),  # not a buffer at all
        into(bytearray(4), -1),
        into(bytearray(4), 4, -1),
        lambda r: ipc.MsgReadInto(r + 1000, bytearray(4), 4, 0),  # no such rcvid
        into(array.array("I", [0, 0]), 8, 1),  # 8 bytes fit in two 4-byte items
    ]
    pid, chid, results = serve(k, ops)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        ipc.MsgSendv(coid, [b"0123", b"456789"], 16)
    results.get(timeout=T)  # the receive
    for want in (efault, efault, efault, efault, einval, einval, ("errno", errno.ESRCH)):
        assert results.get(timeout=T) == want
    assert results.get(timeout=T) == 8


def test_random_splits_read_back_as_the_joined_message(sysk) -> None:
    k, _ = sysk
    rng = random.Random(16)
    whole = rng.randbytes(3000)
    cuts = sorted(rng.sample(range(1, len(whole)), 12))
    parts = [whole[a:b] for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True)]
    shapes = [(rng.randrange(0, 3100), rng.randrange(0, 600)) for _ in range(60)]

    def sweep(rcvid: int) -> list[tuple[bytes, int, bytes]]:
        out = []
        for offset, nbytes in shapes:
            buf = bytearray(nbytes)
            n = ipc.MsgReadInto(rcvid, buf, nbytes, offset)
            out.append((ipc.MsgRead(rcvid, nbytes, offset), n, bytes(buf[:n])))
        return out

    pid, chid, results = serve(k, [sweep], rbytes=1000)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        ipc.MsgSendv(coid, parts, 16)
    assert results.get(timeout=T) == (whole[:1000], 1000, 3000)
    for (offset, nbytes), (read, n, into) in zip(shapes, results.get(timeout=T), strict=True):
        want = whole[offset : offset + nbytes]
        assert (read, n, into) == (want, len(want), want), (offset, nbytes)


def test_a_sent_bytearray_is_let_go_after_the_reply(sysk) -> None:
    """The kernel keeps a view of the sender's buffer only while the message is in flight:
    afterwards the sender may resize it (a live view would make that a BufferError)."""
    k, _ = sysk
    pid, chid, results = serve(k, [lambda r: ipc.MsgRead(r, 3, 1)])
    buf = bytearray(b"abcdef")
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        ipc.MsgSendv(coid, [buf], 16)
    buf.extend(b"more")
    assert results.get(timeout=T) == (b"abcdef", 6, 6)
    assert results.get(timeout=T) == b"bcd"


def test_read_into_from_a_dead_sender_is_esrch_and_leaves_the_buffer(sysk) -> None:
    k, _ = sysk
    got: queue.Queue[int] = queue.Queue()
    result: queue.Queue[tuple[int, bytes]] = queue.Queue()
    go = KEvent()

    def body(chid: int) -> int:
        rcvid, _msg, _ = ipc.MsgReceive(chid, rbytes=4)
        got.put(rcvid)
        go.wait(T)
        buf = bytearray(b"untouched")
        try:
            ipc.MsgReadInto(rcvid, buf, 9, 0)
        except OSError as exc:
            result.put((exc.errno or 0, bytes(buf)))
        return 0

    pid, chid = start_server(k, body)
    sent = [b"head", b"payload"]
    cpid = k.spawn(lambda argv: ipc.MsgSendv(ipc.ConnectAttach(0, pid, chid), sent)[0], ["c"])
    got.get(timeout=T)
    k.exit_process(k.process(cpid), -9)  # the client dies while REPLY-blocked
    assert k.waitpid(cpid, T) == -9
    go.set()
    assert result.get(timeout=T) == (errno.ESRCH, b"untouched")

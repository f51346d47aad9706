"""Message passing: ordering, states, many clients, errors, crash teardown, pulses.

Expected errnos are QNX's (reference notes §1 "Error semantics", from
ker_channel.c / ker_fastmsg.c / ker_message.c), not read back from the code.
"""

from __future__ import annotations

import errno
import queue
import time

import pytest

from qrv.kernel import EXIT_CRASHED, Kernel
from qrv.lib.c import ipc, proc
from qrv.spec.iomsg import _NTO_SIDE_CHANNEL, ChannelFlag, Pulse, PulseCode
from tests.kernel.system import Console, KEvent, pause

T = 5.0  # every wait in these tests is bounded


def wait_for(pred, timeout: float = T) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        pause(0.002)


def thread_state(k: Kernel, pid: int, tid: int = 1) -> tuple[str, str]:
    for p in k.snapshot():
        if p.pid == pid:
            for t in p.threads:
                if t.tid == tid:
                    return t.state, t.blocked
    return "GONE", ""


def start_server(k: Kernel, body, flags: int = 0) -> tuple[int, int]:
    """Spawn a process that creates a channel, reports it, then runs body(chid)."""
    got: queue.Queue[int] = queue.Queue()

    def main(argv: list[str]) -> int:
        chid = ipc.ChannelCreate(flags)
        got.put(chid)
        return body(chid)

    pid = k.spawn(main, ["server"])
    return pid, got.get(timeout=T)


def echo_upper(chid: int) -> int:
    while True:
        rcvid, msg, _info = ipc.MsgReceive(chid)
        if rcvid:
            ipc.MsgReply(rcvid, len(msg), msg.upper())


def test_send_receive_reply_round_trip_and_ordering(sysk) -> None:
    k, _ = sysk
    pid, chid = start_server(k, echo_upper)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        assert coid >= 3  # fds 0..2 are the console
        for i in range(50):
            status, reply = ipc.MsgSend(coid, f"msg {i}".encode())
            assert (status, reply) == (len(f"msg {i}"), f"MSG {i}".encode())
        assert ipc.MsgSendv(coid, [b"ab", b"cd"]) == (4, b"ABCD")


def test_reply_buffer_is_filled_by_writes_and_replies_in_any_order(sysk) -> None:
    """QNX MsgWrite/MsgReply: bytes land at their offset, clipped to the client's buffer;
    a reply is the bytes given, not a buffer the server can still change."""
    k, _ = sysk

    def server(chid: int) -> int:
        while True:
            rcvid, msg, _info = ipc.MsgReceive(chid)
            if msg == b"writes":  # status: the bytes each MsgWrite says it wrote
                wrote = ipc.MsgWrite(rcvid, b"AB", 0)
                wrote += ipc.MsgWrite(rcvid, b"xyz", 1)  # overwrites B, extends
                ipc.MsgReply(rcvid, wrote, b"")
            elif msg == b"write then reply":  # the reply overwrites only its own length
                ipc.MsgWrite(rcvid, b"ABCD", 0)
                ipc.MsgReply(rcvid, 0, b"xy")
            elif msg == b"mutable":
                buf = bytearray(b"mutable!")
                ipc.MsgReply(rcvid, 0, buf)  # type: ignore[arg-type]
                buf[:] = b"CHANGED!"
            else:
                ipc.MsgReply(rcvid, 1, b"0123456789")

    pid, chid = start_server(k, server)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid, 0, 0)
        assert ipc.MsgSend(coid, b"long", rbytes=4) == (1, b"0123")
        assert ipc.MsgSend(coid, b"long", rbytes=64) == (1, b"0123456789")
        assert ipc.MsgSend(coid, b"writes", rbytes=64) == (5, b"Axyz")
        assert ipc.MsgSend(coid, b"writes", rbytes=3) == (4, b"Axy")
        assert ipc.MsgSend(coid, b"write then reply", rbytes=64) == (0, b"xyCD")
        assert ipc.MsgSend(coid, b"mutable", rbytes=64) == (0, b"mutable!")


def test_messages_are_received_in_send_order(sysk) -> None:
    k, _ = sysk
    order: list[bytes] = []
    release = KEvent()

    def server(chid: int) -> int:
        release.wait(T)  # let every client queue up first (SEND-blocked)
        while True:
            rcvid, msg, _ = ipc.MsgReceive(chid)
            order.append(msg)
            ipc.MsgReply(rcvid, 0, b"")

    pid, chid = start_server(k, server)
    clients = []
    for i in range(5):

        def client(argv: list[str], i: int = i) -> int:
            ipc.MsgSend(ipc.ConnectAttach(0, pid, chid), f"{i}".encode())
            return 0

        cpid = k.spawn(client, [f"c{i}"])
        wait_for(lambda cpid=cpid: thread_state(k, cpid)[0] == "SEND")
        assert thread_state(k, cpid) == ("SEND", str(pid))
        clients.append(cpid)
    release.set()
    for cpid in clients:
        assert k.waitpid(cpid, T) == 0
    assert order == [b"0", b"1", b"2", b"3", b"4"]


def test_states_send_reply_ready_and_truncation(sysk) -> None:
    k, _ = sysk
    received: queue.Queue[tuple[int, bytes, object]] = queue.Queue()
    go = KEvent()

    def server(chid: int) -> int:
        go.wait(T)
        rcvid, msg, info = ipc.MsgReceive(chid, rbytes=4)
        received.put((rcvid, msg, info))
        go.clear()
        go.wait(T)
        assert ipc.MsgRead(rcvid, 3, 5) == b"567"
        assert ipc.MsgWrite(rcvid, b"XY", 6) == 2
        ipc.MsgReply(rcvid, 7, b"0123456789")  # longer than the client's 8 bytes
        return 0

    pid, chid = start_server(k, server)
    result: queue.Queue[tuple[int, bytes]] = queue.Queue()

    def client(argv: list[str]) -> int:
        result.put(ipc.MsgSend(ipc.ConnectAttach(0, pid, chid), b"0123456789", rbytes=8))
        return 0

    cpid = k.spawn(client, ["client"])
    wait_for(lambda: thread_state(k, cpid)[0] == "SEND")
    go.set()
    rcvid, msg, info = received.get(timeout=T)
    assert rcvid > 0 and msg == b"0123"  # receive length = min of both buffers
    assert info.srcmsglen == 10 and info.msglen == 4 and info.dstmsglen == 8
    assert info.pid == cpid
    assert thread_state(k, cpid) == ("REPLY", str(pid))
    go.set()
    assert result.get(timeout=T) == (7, b"01234567")
    assert k.waitpid(cpid, T) == 0


def test_receive_blocked_server_shows_chid(sysk) -> None:
    k, _ = sysk
    pid, chid = start_server(k, echo_upper)
    wait_for(lambda: thread_state(k, pid)[0] == "RECEIVE")
    assert thread_state(k, pid) == ("RECEIVE", str(chid))


def test_many_clients_on_one_channel(sysk) -> None:
    k, _ = sysk
    pid, chid = start_server(k, echo_upper)
    n_clients, n_msgs = 12, 40

    def client(argv: list[str]) -> int:
        coid = ipc.ConnectAttach(0, pid, chid)
        for j in range(n_msgs):
            msg = f"{argv[0]}-{j}".encode()
            if ipc.MsgSend(coid, msg) != (len(msg), msg.upper()):
                return 1
        return 0

    pids = [k.spawn(client, [f"client{i}"]) for i in range(n_clients)]
    assert [k.waitpid(p, 30) for p in pids] == [0] * n_clients


def test_error_replies(sysk) -> None:
    k, _ = sysk
    rcvids: queue.Queue[int] = queue.Queue()

    def server(chid: int) -> int:
        while True:
            rcvid, msg, _ = ipc.MsgReceive(chid)
            if msg == b"eacces":
                ipc.MsgError(rcvid, errno.EACCES)
            elif msg == b"eok":
                ipc.MsgError(rcvid, 0)
            else:
                ipc.MsgReply(rcvid, 1, b"x")
                rcvids.put(rcvid)

    pid, chid = start_server(k, server)
    with k.adopt("client"):
        coid = ipc.ConnectAttach(0, pid, chid)
        with pytest.raises(OSError) as ei:
            ipc.MsgSend(coid, b"eacces")
        assert ei.value.errno == errno.EACCES
        assert ipc.MsgSend(coid, b"eok") == (0, b"")
        assert ipc.MsgSend(coid, b"other") == (1, b"x")
    old = rcvids.get(timeout=T)

    def replier(chid2: int) -> int:
        for bad in (old, 999_999, 0):
            try:
                ipc.MsgReply(bad, 0, b"")
            except OSError as exc:
                if exc.errno != errno.ESRCH:
                    return 2
            else:
                return 1
        return 0

    rpid, _ = start_server(k, replier)
    assert k.waitpid(rpid, T) == 0  # replied-to, unknown and pulse rcvids → ESRCH


def test_bad_coid_and_bad_connect_attach(sysk) -> None:
    k, _ = sysk
    pid, chid = start_server(k, echo_upper)
    with k.adopt("client"):
        for call in (lambda: ipc.MsgSend(77, b"x"), lambda: ipc.ConnectDetach(77)):
            with pytest.raises(OSError) as ei:
                call()
            assert ei.value.errno == errno.EBADF
        for bad_pid, bad_chid in ((pid, chid + 5), (9999, 1)):
            with pytest.raises(OSError) as ei:
                ipc.ConnectAttach(0, bad_pid, bad_chid)
            assert ei.value.errno == errno.ESRCH
        side = ipc.ConnectAttach(0, pid, chid, _NTO_SIDE_CHANNEL)
        assert side >= _NTO_SIDE_CHANNEL


def _crash_after(event: KEvent, receive: bool):
    def body(chid: int) -> int:
        if receive:
            ipc.MsgReceive(chid)  # the client is now REPLY-blocked
        event.wait(T)
        raise RuntimeError("server bug")

    return body


@pytest.mark.parametrize("receive", [False, True], ids=["send-blocked", "reply-blocked"])
def test_server_crash_unblocks_clients_with_esrch_then_ebadf(sysk, receive: bool) -> None:
    k, console = sysk
    crash = KEvent()
    pid, chid = start_server(k, _crash_after(crash, receive))
    outcome: queue.Queue[object] = queue.Queue()

    def client(argv: list[str]) -> int:
        coid = ipc.ConnectAttach(0, pid, chid)
        for _ in range(2):
            try:
                ipc.MsgSend(coid, b"hello")
                outcome.put("replied")
            except OSError as exc:
                outcome.put(exc.errno)
        return 0

    cpid = k.spawn(client, ["client"])
    want = "REPLY" if receive else "SEND"
    wait_for(lambda: thread_state(k, cpid)[0] == want)
    crash.set()
    assert outcome.get(timeout=T) == errno.ESRCH  # in flight
    assert outcome.get(timeout=T) == errno.EBADF  # later send on the stale coid
    assert k.waitpid(pid, T) == EXIT_CRASHED
    assert b"server bug" in console.stderr.getvalue()
    with k.adopt("late"), pytest.raises(OSError) as ei:
        ipc.ConnectAttach(0, pid, chid)
    assert ei.value.errno == errno.ESRCH


def test_channel_destroy_wakes_receivers_with_esrch(sysk) -> None:
    k, _ = sysk
    seen: queue.Queue[int] = queue.Queue()

    def main(argv: list[str]) -> int:
        chid = ipc.ChannelCreate()

        def receiver() -> None:
            try:
                ipc.MsgReceive(chid)
            except OSError as exc:
                seen.put(exc.errno or 0)

        tid = proc.pthread_create(receiver)
        wait_for(lambda: thread_state(k, proc.getpid(), tid)[0] == "RECEIVE")
        ipc.ChannelDestroy(chid)
        proc.pthread_join(tid, T)
        return 0

    assert k.waitpid(k.spawn(main, ["p"]), T) == 0
    assert seen.get(timeout=T) == errno.ESRCH


def test_connect_detach_unblocks_own_threads_with_ebadf(sysk) -> None:
    k, _ = sysk
    never = KEvent()
    pid, chid = start_server(k, lambda chid: int(never.wait(T)))
    seen: queue.Queue[int] = queue.Queue()

    def main(argv: list[str]) -> int:
        coid = ipc.ConnectAttach(0, pid, chid)

        def sender() -> None:
            try:
                ipc.MsgSend(coid, b"x")
            except OSError as exc:
                seen.put(exc.errno or 0)

        tid = proc.pthread_create(sender)
        wait_for(lambda: thread_state(k, proc.getpid(), tid)[0] == "SEND")
        ipc.ConnectDetach(coid)
        proc.pthread_join(tid, T)
        return 0

    assert k.waitpid(k.spawn(main, ["p"]), T) == 0
    assert seen.get(timeout=T) == errno.EBADF
    never.set()


def test_timeouts(sysk) -> None:
    k, _ = sysk
    never = KEvent()
    pid, chid = start_server(k, lambda chid: int(never.wait(T)))
    with k.adopt("client"):
        mine = ipc.ChannelCreate()
        for call in (
            lambda: ipc.MsgReceive(mine, timeout=0.05),
            lambda: ipc.MsgSend(ipc.ConnectAttach(0, pid, chid), b"x", timeout=0.05),
        ):
            with pytest.raises(OSError) as ei:
                call()
            assert ei.value.errno == errno.ETIMEDOUT
    never.set()


def test_pulses_queue_and_arrive_as_rcvid_zero(sysk) -> None:
    k, _ = sysk
    with k.adopt("p") as p:
        chid = ipc.ChannelCreate()
        coid = ipc.ConnectAttach(0, p.pid, chid)
        ipc.MsgSendPulse(coid, -1, 5, 1234)
        ipc.MsgSendPulse(coid, -1, 6, -7)
        rcvid, data, info = ipc.MsgReceive(chid)
        assert rcvid == 0 and info is None
        first = Pulse.unpack(data)
        assert (first.code, first.value) == (5, 1234)
        assert Pulse.unpack(ipc.MsgReceive(chid)[1]).code == 6  # FIFO
        with pytest.raises(OSError) as ei:
            ipc.MsgSendPulse(coid, -1, PulseCode.DISCONNECT, 0)  # kernel codes are reserved
        assert ei.value.errno == errno.EINVAL
        ipc.MsgSendPulse(coid, -1, 1, 0)
        with pytest.raises(OSError) as ei:
            ipc.MsgReceive(chid, rbytes=8)  # smaller than struct _pulse: EFAULT, pulse lost
        assert ei.value.errno == errno.EFAULT


def test_pulse_wakes_a_receive_blocked_server(sysk) -> None:
    k, _ = sysk
    got: queue.Queue[Pulse] = queue.Queue()

    def body(chid: int) -> int:
        rcvid, data, _ = ipc.MsgReceive(chid)
        got.put(Pulse.unpack(data))
        return rcvid

    pid, chid = start_server(k, body)
    wait_for(lambda: thread_state(k, pid)[0] == "RECEIVE")
    with k.adopt("client"):
        ipc.MsgSendPulse(ipc.ConnectAttach(0, pid, chid), 10, 42, 9)
    assert got.get(timeout=T).code == 42
    assert k.waitpid(pid, T) == 0


def test_disconnect_pulse_on_last_detach(sysk) -> None:
    k, _ = sysk
    with k.adopt("srv") as p:
        chid = ipc.ChannelCreate(ChannelFlag.DISCONNECT)
        a = ipc.ConnectAttach(0, p.pid, chid)
        b = ipc.ConnectAttach(0, p.pid, chid)
        ipc.ConnectDetach(a)
        with pytest.raises(OSError):
            ipc.MsgReceive(chid, timeout=0.05)  # one connection left: no pulse yet
        ipc.ConnectDetach(b)
        rcvid, data, _ = ipc.MsgReceive(chid, timeout=T)
        pulse = Pulse.unpack(data)
        assert rcvid == 0 and pulse.code == PulseCode.DISCONNECT
        assert pulse.value == pulse.scoid | _NTO_SIDE_CHANNEL


def test_exit_status_and_shutdown_never_hangs() -> None:
    console = Console()
    k = Kernel(None, console.stdio())
    blocked = k.spawn(lambda argv: ipc.MsgReceive(ipc.ChannelCreate())[0], ["blocked"])
    assert k.waitpid(k.spawn(lambda argv: 42, ["answer"]), T) == 42

    def exits(argv: list[str]) -> int:
        proc.exit(3)

    assert k.waitpid(k.spawn(exits, ["exits"]), T) == 3
    started = time.monotonic()
    k.shutdown(timeout=T)
    assert time.monotonic() - started < T
    assert k.waitpid(blocked, T) < 0


def test_reply_to_a_client_that_died_is_esrch(sysk) -> None:
    k, _ = sysk
    got: queue.Queue[int] = queue.Queue()
    result: queue.Queue[int] = queue.Queue()
    go = KEvent()

    def body(chid: int) -> int:
        rcvid, _msg, _ = ipc.MsgReceive(chid)
        got.put(rcvid)
        go.wait(T)
        try:
            ipc.MsgReply(rcvid, 0, b"late")
        except OSError as exc:
            result.put(exc.errno or 0)
        return 0

    pid, chid = start_server(k, body)
    cpid = k.spawn(lambda argv: ipc.MsgSend(ipc.ConnectAttach(0, pid, chid), b"x")[0], ["c"])
    got.get(timeout=T)
    k.exit_process(k.process(cpid), -9)  # the client dies while REPLY-blocked
    assert k.waitpid(cpid, T) == -9
    go.set()
    assert result.get(timeout=T) == errno.ESRCH


def test_timeouts_between_process_threads_end_the_wait_and_nothing_else(sysk) -> None:
    """In a process (not an adopted host thread) a timed send or receive waits on the
    kernel's clock: a reply or a message in time is delivered as usual; a send that
    times out forgets its message, so the server's late MsgReply is ESRCH."""
    k, _ = sysk
    outcome: queue.Queue[object] = queue.Queue()

    def slow(chid: int) -> int:  # replies 0.2 s after receiving
        while True:
            rcvid, msg, _info = ipc.MsgReceive(chid)
            proc.delay(0.2)
            try:
                ipc.MsgReply(rcvid, 0, msg.upper())
            except OSError as exc:
                outcome.put(("late reply", exc.errno))

    def waiting(chid: int) -> int:  # receives with a timeout until one message comes
        while True:
            try:
                rcvid, msg, _info = ipc.MsgReceive(chid, timeout=0.05)
            except OSError as exc:
                outcome.put(("receive", exc.errno))
                continue
            ipc.MsgReply(rcvid, 0, msg.upper())
            return 0

    slow_pid, slow_chid = start_server(k, slow)
    wait_pid, wait_chid = start_server(k, waiting)

    def client(argv: list[str]) -> int:
        coid = ipc.ConnectAttach(0, slow_pid, slow_chid)
        try:
            ipc.MsgSend(coid, b"late", timeout=0.05)
        except OSError as exc:
            outcome.put(("send", exc.errno))
        outcome.put(ipc.MsgSend(coid, b"in time", timeout=1.0))
        proc.delay(0.12)  # the waiting server times out at least once meanwhile
        outcome.put(ipc.MsgSend(ipc.ConnectAttach(0, wait_pid, wait_chid), b"x", timeout=1.0))
        return 0

    assert k.waitpid(k.spawn(client, ["client"]), T) == 0
    got = []
    while not outcome.empty():
        got.append(outcome.get())
    assert got.count(("send", errno.ETIMEDOUT)) == 1
    assert ("late reply", errno.ESRCH) in got
    assert (0, b"IN TIME") in got and (0, b"X") in got
    assert ("receive", errno.ETIMEDOUT) in got
    assert k.waitpid(wait_pid, T) == 0  # served the message after its timeouts


def test_a_send_that_timed_out_in_the_queue_is_never_received(sysk) -> None:
    """The client's next send reuses its record; the message that timed out while
    SEND-blocked is gone from the queue, so the server receives only the next one."""
    k, _ = sysk
    received: queue.Queue[bytes] = queue.Queue()

    def late(chid: int) -> int:  # busy for 0.2 s before its first receive
        proc.delay(0.2)
        while True:
            rcvid, msg, _info = ipc.MsgReceive(chid)
            received.put(msg)
            ipc.MsgReply(rcvid, 0, msg.upper())

    pid, chid = start_server(k, late)

    def client(argv: list[str]) -> int:
        coid = ipc.ConnectAttach(0, pid, chid)
        try:
            ipc.MsgSend(coid, b"first", timeout=0.05)
        except OSError as exc:
            assert exc.errno == errno.ETIMEDOUT
        else:
            return 1
        return 0 if ipc.MsgSend(coid, b"second") == (0, b"SECOND") else 2

    assert k.waitpid(k.spawn(client, ["client"]), T) == 0
    assert received.get(timeout=T) == b"second"
    wait_for(lambda: thread_state(k, pid)[0] == "RECEIVE")  # nothing more to receive
    assert received.empty()

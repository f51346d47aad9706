"""The scheduler: priorities, inheritance, FIFO/RR, seeds (QNX semantics, notes §1).

Every system here is driven from inside (a modelled main process), so the
order of events is the kernel's, not the host's: the expected orders are
QNX's rules, not read back from a run.
"""

from __future__ import annotations

import errno
import io
import random
import socket
import threading

import pytest

from qrv.kernel import Kernel, Stdio
from qrv.kernel.proc import current
from qrv.kernel.sched import KCALL_COST, HostSource, seeded_index
from qrv.lib.c import ipc, proc
from qrv.spec.iomsg import ChannelFlag

T = 10.0


def run_main(body, seed: int = 0) -> object:
    """Run `body()` as the main thread of a process on a fresh kernel; its result."""
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()), seed=seed)
    box: list[object] = []

    def main(argv: list[str]) -> int:
        box.append(body())
        return 0

    try:
        assert k.waitpid(k.spawn(main, ["main"]), T) == 0
    finally:
        k.shutdown()
    return box[0]


def own_row() -> str:
    """The caller's pidin prio column (``10r``) and state."""
    me, tid = proc.getpid(), proc.gettid()
    for p in proc.proc_snapshot():
        if p.pid == me:
            for t in p.threads:
                if t.tid == tid:
                    return f"{t.prio}{t.policy} {t.state}"
    raise AssertionError("not listed")


def serve_three(flags: int) -> list[tuple[bytes, int, int, str]]:
    """Clients of priorities 10, 20, 30 queue on a sleeping server; what it served, in order.

    Each entry: (message, MsgInfo.priority, server's effective priority, its pidin row).
    """
    served: list[tuple[bytes, int, int, str]] = []
    chid_box: list[int] = []

    def server(argv: list[str]) -> int:
        chid_box.append(ipc.ChannelCreate(flags))
        proc.delay(0.05)  # every client queues up meanwhile (SEND-blocked)
        for _ in range(3):
            rcvid, msg, info = ipc.MsgReceive(chid_box[0])
            assert info is not None
            served.append((msg, info.priority, proc.SchedGet()[2], own_row()))
            ipc.MsgReply(rcvid, 0, b"")
        return 0

    spid = proc.spawn(server, ["server"])
    while not chid_box:
        proc.sched_yield()
    clients = []
    for prio in (10, 20, 30):

        def client(argv: list[str], prio: int = prio) -> int:
            proc.setprio(0, prio)
            ipc.MsgSend(ipc.ConnectAttach(0, spid, chid_box[0]), str(prio).encode())
            return 0

        clients.append(proc.spawn(client, [f"c{prio}"]))
    for pid in [*clients, spid]:
        assert proc.waitpid(pid, T) == 0
    return served


def test_send_queue_is_served_by_priority_and_the_server_inherits_it() -> None:
    served = run_main(lambda: serve_three(0))
    assert served == [
        (b"30", 30, 30, "30r RUNNING"),
        (b"20", 20, 20, "20r RUNNING"),
        (b"10", 10, 10, "10r RUNNING"),
    ]


def test_fixed_priority_channel_turns_inheritance_off() -> None:
    served = run_main(lambda: serve_three(ChannelFlag.FIXED_PRIORITY))
    assert [(m, p, eff) for m, p, eff, _row in served] == [
        (b"30", 30, 10),
        (b"20", 20, 10),
        (b"10", 10, 10),
    ]
    assert {row for *_rest, row in served} == {"10r RUNNING"}


def test_pulses_carry_their_priority_and_queue_by_it() -> None:
    def body() -> list[tuple[int, int, int]]:
        chid = ipc.ChannelCreate()
        coid = ipc.ConnectAttach(0, proc.getpid(), chid)
        for prio, code in ((5, 1), (40, 2), (12, 3), (40, 4)):
            ipc.MsgSendPulse(coid, prio, code, 0)
        got = []
        for _ in range(4):
            _rcvid, data, _info = ipc.MsgReceive(chid)
            got.append((ipc.Pulse.unpack(data).code, proc.SchedGet()[2], proc.SchedGet()[0]))
        return got

    # by priority then arrival; the receiver runs at the pulse's priority, its own stays 10
    assert run_main(body) == [(2, 40, 10), (4, 40, 10), (3, 12, 10), (1, 5, 10)]


def test_busy_low_priority_thread_never_delays_a_ready_high_priority_one() -> None:
    def body() -> tuple[float, int]:
        late: list[float] = []
        spins = [0]

        def high() -> None:
            proc.setprio(0, 30)
            deadline = proc.ClockTime() + 0.001
            proc.delay(0.001)
            late.append(proc.ClockTime() - deadline)

        proc.setprio(0, 5)
        tid = proc.pthread_create(high)
        while not late:  # busy: a kernel call per turn, never blocking
            spins[0] += 1
            proc.sched_yield()
        proc.pthread_join(tid, T)
        return late[0], spins[0]

    late, spins = run_main(body)
    assert spins > 100  # the low thread kept the CPU busy the whole time
    # woken at the low thread's first kernel call past the deadline: the lateness is the
    # cost of the delay and ClockTime calls themselves plus at most that one call
    assert 0 <= late <= 3 * KCALL_COST


def test_sched_set_and_get_and_their_errors() -> None:
    def body() -> tuple[object, ...]:
        before = proc.SchedGet()
        proc.SchedSet(0, 0, proc.SCHED_FIFO, 21)
        after = proc.SchedGet()
        row = own_row()
        errors = []
        for call in (
            lambda: proc.SchedSet(0, 0, None, 0),
            lambda: proc.SchedSet(0, 0, None, 256),
            lambda: proc.SchedSet(0, 0, 7, 10),
            lambda: proc.SchedSet(0, 99, None, 10),
            lambda: proc.SchedSet(999, 0, None, 10),
        ):
            with pytest.raises(OSError) as ei:
                call()
            errors.append(ei.value.errno)
        return before, after, row, errors

    before, after, row, errors = run_main(body)
    assert before == (10, proc.SCHED_RR, 10)
    assert after == (21, proc.SCHED_FIFO, 21)
    assert row == "21f RUNNING"
    assert errors == [22, 22, 22, 3, 1]  # EINVAL x3, ESRCH, EPERM


def racy(n: int = 6) -> str:
    """Three equal-priority threads append their letter and yield: the order is the schedule."""
    out: list[str] = []

    def worker(letter: str) -> None:
        for _ in range(n):
            out.append(letter)
            proc.sched_yield()

    tids = [proc.pthread_create(lambda c=c: worker(c)) for c in "abc"]
    for tid in tids:
        proc.pthread_join(tid, T)
    return "".join(out)


def test_a_seed_decides_the_interleaving_of_racing_threads() -> None:
    runs = {seed: run_main(racy, seed) for seed in (0, 1, 2)}
    assert run_main(racy, 1) == runs[1]  # the same seed: the same schedule
    assert len(set(runs.values())) > 1  # other seeds: other schedules
    for order in runs.values():
        assert sorted(order) == sorted("abc" * 6)


def test_a_busy_server_runs_at_the_priority_of_a_client_queued_behind_it() -> None:
    """Priority inheritance through the send queue: no inversion by a middle priority."""

    def body() -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []
        chid = ipc.ChannelCreate()
        me = proc.getpid()

        def server() -> None:
            rcvid, _msg, _info = ipc.MsgReceive(chid)  # the prio-10 client's message
            seen.append(("serving", proc.SchedGet()[2]))
            proc.delay(0.01)  # meanwhile the prio-30 client queues up
            seen.append(("after", proc.SchedGet()[2]))
            ipc.MsgReply(rcvid)
            rcvid, _msg, _info = ipc.MsgReceive(chid)
            seen.append(("next", proc.SchedGet()[2]))
            ipc.MsgReply(rcvid)

        def client(prio: int) -> None:
            proc.setprio(0, prio)
            ipc.MsgSend(ipc.ConnectAttach(0, me, chid), b"x")

        tids = [proc.pthread_create(server), proc.pthread_create(lambda: client(10))]
        while not seen:
            proc.sched_yield()
        tids.append(proc.pthread_create(lambda: client(30)))
        for tid in tids:
            proc.pthread_join(tid, T)
        return seen

    assert run_main(body) == [("serving", 10), ("after", 30), ("next", 30)]


def test_fixed_priority_channel_does_not_boost_a_busy_server() -> None:
    def body() -> list[int]:
        seen: list[int] = []
        chid = ipc.ChannelCreate(ChannelFlag.FIXED_PRIORITY)
        me = proc.getpid()

        def server() -> None:
            rcvid, _msg, _info = ipc.MsgReceive(chid)
            proc.delay(0.01)
            seen.append(proc.SchedGet()[2])
            ipc.MsgReply(rcvid)
            ipc.MsgReply(ipc.MsgReceive(chid)[0])

        def client(prio: int) -> None:
            proc.setprio(0, prio)
            ipc.MsgSend(ipc.ConnectAttach(0, me, chid), b"x")

        tids = [proc.pthread_create(server), proc.pthread_create(lambda: client(10))]
        tids.append(proc.pthread_create(lambda: client(30)))
        for tid in tids:
            proc.pthread_join(tid, T)
        return seen

    assert run_main(body) == [10]


@pytest.mark.parametrize("seed", [0, 1, 7, 12345])
def test_the_seeded_choice_draws_what_randrange_draws(seed: int) -> None:
    """A seed schedules as it did with ``Random.randrange`` (the oracle): same draws,
    same state after them, for every number of candidates up to 17."""
    ours, oracle = random.Random(seed), random.Random(seed)
    for n in [*range(1, 18)] * 20:
        assert seeded_index(ours, n) == oracle.randrange(n)
    assert ours.getstate() == oracle.getstate()


def test_each_thread_is_its_own_current_thread_across_switches() -> None:
    """The running thread follows every switch (yields, sends, sleeps): each thread of a
    process sees its own tid after each; a plain host thread is in no process, an
    adopted host thread in its own."""

    def body() -> list[tuple[int, int]]:
        chid = ipc.ChannelCreate()
        coid = ipc.ConnectAttach(0, proc.getpid(), chid)
        seen: list[tuple[int, int]] = []
        tids: list[int] = []

        def server() -> None:
            for _ in range(4):
                rcvid, msg, _info = ipc.MsgReceive(chid)
                seen.append((tids[0], proc.gettid()))
                ipc.MsgReply(rcvid, 0, msg)

        def client() -> None:
            me = proc.gettid()
            for _ in range(2):
                proc.sched_yield()
                seen.append((me, proc.gettid()))
                ipc.MsgSend(coid, b"x")
                seen.append((me, proc.gettid()))
                proc.delay(0.001)
                seen.append((me, proc.gettid()))

        tids.append(proc.pthread_create(server))
        workers = [proc.pthread_create(client) for _ in range(2)]
        for tid in [*workers, *tids]:
            proc.pthread_join(tid, T)
        seen.append((1, proc.gettid()))  # the main thread
        return seen

    seen = run_main(body)
    assert len(seen) == 4 + 2 * 6 + 1
    assert all(expected == got for expected, got in seen)
    with pytest.raises(OSError) as info:
        proc.gettid()  # a plain host thread is in no process
    assert info.value.errno == errno.ESRCH
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()))
    try:
        with k.adopt("host") as p:
            assert proc.getpid() == p.pid
        with pytest.raises(OSError):
            proc.getpid()
    finally:
        k.shutdown()


def test_waits_woken_before_their_timeout_leave_no_timers_behind() -> None:
    """A timed wait that ends early drops its timer (a driver waits with a timeout on
    every command): after 1,000 timed round trips the heap holds a bounded few entries,
    and a wait that does time out still ends with ETIMEDOUT."""

    def body() -> tuple[int, int, int]:
        chid = ipc.ChannelCreate()
        coid = ipc.ConnectAttach(0, proc.getpid(), chid)

        def server() -> None:
            for _ in range(1000):
                rcvid, msg, _info = ipc.MsgReceive(chid, timeout=5.0)
                ipc.MsgReply(rcvid, 0, msg)

        tid = proc.pthread_create(server)
        for i in range(1000):
            assert ipc.MsgSend(coid, b"%d" % i, timeout=5.0) == (0, b"%d" % i)
        proc.pthread_join(tid, T)
        left = len(proc_kernel().sched.timers)
        with pytest.raises(OSError) as info:
            ipc.MsgReceive(chid, timeout=0.01)  # nobody sends: the timer fires
        return left, info.value.errno, len(proc_kernel().sched.timers)

    left, err, after = run_main(body)  # type: ignore[misc]
    assert left <= 64 + 2
    assert err == errno.ETIMEDOUT
    assert after <= left


def proc_kernel() -> Kernel:
    """The running thread's kernel."""
    return current().process.kernel


class SocketSource:
    """A HostSource over one end of a socket pair: what it saw, and on which thread."""

    def __init__(self, k: Kernel) -> None:
        self.k = k
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.log: list[str] = []
        self.served = threading.Event()
        self.usable = True

    def fileno(self) -> int:
        return self.ours.fileno()

    def watch(self, on: bool) -> None:
        if not self.log or self.log[-1] != f"watch {on}":  # idle timeouts repeat it
            self.log.append(f"watch {on}")

    def service(self) -> bool:
        data = self.ours.recv(64)
        self.log.append(f"service {data!r} on_cpu={self.k.sched.on_cpu()}")
        self.k.sched.post(self.served.set)  # a notification: posted from the CPU thread
        return self.usable


def test_the_idle_loop_waits_on_a_machine_source_and_serves_it_on_the_cpu_thread() -> None:
    """The CPU thread's idle loop sleeps on the machine's descriptor itself (QEMU's qtest
    socket): bytes there are served on the CPU thread, between watch(True) and
    watch(False), with no host thread in between; a source that reports itself unusable
    is dropped."""
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO()))
    src = SocketSource(k)
    assert isinstance(src, HostSource)
    try:
        k.sched.watch(src)
        src.theirs.send(b"IRQ raise 34")
        assert src.served.wait(T)
        at = src.log.index("service b'IRQ raise 34' on_cpu=True")
        assert src.log[at - 2 : at] == ["watch True", "watch False"]
        src.usable, src.served = False, threading.Event()
        src.theirs.send(b"gone")
        assert src.served.wait(T)
        k.sched.call(lambda: None)  # the loop went round once more
        assert k.sched.source is None
    finally:
        k.shutdown()
        src.ours.close()
        src.theirs.close()

"""IPC benchmark: MsgSend/Receive/Reply round trip and open+read(4 KiB)+close.

Prints medians (µs) beside same-run baselines: a plain Python function call,
a queue.Queue round trip between two threads, two bare greenlets switching
to each other (the floor under any round trip between two threads of the
system: its two switches without any kernel work), and the least a
send/receive/reply in Python can do over those two switches (no checks, no
priorities, no accounting: see :func:`bare_ipc_round_trip`), the floor of any
pure-Python kernel.  The client is a process of the system (a greenlet like
the server), as every program is; a host thread adopted as a process would
add two host-thread hand-offs per call.  Everything is timed in turns (a
block of each, ten times), so a change in the machine's load falls on the
round trip and its baselines alike; but a host-thread hand-off slows down
more than the rest on a busy machine (a woken thread waits for a core), so
the ratio to the bare round trip is the steadier one.  Not part of the tests.
"""

from __future__ import annotations

import io
import queue
import statistics
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

from greenlet import greenlet

from qrv.kernel import Kernel, Stdio
from qrv.lib.c import (
    ChannelCreate,
    ConnectAttach,
    MsgReceive,
    MsgReply,
    MsgSend,
    close,
    getpid,
    open,
    procmgr_ready,
    read,
)
from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import IofuncAttr, iofunc_attr_init, iofunc_func_init
from qrv.lib.c.msg import IoRead
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.spec.iomsg import S_IFBLK

R = TypeVar("R")
ROUNDS = 2000
OPENS = 500
PAGE = 4096
US = 1e6


BLOCKS = 10


def interleaved_medians(runs: dict[str, tuple[Callable[[], object], int]]) -> dict[str, float]:
    """Median µs per call of each function, timed in turns (a block of each in a row,
    `BLOCKS` times), so a change in the machine's load falls on all of them alike."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    clock = time.perf_counter
    for _ in range(BLOCKS):
        for name, (fn, n) in runs.items():
            out = samples[name]
            for _ in range(n // BLOCKS):
                t0 = clock()
                fn()
                out.append((clock() - t0) * US)
    return {name: statistics.median(out) for name, out in samples.items()}


def echo_server(ready: queue.Queue[tuple[int, int]]) -> Callable[[list[str]], int]:
    def main(argv: list[str]) -> int:
        chid = ChannelCreate()
        ready.put((getpid(), chid))
        while True:
            rcvid, msg, _ = MsgReceive(chid)
            if rcvid:
                MsgReply(rcvid, 0, msg)

    return main


def page_server(argv: list[str]) -> int:
    data = bytes(range(256)) * (PAGE // 256)

    def rd(ctp: ResmgrContext, msg: IoRead, ocb: object) -> HandlerResult:
        return data[: msg.nbytes]

    dpp = dispatch_create()
    connect, io_funcs = iofunc_func_init()
    io_funcs.read = rd
    attr = IofuncAttr()
    iofunc_attr_init(attr, S_IFBLK | 0o444)
    attr.nbytes = PAGE
    resmgr_attach(dpp, None, "/dev/page", 0, 0, connect, io_funcs, attr)
    procmgr_ready()
    dispatch_loop(dpp)
    return 0


def queue_round_trip() -> Callable[[], object]:
    req: queue.Queue[bytes] = queue.Queue()
    rep: queue.Queue[bytes] = queue.Queue()

    def worker() -> None:
        while True:
            rep.put(req.get())

    threading.Thread(target=worker, daemon=True).start()

    def once() -> bytes:
        req.put(b"ping")
        return rep.get()

    return once


def greenlet_round_trip() -> Callable[[], object]:
    caller = greenlet.getcurrent()

    def echo() -> None:
        while True:
            caller.switch()

    return greenlet(echo).switch


def bare_ipc_round_trip() -> Callable[[], object]:
    """The least a Python send/receive/reply does: name the running thread (a context
    variable each greenlet sets once, as the kernel's), hand a message record to the
    waiting server, switch to it; the server replies into the record and switches back
    when it next receives.  No error checks, queues, priorities, clock or tracing."""
    running: ContextVar[greenlet | None] = ContextVar("bare_running", default=None)
    client = greenlet.getcurrent()
    waiting: list[greenlet] = []
    handoff: list[list[object]] = []

    def send(msg: bytes) -> object:
        tx: list[object] = [running.get(), msg, None]
        server = waiting.pop()
        handoff.append(tx)
        server.switch()
        return tx[2]

    def receive() -> list[object]:
        waiting.append(greenlet.getcurrent())
        client.switch()
        return handoff.pop()

    def serve() -> None:
        running.set(greenlet.getcurrent())
        while True:
            tx = receive()
            tx[2] = tx[1]  # the reply

    running.set(client)
    greenlet(serve).switch()
    return lambda: send(b"ping")


def in_process(k: Kernel, fn: Callable[[], R]) -> R:
    """Run `fn` as the main thread of a new process of `k`; its result."""
    box: list[R] = []

    def main(argv: list[str]) -> int:
        box.append(fn())
        return 0

    if k.waitpid(k.spawn(main, ["bench"]), 600) != 0 or not box:
        raise SystemExit("the benchmark process failed")
    return box[0]


def main() -> int:
    k = Kernel(None, Stdio(io.BytesIO(), io.BytesIO(), sys.stderr.buffer))
    try:
        ready: queue.Queue[tuple[int, int]] = queue.Queue()
        k.spawn(echo_server(ready), ["echo"])
        pid, chid = ready.get(timeout=5)
        spid = k.spawn(page_server, ["pagesrv"])
        k.wait_ready(spid, None, 5)

        def open_read_close() -> None:
            fd = open("/dev/page")
            read(fd, PAGE)
            close(fd)

        def measure() -> dict[str, float]:
            coid = ConnectAttach(0, pid, chid)
            return interleaved_medians(
                {
                    "msg": (lambda: MsgSend(coid, b"ping"), ROUNDS),
                    "orc": (open_read_close, OPENS),
                    "call": (lambda: len(b"ping"), ROUNDS),
                    "queue": (queue_round_trip(), ROUNDS),
                    "greenlet": (greenlet_round_trip(), ROUNDS),
                    "bare": (bare_ipc_round_trip(), ROUNDS),
                }
            )

        m = in_process(k, measure)
    finally:
        k.shutdown()
    msg_rt, orc, call, q_rt, g_rt, b_rt = (
        m[name] for name in ("msg", "orc", "call", "queue", "greenlet", "bare")
    )
    print(f"MsgSend/Receive/Reply round trip     median {msg_rt:9.1f} us")
    print(f"open+read(4 KiB)+close via resmgr    median {orc:9.1f} us")
    print(f"baseline: plain function call        median {call:9.1f} us")
    print(f"baseline: queue.Queue thread RTT     median {q_rt:9.1f} us")
    print(f"baseline: two greenlets' switch RTT  median {g_rt:9.1f} us")
    print(f"baseline: bare Python send/recv/rply median {b_rt:9.1f} us")
    print(f"ratio: round trip / queue RTT        {msg_rt / q_rt:9.2f}x")
    print(f"ratio: greenlet RTT / queue RTT      {g_rt / q_rt:9.2f}x (the floor)")
    print(f"ratio: bare Python IPC / queue RTT   {b_rt / q_rt:9.2f}x (a pure-Python floor)")
    print(f"ratio: round trip / bare Python IPC  {msg_rt / b_rt:9.2f}x (steadier under load)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Channels, connections and synchronous message passing (QNX semantics).

Error behaviour follows the QNX kernel (``ker_fastmsg.c``, ``ker_channel.c``,
``ker_connect.c``, ``ker_message.c``; see reference/notes/qnx-programming-model.md §1):

* send on a coid that is not a connection, or whose channel is gone → EBADF;
* send to a dying process → ENXIO; ConnectAttach to a bad pid/chid → ESRCH;
* channel destroyed (ChannelDestroy or server death): SEND-, RECEIVE- and
  REPLY-blocked threads → ESRCH; connections go stale (later sends EBADF);
* ConnectDetach while other threads of the process are blocked on the coid → EBADF;
* MsgReply/MsgError/MsgRead/MsgWrite on an rcvid that is not REPLY-blocked → ESRCH.

All state is guarded by the one kernel lock; every blocked thread waits on
its own condition (bound to that lock) with a deadline and is woken by
teardown.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qrv.kernel.proc import DEFAULT_PRIORITY, FIRST_FD, KThread, Process, ProcessKilled
from qrv.spec.iomsg import (
    _NTO_SIDE_CHANNEL,
    EBADF,
    EFAULT,
    EINVAL,
    ENXIO,
    EOK,
    ESRCH,
    ETIMEDOUT,
    ChannelFlag,
    Pulse,
    PulseCode,
    ThreadState,
    oserror,
)

WAIT_SLICE = 1.0
"""Longest single condition wait; the loop re-checks its predicate after it."""


@dataclass(frozen=True)
class MsgInfo:
    """``struct _msg_info`` (plus the client's credentials, which QNX gives
    through ConnectClientInfo)."""

    pid: int
    tid: int
    chid: int
    scoid: int
    coid: int
    msglen: int
    srcmsglen: int
    dstmsglen: int
    priority: int = DEFAULT_PRIORITY
    uid: int = 0
    gid: int = 0


@dataclass(eq=False)
class Channel:
    chid: int
    owner: Process
    flags: ChannelFlag
    sendq: deque[Transaction] = field(default_factory=deque)
    receivers: deque[KThread] = field(default_factory=deque)
    pulses: deque[bytes] = field(default_factory=deque)
    replyq: dict[int, Transaction] = field(default_factory=dict)
    connections: set[Connection] = field(default_factory=set)
    scoids: dict[int, list[int]] = field(default_factory=dict)
    """client pid -> [scoid, number of connections]."""
    destroyed: bool = False


@dataclass(eq=False)
class Connection:
    coid: int
    owner: Process
    channel: Channel | None
    server_pid: int
    chid: int
    scoid: int


@dataclass(eq=False)
class Transaction:
    """One MsgSend in flight: the client's message and its reply buffer."""

    client: KThread
    conn: Connection
    channel: Channel
    data: bytes
    rmax: int
    rcvid: int = 0
    reply: bytes | bytearray = b""
    """Written by MsgReply/MsgWrite; a whole reply at offset 0 is kept as the bytes given."""
    status: int = 0
    err: int = 0
    done: bool = False


class Ipc:
    """Message-passing kernel calls; every method takes the calling thread."""

    def __init__(self, lock: threading.Lock, procs: dict[int, Process]) -> None:
        self._lock = lock
        self._procs = procs
        self._rcvids: dict[int, Transaction] = {}
        self._next_rcvid = 1
        self._next_scoid = 1

    # -- blocking helper ---------------------------------------------------------

    @staticmethod
    def block(t: KThread, done: Callable[[], bool], timeout: float | None) -> bool:
        """Wait (kernel lock held) until `done()`; False on timeout.

        Raises :class:`ProcessKilled` when the caller's process is torn down.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done():
            if t.process.dying:
                raise ProcessKilled
            wait = WAIT_SLICE
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                wait = min(wait, remaining)
            t.cond.wait(wait)
        if t.process.dying:
            raise ProcessKilled  # woken by our own teardown, not by the event
        return True

    @staticmethod
    def enter(t: KThread) -> None:
        """Every kernel call starts here: a dying process makes no more calls."""
        if t.process.dying:
            raise ProcessKilled

    # -- channels and connections ---------------------------------------------------

    def channel_create(self, t: KThread, flags: int) -> int:
        with self._lock:
            self.enter(t)
            proc = t.process
            chid = proc.next_chid
            proc.next_chid += 1
            proc.channels[chid] = Channel(chid, proc, ChannelFlag(flags))
            return chid

    def channel_destroy(self, t: KThread, chid: int) -> None:
        with self._lock:
            self.enter(t)
            ch = t.process.channels.get(chid)
            if ch is None:
                raise oserror(EINVAL)
            self.destroy_channel(ch)

    def destroy_channel(self, ch: Channel) -> None:
        """Kernel lock held.  ``ker_channel.c``: ESRCH to everyone blocked, stale coids."""
        ch.destroyed = True
        ch.owner.channels.pop(ch.chid, None)
        for tx in list(ch.sendq) + list(ch.replyq.values()):
            self._finish(tx, err=ESRCH)
        ch.sendq.clear()
        ch.replyq.clear()
        for r in ch.receivers:
            r.cond.notify_all()
        ch.receivers.clear()
        ch.pulses.clear()
        for conn in ch.connections:
            conn.channel = None
        ch.connections.clear()
        ch.scoids.clear()

    def connect_attach(self, t: KThread, pid: int, chid: int, index: int, flags: int) -> int:
        with self._lock:
            self.enter(t)
            proc = self._procs.get(pid)
            if proc is None:
                raise oserror(ESRCH)
            if proc.dying:
                raise oserror(ENXIO)
            ch = proc.channels.get(chid)
            if ch is None:
                raise oserror(ESRCH)
            table = t.process.connections
            coid = max(index, FIRST_FD) if not index & _NTO_SIDE_CHANNEL else index
            while coid in table:
                coid += 1
            entry = ch.scoids.get(t.process.pid)
            if entry is None:
                entry = ch.scoids[t.process.pid] = [self._next_scoid, 0]
                self._next_scoid += 1
            entry[1] += 1
            conn = Connection(coid, t.process, ch, pid, chid, entry[0])
            ch.connections.add(conn)
            table[coid] = conn
            return coid

    def connect_detach(self, t: KThread, coid: int) -> None:
        with self._lock:
            self.enter(t)
            conn = t.process.connections.get(coid)
            if conn is None:
                raise oserror(EBADF)
            self.detach(conn)

    def detach(self, conn: Connection) -> None:
        """Kernel lock held: drop a connection; its in-flight sends get EBADF."""
        conn.owner.connections.pop(conn.coid, None)
        ch = conn.channel
        if ch is None:
            return
        for tx in [tx for tx in ch.sendq if tx.conn is conn]:
            ch.sendq.remove(tx)
            self._finish(tx, err=EBADF)
        for rcvid, tx in list(ch.replyq.items()):
            if tx.conn is conn:
                del ch.replyq[rcvid]
                self._finish(tx, err=EBADF)
        ch.connections.discard(conn)
        conn.channel = None
        entry = ch.scoids.get(conn.owner.pid)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del ch.scoids[conn.owner.pid]
            if ch.flags & ChannelFlag.DISCONNECT:
                # nano_connect.c: value = scoid | _NTO_SIDE_CHANNEL
                self._post_pulse(
                    ch, Pulse(PulseCode.DISCONNECT, entry[0] | _NTO_SIDE_CHANNEL, entry[0])
                )

    # -- send / receive / reply ---------------------------------------------------------

    def msg_sendv(
        self, t: KThread, coid: int, parts: Sequence[bytes], rmax: int, timeout: float | None
    ) -> tuple[int, bytes]:
        with self._lock:
            self.enter(t)
            conn = t.process.connections.get(coid)
            if conn is None or conn.channel is None:
                raise oserror(EBADF)
            ch = conn.channel
            if ch.owner.dying:
                raise oserror(ENXIO)
            tx = Transaction(t, conn, ch, b"".join(parts), max(rmax, 0))
            t.blocked_on = ch.owner.pid
            if ch.receivers:
                self._deliver(tx, ch.receivers.popleft())
            else:
                ch.sendq.append(tx)
                t.state = ThreadState.SEND
            try:
                finished = self.block(t, lambda: tx.done, timeout)
            finally:
                if not tx.done:
                    self._abandon(tx)
                t.state = ThreadState.READY
            if not finished:
                raise oserror(ETIMEDOUT)
            if tx.err != EOK:
                raise oserror(tx.err)
            return tx.status, bytes(tx.reply)

    def msg_receive(
        self, t: KThread, chid: int, rmax: int, timeout: float | None
    ) -> tuple[int, bytes, MsgInfo | None]:
        with self._lock:
            self.enter(t)
            ch = t.process.channels.get(chid)
            if ch is None:
                raise oserror(ESRCH)
            got: Transaction | bytes | None = None
            if ch.pulses:
                got = ch.pulses.popleft()
            elif ch.sendq:
                got = ch.sendq.popleft()
                self._deliver(got, None)
            else:
                t.handoff = None
                ch.receivers.append(t)
                t.state, t.blocked_on = ThreadState.RECEIVE, chid
                try:
                    self.block(t, lambda: t.handoff is not None or ch.destroyed, timeout)
                finally:
                    if t in ch.receivers:
                        ch.receivers.remove(t)
                    t.state = ThreadState.READY
                got, t.handoff = t.handoff, None
                if got is None:
                    raise oserror(ESRCH if ch.destroyed else ETIMEDOUT)
            if isinstance(got, bytes):
                if rmax < Pulse.FMT.size:
                    raise oserror(EFAULT)  # the pulse is lost, as QNX documents
                return 0, got, None
            client = got.client
            info = MsgInfo(
                pid=client.process.pid,
                tid=client.tid,
                chid=chid,
                scoid=got.conn.scoid,
                coid=got.conn.coid,
                msglen=min(len(got.data), rmax),
                srcmsglen=len(got.data),
                dstmsglen=got.rmax,
                uid=client.process.uid,
                gid=client.process.gid,
            )
            return got.rcvid, got.data[:rmax], info

    def _deliver(self, tx: Transaction, receiver: KThread | None) -> None:
        """Hand `tx` to a server thread: the client becomes REPLY-blocked."""
        tx.rcvid = self._next_rcvid
        self._next_rcvid += 1
        self._rcvids[tx.rcvid] = tx
        tx.channel.replyq[tx.rcvid] = tx
        tx.client.state = ThreadState.REPLY
        if receiver is not None:
            receiver.handoff = tx
            receiver.cond.notify_all()

    def _lookup(self, t: KThread, rcvid: int) -> Transaction:
        tx = self._rcvids.get(rcvid)
        if tx is None or tx.done or tx.channel.owner is not t.process:
            raise oserror(ESRCH)
        return tx

    def msg_reply(self, t: KThread, rcvid: int, status: int, parts: Sequence[bytes]) -> None:
        with self._lock:
            self.enter(t)
            tx = self._lookup(t, rcvid)
            self._write_reply(tx, b"".join(parts), 0)
            self._finish(tx, status=status)

    def msg_error(self, t: KThread, rcvid: int, err: int) -> None:
        with self._lock:
            self.enter(t)
            self._finish(self._lookup(t, rcvid), err=err)

    def msg_read(self, t: KThread, rcvid: int, nbytes: int, offset: int) -> bytes:
        with self._lock:
            self.enter(t)
            tx = self._lookup(t, rcvid)
            if offset < 0 or nbytes < 0:
                raise oserror(EINVAL)
            return tx.data[offset : offset + nbytes]

    def msg_write(self, t: KThread, rcvid: int, data: bytes, offset: int) -> int:
        with self._lock:
            self.enter(t)
            tx = self._lookup(t, rcvid)
            if offset < 0:
                raise oserror(EINVAL)
            return self._write_reply(tx, data, offset)

    @staticmethod
    def _write_reply(tx: Transaction, data: bytes, offset: int) -> int:
        """Copy into the client's reply buffer, clipped to its size (silent truncation).

        The usual reply (all of it, at offset 0, into an empty buffer) is kept as the
        immutable bytes object itself: a large read is then not copied again here, nor by
        ``bytes(tx.reply)`` in msg_sendv.  Anything else goes through a bytearray.
        """
        n = max(0, min(len(data), tx.rmax - offset))
        if not n:
            return 0
        if offset == 0 and not tx.reply and type(data) is bytes:
            tx.reply = data if n == len(data) else data[:n]
            return n
        reply = tx.reply if isinstance(tx.reply, bytearray) else bytearray(tx.reply)
        if len(reply) < offset + n:
            reply.extend(bytes(offset + n - len(reply)))
        reply[offset : offset + n] = data[:n]
        tx.reply = reply
        return n

    def _finish(self, tx: Transaction, status: int = 0, err: int = EOK) -> None:
        tx.status, tx.err, tx.done = status, err, True
        self._rcvids.pop(tx.rcvid, None)
        tx.channel.replyq.pop(tx.rcvid, None)
        tx.client.cond.notify_all()

    def _abandon(self, tx: Transaction) -> None:
        """The client gave up (timeout or its own teardown): forget the message."""
        if tx in tx.channel.sendq:
            tx.channel.sendq.remove(tx)
        tx.channel.replyq.pop(tx.rcvid, None)
        self._rcvids.pop(tx.rcvid, None)
        tx.done = True

    # -- pulses --------------------------------------------------------------------

    def msg_send_pulse(self, t: KThread, coid: int, priority: int, code: int, value: int) -> None:
        del priority  # pulses are queued FIFO; priority is accepted for the API
        with self._lock:
            self.enter(t)
            conn = t.process.connections.get(coid)
            if conn is None or conn.channel is None:
                raise oserror(EBADF)
            if not PulseCode.MINAVAIL <= code <= PulseCode.MAXAVAIL:
                raise oserror(EINVAL)
            self._post_pulse(conn.channel, Pulse(code, value, conn.scoid))

    def _post_pulse(self, ch: Channel, pulse: Pulse) -> None:
        data = pulse.pack()
        if ch.receivers:
            r = ch.receivers.popleft()
            r.handoff = data
            r.cond.notify_all()
        else:
            ch.pulses.append(data)

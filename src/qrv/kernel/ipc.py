"""Channels, connections and synchronous message passing (QNX semantics).

Error behaviour follows the QNX kernel (``ker_fastmsg.c``, ``ker_channel.c``,
``ker_connect.c``, ``ker_message.c``; see reference/notes/qnx-programming-model.md §1):

* send on a coid that is not a connection, or whose channel is gone → EBADF;
* send to a dying process → ENXIO; ConnectAttach to a bad pid/chid → ESRCH;
* channel destroyed (ChannelDestroy or server death): SEND-, RECEIVE- and
  REPLY-blocked threads → ESRCH; connections go stale (later sends EBADF);
* ConnectDetach while other threads of the process are blocked on the coid → EBADF;
* MsgReply/MsgError/MsgRead/MsgWrite on an rcvid that is not REPLY-blocked → ESRCH.

A message is kept as the sender's parts (its iov), as QNX keeps it in the
sender's address space: MsgReceive copies what the receive buffer takes, MsgRead
copies from the parts at any offset, and MsgReadInto copies them straight into a
buffer the server gives (QNX's ``MsgRead(rcvid, msg, bytes, offset)``), so a
large write's data are copied once, client -> server buffer (e.g. a DMA buffer).

Scheduling (QNX): a channel queues SEND-blocked clients and pulses by
priority, then arrival; the thread that receives a message or pulse runs
at its priority until its next MsgReceive (priority inheritance), unless
the channel was created with ``_NTO_CHF_FIXED_PRIORITY``.  Kernel state
is touched only on the CPU thread (:mod:`qrv.kernel.sched`); a blocked
thread is off the ready list, woken by the event, its timeout or teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from qrv.kernel.proc import (
    DEFAULT_PRIORITY,
    FIRST_FD,
    PRIO_MAX,
    PRIO_MIN,
    Channel,
    Connection,
    KThread,
    PendingPulse,
    Process,
    ProcessKilled,
    Transaction,
    enqueue_by_prio,
)
from qrv.kernel.sched import KCALL_COST, Scheduler, kcall
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

__all__ = ["Channel", "Connection", "Ipc", "MsgInfo", "Transaction"]

Part = bytes | memoryview
"""One part of a sent message: bytes, or a byte view of the sender's buffer."""

_NO_PARTS: tuple[Part, ...] = ()

# An enum member read through its class costs ~0.1 us; the hot path reads these instead.
_SEND, _RECEIVE, _REPLY, _READY = (
    ThreadState.SEND,
    ThreadState.RECEIVE,
    ThreadState.REPLY,
    ThreadState.READY,
)


@dataclass(slots=True)
class MsgInfo:
    """``struct _msg_info`` (plus the client's credentials, which QNX gives
    through ConnectClientInfo).  A new one per receive; not frozen, because a
    frozen dataclass costs several microseconds to build on every message."""

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


def _byte_parts(parts: Sequence[bytes | bytearray | memoryview]) -> tuple[Part, ...]:
    """The sender's parts as bytes or one-byte-per-item views (no copy)."""
    return tuple(p if type(p) is bytes else memoryview(p).cast("B") for p in parts)


def _pieces(parts: Sequence[Part], offset: int, nbytes: int) -> list[Part]:
    """Bytes [offset, offset + nbytes) of a message kept as `parts` (clipped to its
    end) as pieces of the parts, without a copy (a whole bytes part as itself)."""
    pieces: list[Part] = []
    for part in parts:
        size = len(part)
        if offset >= size:
            offset -= size
            continue
        if nbytes <= 0:
            break
        if offset == 0 and nbytes >= size:
            pieces.append(part)
        else:
            pieces.append(memoryview(part)[offset : offset + nbytes])
        nbytes -= size - offset
        offset = 0
    return pieces


def _gather(parts: Sequence[Part], offset: int, nbytes: int) -> bytes:
    """Bytes [offset, offset + nbytes) of the message, clipped to its end: one copy
    (none for a whole part that is bytes already)."""
    pieces = _pieces(parts, offset, nbytes)
    if len(pieces) == 1 and type(pieces[0]) is bytes:
        return pieces[0]
    return b"".join(pieces)


def _copy_into(parts: Sequence[Part], offset: int, dest: memoryview) -> int:
    """Copy the message's bytes from `offset` into `dest` (as many as both have): one
    copy, part by part; the number copied."""
    done = 0
    for piece in _pieces(parts, offset, len(dest)):
        size = len(piece)
        dest[done : done + size] = piece
        done += size
    return done


def _replied(tx: Transaction) -> bool:
    return tx.done


def _handed(t: KThread, ch: Channel) -> bool:
    return t.handoff is not None or ch.destroyed


class Ipc:
    """Message-passing kernel calls; every method takes the calling thread.

    The hot calls (send, receive, reply) make no closures: a function that
    defines a lambda over its arguments pays for their cells on every call, so
    the rare paths (an adopted host thread, a timeout) use ``functools.partial``.
    """

    def __init__(self, sched: Scheduler, procs: dict[int, Process]) -> None:
        self.sched = sched
        self._procs = procs
        self._rcvids: dict[int, Transaction] = {}
        self._next_rcvid = 1
        self._next_scoid = 1

    # -- blocking helper ---------------------------------------------------------

    def wait(self, t: KThread, done: Callable[[], bool], timeout: float | None) -> bool:
        """Block `t` until `done()`; False on timeout (kernel clock).

        Raises :class:`ProcessKilled` when the caller's process is torn down.
        """
        clock = self.sched.clock
        deadline = None if timeout is None else clock.now() + timeout
        while not done():
            if t.process.dying:
                raise ProcessKilled
            remaining = None
            if deadline is not None:
                remaining = deadline - clock.now()
                if remaining <= 0:
                    return False
            self.sched.block(t, remaining)
        if t.process.dying:
            raise ProcessKilled  # woken by our own teardown, not by the event
        return True

    def enter(self, t: KThread) -> None:
        """Every kernel call starts here: a scheduling point; a dying process makes no more.

        ``sched.tick(t)``, inlined: the call is charged, the rest only when due.
        """
        if t.process.dying:
            raise ProcessKilled
        sched = self.sched
        sched.clock._now += KCALL_COST
        t.budget -= 1
        if sched.inbox or sched.timers:
            sched.reschedule(t)
        elif sched.ready:
            sched.preempt(t)

    # -- channels and connections ---------------------------------------------------

    @kcall
    def channel_create(self, t: KThread, flags: int) -> int:
        self.enter(t)
        proc = t.process
        chid = proc.next_chid
        proc.next_chid += 1
        proc.channels[chid] = Channel(chid, proc, ChannelFlag(flags))
        if self.sched.trace is not None:
            self.sched.trace.emit(f"channel_create chid={chid} flags={flags:#x}")
        return chid

    @kcall
    def channel_destroy(self, t: KThread, chid: int) -> None:
        self.enter(t)
        ch = t.process.channels.get(chid)
        if ch is None:
            raise oserror(EINVAL)
        self.destroy_channel(ch)

    def destroy_channel(self, ch: Channel) -> None:
        """``ker_channel.c``: ESRCH to everyone blocked, stale coids."""
        if self.sched.trace is not None:
            self.sched.trace.emit(f"channel_destroy {ch.owner.pid}/{ch.chid}")
        ch.destroyed = True
        ch.owner.channels.pop(ch.chid, None)
        for tx in list(ch.sendq) + list(ch.replyq.values()):
            self._finish(tx, err=ESRCH)
        ch.sendq.clear()
        ch.replyq.clear()
        for r in ch.receivers:
            self.sched.make_ready(r)
        ch.receivers.clear()
        ch.pulses.clear()
        for conn in ch.connections:
            conn.channel = None
        ch.connections.clear()
        ch.scoids.clear()

    @kcall
    def connect_attach(self, t: KThread, pid: int, chid: int, index: int, flags: int) -> int:
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
        if self.sched.trace is not None:
            self.sched.trace.emit(f"connect coid={coid} -> {pid}/{chid}")
        return coid

    @kcall
    def connect_detach(self, t: KThread, coid: int) -> None:
        self.enter(t)
        conn = t.process.connections.get(coid)
        if conn is None:
            raise oserror(EBADF)
        self.detach(conn, t.prio)

    def detach(self, conn: Connection, prio: int = DEFAULT_PRIORITY) -> None:
        """Drop a connection; its in-flight sends get EBADF."""
        conn.owner.connections.pop(conn.coid, None)
        ch = conn.channel
        if ch is None:
            return
        if self.sched.trace is not None:
            self.sched.trace.emit(f"detach coid={conn.coid}")
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
            if ch.disconnect:
                # nano_connect.c: value = scoid | _NTO_SIDE_CHANNEL
                pulse = Pulse(PulseCode.DISCONNECT, entry[0] | _NTO_SIDE_CHANNEL, entry[0])
                self._post_pulse(ch, pulse, prio)

    # -- send / receive / reply ---------------------------------------------------------

    def msg_sendv(
        self,
        t: KThread,
        coid: int,
        parts: Sequence[bytes | bytearray | memoryview],
        rmax: int,
        timeout: float | None,
    ) -> tuple[int, bytes]:
        """Send `parts` as one message (kept as they are: the receiver's calls copy from
        them) and block until replied: (status, reply of at most `rmax` bytes)."""
        sched = self.sched
        if t.proxy is not None and not sched.on_cpu():  # kcall, inlined (hot path)
            return sched.call_as(t, partial(self.msg_sendv, t, coid, parts, rmax, timeout))
        sched.clock._now += KCALL_COST  # sched.tick(t), inlined (hot path)
        t.budget -= 1
        if sched.inbox or sched.timers or t.process.dying:
            sched.reschedule(t)
        elif sched.ready:  # the usual case: only the preemption check is due
            sched.preempt(t)
        conn = t.process.connections.get(coid)
        if conn is None or (ch := conn.channel) is None:
            raise oserror(EBADF)
        owner = ch.owner
        if owner.dying:
            raise oserror(ENXIO)
        if len(parts) == 1 and type(first := parts[0]) is bytes:  # the usual case
            msg: Sequence[Part] = parts  # type: ignore[assignment]  # one bytes part
            size = len(first)
        else:
            msg = _byte_parts(parts)
            size = sum(map(len, msg))
        tx = t.tx  # the thread's own record, reused once its last send is over
        if tx is None or not tx.done:
            tx = t.tx = Transaction(t, conn, ch, msg, size, rmax if rmax > 0 else 0, t.prio)
        else:  # nothing refers to a finished one: _finish/_abandon took it off every table
            tx.conn, tx.channel, tx.parts, tx.size, tx.prio = conn, ch, msg, size, t.prio
            tx.rmax, tx.rcvid = rmax if rmax > 0 else 0, 0
            tx.reply, tx.status, tx.err, tx.done, tx.server = b"", 0, 0, False, None
        if sched.trace is not None:
            sched.trace.emit(f"send coid={coid} -> {owner.pid}/{ch.chid} len={size}")
        t.blocked_on = owner.pid
        if ch.receivers:  # a server waits: it gets the message and runs next (sched.block)
            self._deliver(tx, ch.receivers.popleft())
        else:
            enqueue_by_prio(ch.sendq, tx)
            t.state = _SEND
            if ch.inherit and ch.replyq:
                self._boost(ch, tx.prio)
        try:
            if timeout is None:  # the usual case: block until replied (or torn down)
                proc = t.process
                while not tx.done:
                    if proc.dying:
                        raise ProcessKilled
                    sched.block(t)
                if proc.dying:
                    raise ProcessKilled
                finished = True
            else:
                finished = self.wait(t, partial(_replied, tx), timeout)
        finally:
            if not tx.done:
                self._abandon(tx)
            tx.parts = _NO_PARTS  # let go of the sender's buffers (a bytearray may resize)
            t.state = _READY
        if not finished:
            raise oserror(ETIMEDOUT)
        if tx.err != EOK:
            raise oserror(tx.err)
        reply = tx.reply
        return tx.status, reply if type(reply) is bytes else bytes(reply)

    def msg_receive(
        self, t: KThread, chid: int, rmax: int, timeout: float | None
    ) -> tuple[int, bytes, MsgInfo | None]:
        sched = self.sched
        if t.proxy is not None and not sched.on_cpu():  # kcall, inlined (hot path)
            return sched.call_as(t, partial(self.msg_receive, t, chid, rmax, timeout))
        sched.clock._now += KCALL_COST  # sched.tick(t), inlined (hot path)
        t.budget -= 1
        if sched.inbox or sched.timers or t.process.dying:
            sched.reschedule(t)
        elif sched.ready:  # the usual case: only the preemption check is due
            sched.preempt(t)
        ch = t.process.channels.get(chid)
        if ch is None:
            raise oserror(ESRCH)
        t.prio = t.base_prio  # the transaction before this one is over
        got: Transaction | PendingPulse | None = None
        if ch.pulses and (not ch.sendq or ch.pulses[0].prio >= ch.sendq[0].prio):
            got = ch.pulses.pop(0)
            self._inherit(t, ch, got.prio)
        elif ch.sendq:
            got = ch.sendq.pop(0)
            self._deliver(got, None)
            got.server = t
            self._inherit(t, ch, got.prio)
        else:
            t.handoff = None
            ch.receivers.append(t)
            t.state, t.blocked_on = _RECEIVE, chid
            try:
                if timeout is None:  # the usual case, without wait()'s deadline bookkeeping
                    proc = t.process
                    while t.handoff is None and not ch.destroyed:
                        if proc.dying:
                            raise ProcessKilled
                        sched.block(t)
                    if proc.dying:
                        raise ProcessKilled
                else:
                    self.wait(t, partial(_handed, t, ch), timeout)
            finally:
                if t.handoff is None and t in ch.receivers:  # a handoff took it off the list
                    ch.receivers.remove(t)
                t.state = _READY
            got, t.handoff = t.handoff, None
            if got is None:
                raise oserror(ESRCH if ch.destroyed else ETIMEDOUT)
        if isinstance(got, PendingPulse):
            if sched.trace is not None:
                sched.trace.emit(f"receive pulse chid={chid} prio={got.prio}")
            if rmax < Pulse.FMT.size:
                raise oserror(EFAULT)  # the pulse is lost, as QNX documents
            return 0, got.data, None
        client = got.client
        if sched.trace is not None:
            sched.trace.emit(
                f"receive rcvid={got.rcvid} from {client.process.pid}.{client.tid} "
                f"prio={got.prio} len={got.size}"
            )
        cproc = client.process
        conn = got.conn
        parts = got.parts
        size = got.size
        info = MsgInfo(  # positional: pid tid chid scoid coid msglen srclen dstlen prio uid gid
            cproc.pid,
            client.tid,
            chid,
            conn.scoid,
            conn.coid,
            size if size < rmax else rmax,
            size,
            got.rmax,
            got.prio,
            cproc.uid,
            cproc.gid,
        )
        if len(parts) == 1 and type(data := parts[0]) is bytes:  # the usual case
            return got.rcvid, data if rmax >= size else data[:rmax], info
        return got.rcvid, _gather(parts, 0, rmax), info

    @staticmethod
    def _inherit(t: KThread, ch: Channel, prio: int) -> None:
        """The receiver runs at the sender's priority (not on a fixed-priority channel)."""
        if ch.inherit:
            t.prio = prio

    @staticmethod
    def _boost(ch: Channel, prio: int) -> None:
        """A client queues behind busy server threads: they run at its priority until their
        next MsgReceive, so a thread of middling priority cannot hold it up (QNX's
        priority inheritance through the send queue)."""
        for held in ch.replyq.values():
            server = held.server
            if server is not None and server.prio < prio:
                server.prio = prio

    def _deliver(self, tx: Transaction, receiver: KThread | None) -> None:
        """Hand `tx` to a server thread: the client becomes REPLY-blocked."""
        tx.rcvid = self._next_rcvid
        self._next_rcvid += 1
        self._rcvids[tx.rcvid] = tx
        tx.channel.replyq[tx.rcvid] = tx
        tx.client.state = _REPLY
        if receiver is not None:
            tx.server = receiver
            receiver.handoff = tx
            if tx.channel.inherit:  # _inherit and make_ready, inlined (hot path)
                receiver.prio = tx.prio
            if receiver.blocked:
                receiver.blocked = False
                self.sched.ready.append(receiver)

    def _lookup(self, t: KThread, rcvid: int) -> Transaction:
        tx = self._rcvids.get(rcvid)
        if tx is None or tx.done or tx.channel.owner is not t.process:
            raise oserror(ESRCH)
        return tx

    def msg_reply(
        self, t: KThread, rcvid: int, status: int, parts: Sequence[bytes | memoryview]
    ) -> None:
        sched = self.sched
        if t.proxy is not None and not sched.on_cpu():  # kcall, inlined (hot path)
            sched.call_as(t, partial(self.msg_reply, t, rcvid, status, parts))
            return
        sched.clock._now += KCALL_COST  # sched.tick(t), inlined (hot path)
        t.budget -= 1
        if sched.inbox or sched.timers or t.process.dying:
            sched.reschedule(t)
        elif sched.ready:  # the usual case: only the preemption check is due
            sched.preempt(t)
        tx = self._rcvids.get(rcvid)  # _lookup, inlined (hot path)
        if tx is None or tx.done or tx.channel.owner is not t.process:
            raise oserror(ESRCH)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        if type(data) is bytes and len(data) <= tx.rmax and not tx.reply:
            tx.reply = data  # what _write_reply keeps for the usual reply, without the call
        else:
            self._write_reply(tx, data, 0)
        if sched.trace is not None:
            sched.trace.emit(f"reply rcvid={rcvid} status={status}")
        self._finish(tx, status=status)
        if tx.client.prio > t.prio:  # the client outranks us: it runs now
            sched.preempt(t)

    @kcall
    def msg_error(self, t: KThread, rcvid: int, err: int) -> None:
        self.enter(t)
        tx = self._lookup(t, rcvid)
        if self.sched.trace is not None:
            self.sched.trace.emit(f"error rcvid={rcvid} errno={err}")
        self._finish(tx, err=err)
        if tx.client.prio > t.prio:
            self.sched.preempt(t)

    @kcall
    def msg_read(self, t: KThread, rcvid: int, nbytes: int, offset: int) -> bytes:
        """`nbytes` of the message from `offset`, clipped to its end (past it: b"")."""
        self.enter(t)
        tx = self._lookup(t, rcvid)
        if offset < 0 or nbytes < 0:
            raise oserror(EINVAL)
        return _gather(tx.parts, offset, nbytes)

    @kcall
    def msg_read_into(
        self, t: KThread, rcvid: int, buf: bytearray | memoryview, nbytes: int, offset: int
    ) -> int:
        """QNX ``MsgRead(rcvid, msg, bytes, offset)``: copy `nbytes` of the message from
        `offset` (clipped to its end) straight into `buf`; the number copied.  EINVAL for
        a negative count or offset; EFAULT where `buf` cannot take `nbytes` (read-only,
        not a contiguous buffer, or too small), as a fault on the receiver's buffer."""
        self.enter(t)
        tx = self._lookup(t, rcvid)
        if offset < 0 or nbytes < 0:
            raise oserror(EINVAL)
        try:
            view = memoryview(buf)
        except TypeError:
            raise oserror(EFAULT) from None
        with view:
            if view.readonly or not view.c_contiguous or nbytes > view.nbytes:
                raise oserror(EFAULT)
            with view.cast("B") as dest:
                return _copy_into(tx.parts, offset, dest[:nbytes])

    @kcall
    def msg_write(self, t: KThread, rcvid: int, data: bytes, offset: int) -> int:
        self.enter(t)
        tx = self._lookup(t, rcvid)
        if offset < 0:
            raise oserror(EINVAL)
        return self._write_reply(tx, data, offset)

    @staticmethod
    def _write_reply(tx: Transaction, data: bytes | memoryview, offset: int) -> int:
        """Copy into the client's reply buffer, clipped to its size (silent truncation).

        The usual reply (all of it, at offset 0, into an empty buffer) is copied once: an
        immutable bytes object is kept as it is (a large read is then not copied again
        here, nor by ``bytes(tx.reply)`` in msg_sendv), a view of the server's buffer
        (e.g. a driver's DMA buffer) becomes bytes with one copy.  Anything else goes
        through a bytearray.
        """
        n = max(0, min(len(data), tx.rmax - offset))
        if not n:
            return 0
        if offset == 0 and not tx.reply:
            if type(data) is bytes:
                tx.reply = data if n == len(data) else data[:n]
            else:
                tx.reply = bytes(data[:n])
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
        client = tx.client
        if client.blocked:  # sched.make_ready, inlined (hot path)
            client.blocked = False
            self.sched.ready.append(client)

    def _abandon(self, tx: Transaction) -> None:
        """The client gave up (timeout or its own teardown): forget the message."""
        if tx in tx.channel.sendq:
            tx.channel.sendq.remove(tx)
        tx.channel.replyq.pop(tx.rcvid, None)
        self._rcvids.pop(tx.rcvid, None)
        tx.done = True

    # -- pulses --------------------------------------------------------------------

    @kcall
    def msg_send_pulse(self, t: KThread, coid: int, priority: int, code: int, value: int) -> None:
        """A pulse at `priority` (-1: the caller's), queued by priority on the channel."""
        self.enter(t)
        conn = t.process.connections.get(coid)
        if conn is None or conn.channel is None:
            raise oserror(EBADF)
        if not PulseCode.MINAVAIL <= code <= PulseCode.MAXAVAIL:
            raise oserror(EINVAL)
        prio = t.prio if priority == -1 else priority
        if not PRIO_MIN <= prio <= PRIO_MAX:
            raise oserror(EINVAL)
        self._post_pulse(conn.channel, Pulse(code, value, conn.scoid), prio)
        if self.sched.ready:
            self.sched.preempt(t)

    def _post_pulse(self, ch: Channel, pulse: Pulse, prio: int) -> None:
        if self.sched.trace is not None:
            self.sched.trace.emit(
                f"pulse -> {ch.owner.pid}/{ch.chid} code={pulse.code} prio={prio}"
            )
        item = PendingPulse(pulse.pack(), prio)
        if ch.receivers:
            r = ch.receivers.popleft()
            r.handoff = item
            self._inherit(r, ch, prio)
            self.sched.make_ready(r)
        else:
            enqueue_by_prio(ch.pulses, item)

"""A lean client for QEMU's qtest text protocol (QEMU 7.2 ``softmmu/qtest.c``).

The protocol is line based: one command per line, words separated by single
spaces, numbers in C ``strtoul`` base-0 form.  Every command gets exactly one
reply line, ``OK [...]``, ``FAIL <reason>`` or ``ERR <reason>``.  QEMU may
interleave asynchronous event lines (``IRQ raise N`` / ``IRQ lower N`` once
an IRQ is intercepted) before a reply, or send them while no command is in
flight; they are recorded (and handed to :attr:`QtestClient.on_irq`), not taken
as the reply, and :meth:`QtestClient.pump` reads those sent between commands.

One command is one write and a read up to the newline.  Every read has
a timeout; a closed connection, a timeout or an interrupted exchange leaves
the client *broken* (the request/reply pairing is lost) and every later
command raises :class:`~qrv.errors.MachineLost` (a MachineError) at once.  A lock makes each
exchange atomic, since qrv's processes are threads sharing one machine.

Posted stores (:meth:`QtestClient.post_store`): a memory write on PCI is a posted
transaction, and so is a ``writel`` here: it is sent and its ``OK`` is read later,
by the next command (QEMU answers in order, so those replies come before its own),
by :meth:`QtestClient.flush`, or by the event pump.  QEMU executes the commands in
the order sent, so a later load sees the store, as a PCI read sees the writes
posted before it.  A posted store's ``FAIL``/``ERR`` reply is kept and raised as a
:class:`~qrv.errors.BusError` by the next command; a lost QEMU is
:class:`~qrv.errors.MachineLost` where it is seen (at once, if the send fails).  At
most :data:`MAX_POSTED` replies are owed, so QEMU never blocks on a full socket.
"""

from __future__ import annotations

import base64
import contextlib
import os
import select
import socket
import threading
from collections import deque
from collections.abc import Callable

from qrv.errors import BusError, MachineLost

RECV_SIZE = 1 << 16
LOAD_COMMANDS = {1: "readb", 2: "readw", 4: "readl", 8: "readq"}
STORE_COMMANDS = {1: "writeb", 2: "writew", 4: "writel", 8: "writeq"}
REPLY_OK = b"OK"
EVENT_PREFIX = b"IRQ"
IRQ_RAISE = b"raise"
IRQ_LOWER = b"lower"
MAX_POSTED = 64
"""Posted stores whose replies may be owed at once (then a store waits for them)."""


class QtestClient:
    """One qtest connection.  `describe_loss()` explains a lost connection
    (e.g. "QEMU exited with status -9"); it is called only on failure."""

    def __init__(
        self,
        sock: socket.socket,
        timeout: float,
        describe_loss: Callable[[], str] | None = None,
    ) -> None:
        self._sock = sock
        self._sock.settimeout(timeout)
        self._timeout = timeout
        self._describe_loss = describe_loss or (lambda: "QEMU closed the qtest connection")
        self._lock = threading.RLock()  # when_settled may be called from on_irq
        self._rest = b""
        self._broken: str | None = None
        self._posted: deque[str] = deque()
        """Posted commands whose replies are still owed, oldest first."""
        self._posted_failure: str | None = None
        """The first non-OK reply to a posted command, raised by the next command."""
        self.round_trips = 0
        """Exchanges that waited for QEMU's reply (commands, and flushes of posted stores)."""
        self.posted = 0
        """Stores posted (sent without waiting)."""
        self._taken = 0
        self._settle_waiters: deque[tuple[int, Callable[[], None]]] = deque()
        """(posts sent when asked, callback) of :meth:`when_settled`, oldest first."""
        self.irq_levels: dict[int, bool] = {}
        """Last level QEMU reported per intercepted IRQ line (``IRQ raise/lower N``)."""
        self.on_irq: Callable[[int, bool], None] | None = None
        """Called with (line, level) for each event line, under the exchange lock: it must
        not send commands."""

    @property
    def broken(self) -> str | None:
        """Why the connection is unusable, or None while it works."""
        return self._broken

    def close(self, reason: str = "the qtest connection is closed") -> None:
        """Close the socket; later commands fail with `reason`."""
        with self._lock:
            if self._broken is None:
                self._broken = reason
            self._sock.close()

    # -- one exchange --------------------------------------------------------------------

    def command(self, line: str) -> bytes:
        """Send one command; return what follows ``OK `` in the reply (may be empty).

        ``FAIL``/``ERR`` replies raise :class:`BusError` (also one owed to an earlier
        posted store); a lost or silent QEMU raises :class:`MachineLost`.
        """
        with self._lock:
            reply = self._exchange(line, wait=True)
        if _is_ok(reply):
            return reply[3:]
        raise BusError(f"qtest {_head(line)!r}: QEMU replied {reply.decode(errors='replace')!r}")

    def post_store(self, paddr: int, width: int, value: int) -> None:
        """A posted ``writeb/w/l/q``: sent now, its reply read later (see the module)."""
        line = f"{STORE_COMMANDS[width]} {paddr:#x} {value:#x}"
        with self._lock:
            if len(self._posted) >= MAX_POSTED:
                self._exchange(None, wait=True)
            self._exchange(line, wait=False)
            self._posted.append(line)
            self.posted += 1

    def when_settled(self, callback: Callable[[], None]) -> bool:
        """Call `callback` once every store posted so far has its reply (whoever reads
        it: a command, :meth:`flush` or the pump; under the exchange lock, so it must
        not send commands).  False, and no call, if no reply is owed now."""
        with self._lock:
            if not self._posted:
                return False
            self._settle_waiters.append((self.posted, callback))
            return True

    def flush(self) -> None:
        """Read the replies owed to posted stores (and the event lines before them):
        afterwards every IRQ level QEMU changed while executing them is known.  A
        failed store is still raised by the next command; a lost QEMU here."""
        if not self._posted:
            return
        with self._lock:
            self._exchange(None, wait=True)

    def _exchange(self, line: str | None, *, wait: bool) -> bytes:
        """Under the lock: send `line` (if any); with `wait`, read the replies owed to
        posted commands, then `line`'s.  Breaks the client on a loss."""
        what = line if line is not None else (self._posted[0] if self._posted else "flush")
        if self._broken is not None:
            raise MachineLost(f"qtest {_head(what)!r}: {self._broken}", self._broken)
        try:
            if line is not None:
                self._send(line.encode("ascii") + b"\n")
            if not wait:
                return b""
            self.round_trips += 1
            while self._posted:
                what = self._posted[0]
                self._posted_reply(self._reply(what))
            reply = self._reply(line) if line is not None else REPLY_OK
            self._take_lines()  # events read with the reply: none waits for more bytes
        except BaseException as exc:
            self._broken = self._loss_reason(exc, what)
            if isinstance(exc, OSError):
                raise MachineLost(f"qtest {_head(what)!r}: {self._broken}", self._broken) from exc
            raise
        if line is not None and self._posted_failure is not None:
            failure, self._posted_failure = self._posted_failure, None
            raise BusError(failure)
        return reply

    def _send(self, data: bytes) -> None:
        """Write one command line.  The socket is non-blocking under its timeout, so a
        plain write goes out at once (``sendall`` first polls the socket: one system
        call more per command, two a 4 KiB read); a full socket buffer falls back to
        ``sendall``'s timed wait for the rest."""
        sent = 0
        with contextlib.suppress(BlockingIOError):
            sent = os.write(self._sock.fileno(), data)
        if sent < len(data):
            self._sock.sendall(data[sent:])

    def _posted_reply(self, reply: bytes) -> None:
        """The reply to the oldest posted command: a failure is kept for the next caller."""
        line = self._posted.popleft()
        self._taken += 1
        if not _is_ok(reply) and self._posted_failure is None:
            text = reply.decode(errors="replace")
            self._posted_failure = f"qtest {_head(line)!r} (posted): QEMU replied {text!r}"
        while self._settle_waiters and self._settle_waiters[0][0] <= self._taken:
            self._settle_waiters.popleft()[1]()

    def _loss_reason(self, exc: BaseException, line: str) -> str:
        if isinstance(exc, TimeoutError):
            return f"QEMU did not answer within {self._timeout:g} s"
        if isinstance(exc, OSError):
            return self._describe_loss()
        return f"an exchange ({_head(line)!r}) was interrupted by {type(exc).__name__}"

    def _reply(self, line: str) -> bytes:
        while True:
            reply = self._readline()
            if not reply.startswith(EVENT_PREFIX):
                return reply
            self._event(reply)

    def _readline(self) -> bytes:
        buf = self._rest
        nl = buf.find(b"\n")
        if nl < 0:
            parts = [buf]
            size = len(buf)
            while True:
                chunk = self._sock.recv(RECV_SIZE)
                if not chunk:
                    raise ConnectionResetError("EOF on the qtest socket")
                parts.append(chunk)
                nl = chunk.find(b"\n")
                if nl >= 0:
                    nl += size
                    buf = b"".join(parts)
                    break
                size += len(chunk)
        self._rest = buf[nl + 1 :]
        return buf[:nl]

    def _event(self, line: bytes) -> None:
        words = line.split()
        if len(words) == 3 and words[1] in (IRQ_RAISE, IRQ_LOWER) and words[2].isdigit():
            line_no, level = int(words[2]), words[1] == IRQ_RAISE
            self.irq_levels[line_no] = level
            if self.on_irq is not None:
                self.on_irq(line_no, level)

    def pump(self) -> bool:
        """Handle what QEMU sent while no command was in flight (never blocks): event
        lines, and replies owed to posted stores.

        A command in flight reads them itself (this returns at once); False once the
        connection is unusable.
        """
        if not self._lock.acquire(blocking=False):
            return True
        try:
            return self._drain()
        finally:
            self._lock.release()

    def fileno(self) -> int:
        """The socket's descriptor, for a caller's own ``select`` (-1 once unusable)."""
        return -1 if self._broken is not None else self._sock.fileno()

    def take_events(self) -> bool:
        """Handle what QEMU sent, as :meth:`pump` does, but after waiting for a command
        in flight to end (it reads its own reply); for a caller whose ``select`` found
        the socket readable.  False once the connection is unusable."""
        with self._lock:
            return self._drain()

    def wait_events(self, timeout: float) -> bool:
        """Block until QEMU sends something or `timeout` (s) passes, then handle it as
        :meth:`pump` does (waiting for a command in flight to end first, since that
        command reads its own reply).  False once the connection is unusable."""
        try:
            readable = select.select([self._sock], [], [], timeout)[0]
        except (OSError, ValueError):  # closed meanwhile
            return self._broken is None
        if not readable:
            return self._broken is None
        return self.take_events()

    def _drain(self) -> bool:
        """Under the lock: read what is buffered, handle its complete lines."""
        if self._broken is not None:
            return False
        try:
            while True:  # one read of the non-blocking socket, where it was select + recv
                chunk = os.read(self._sock.fileno(), RECV_SIZE)
                if not chunk:
                    self._broken = self._describe_loss()
                    return False
                self._rest += chunk
                if len(chunk) < RECV_SIZE:  # all there was (a stream socket gives it all)
                    break
        except BlockingIOError:
            pass  # nothing more
        except (OSError, ValueError) as exc:  # ValueError: the socket closed under us
            self._broken = self._loss_reason(exc, "(events)")
            return False
        self._take_lines()
        return True

    def _take_lines(self) -> None:
        """Handle the complete lines buffered while no command waits: event lines, and
        replies owed to posted stores."""
        while (nl := self._rest.find(b"\n")) >= 0:
            line = self._rest[:nl]
            if line.startswith(EVENT_PREFIX):
                self._event(line)
            elif self._posted:
                self._posted_reply(line)
            else:
                break  # not ours to take (cannot happen: every reply is owed)
            self._rest = self._rest[nl + 1 :]

    # -- the commands qrv uses -----------------------------------------------------------

    def load(self, paddr: int, width: int) -> int:
        """``readb/w/l/q``: one access of `width` bytes (reply ``OK 0x%016x``)."""
        reply = self.command(f"{LOAD_COMMANDS[width]} {paddr:#x}")
        try:
            return int(reply, 16)
        except ValueError:
            raise BusError(f"qtest load at {paddr:#x}: unreadable reply {reply!r}") from None

    def store(self, paddr: int, width: int, value: int) -> None:
        """``writeb/w/l/q``: one access of `width` bytes, waiting for its reply."""
        self.command(f"{STORE_COMMANDS[width]} {paddr:#x} {value:#x}")

    def b64read(self, paddr: int, size: int) -> bytes:
        """``b64read``: `size` (> 0) bytes through QEMU's address_space_read."""
        data = base64.b64decode(self.command(f"b64read {paddr:#x} {size:#x}"))
        if len(data) != size:
            raise BusError(f"qtest b64read at {paddr:#x}: expected {size} bytes, got {len(data)}")
        return data

    def b64write(self, paddr: int, data: bytes) -> None:
        """``b64write``: `data` (non-empty) through QEMU's address_space_write."""
        encoded = base64.b64encode(data).decode("ascii")
        self.command(f"b64write {paddr:#x} {len(data):#x} {encoded}")

    def memset(self, paddr: int, size: int, value: int) -> None:
        """``memset``: fill `size` bytes with the byte `value`."""
        self.command(f"memset {paddr:#x} {size:#x} {value & 0xFF:#x}")


def _is_ok(reply: bytes) -> bool:
    return reply[:2] == REPLY_OK and (len(reply) == 2 or reply[2:3] == b" ")


def _head(line: str) -> str:
    """The command as named in an error: its first words, not a long payload."""
    return " ".join(line.split(" ", 3)[:3])

"""A lean client for QEMU's qtest text protocol (QEMU 7.2 ``softmmu/qtest.c``).

The protocol is line based: one command per line, words separated by single
spaces, numbers in C ``strtoul`` base-0 form.  Every command gets exactly one
reply line, ``OK [...]``, ``FAIL <reason>`` or ``ERR <reason>``.  QEMU may
interleave asynchronous event lines (``IRQ raise N`` / ``IRQ lower N`` once
an IRQ is intercepted) before a reply, or send them while no command is in
flight; they are recorded (and handed to :attr:`QtestClient.on_irq`), not taken
as the reply, and :meth:`QtestClient.pump` reads those sent between commands.

One command is one ``sendall`` and a read up to the newline.  Every read has
a timeout; a closed connection, a timeout or an interrupted exchange leaves
the client *broken* (the request/reply pairing is lost) and every later
command raises :class:`~qrv.errors.MachineLost` (a MachineError) at once.  A lock makes each
exchange atomic, since qrv's processes are threads sharing one machine.
"""

from __future__ import annotations

import base64
import select
import socket
import threading
from collections.abc import Callable

from qrv.errors import BusError, MachineLost

RECV_SIZE = 1 << 16
LOAD_COMMANDS = {1: "readb", 2: "readw", 4: "readl", 8: "readq"}
STORE_COMMANDS = {1: "writeb", 2: "writew", 4: "writel", 8: "writeq"}
REPLY_OK = b"OK"
EVENT_PREFIX = b"IRQ"
IRQ_RAISE = b"raise"
IRQ_LOWER = b"lower"


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
        self._lock = threading.Lock()
        self._rest = b""
        self._broken: str | None = None
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

        ``FAIL``/``ERR`` replies raise :class:`BusError`; a lost or silent QEMU
        raises :class:`MachineLost`.
        """
        with self._lock:
            if self._broken is not None:
                raise MachineLost(f"qtest {_head(line)!r}: {self._broken}", self._broken)
            try:
                self._sock.sendall(line.encode("ascii") + b"\n")
                reply = self._reply(line)
            except BaseException as exc:
                self._broken = self._loss_reason(exc, line)
                if isinstance(exc, OSError):
                    raise MachineLost(
                        f"qtest {_head(line)!r}: {self._broken}", self._broken
                    ) from exc
                raise
        if reply[:2] == REPLY_OK and (len(reply) == 2 or reply[2:3] == b" "):
            return reply[3:]
        raise BusError(f"qtest {_head(line)!r}: QEMU replied {reply.decode(errors='replace')!r}")

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
        """Handle the event lines QEMU sent while no command was in flight (never blocks).

        A command in flight reads them itself (this returns at once); False once the
        connection is unusable.
        """
        if not self._lock.acquire(blocking=False):
            return True
        try:
            if self._broken is not None:
                return False
            try:
                while select.select([self._sock], [], [], 0)[0]:
                    chunk = self._sock.recv(RECV_SIZE)
                    if not chunk:
                        self._broken = self._describe_loss()
                        return False
                    self._rest += chunk
            except OSError as exc:
                self._broken = self._loss_reason(exc, "(events)")
                return False
            while (nl := self._rest.find(b"\n")) >= 0 and self._rest.startswith(EVENT_PREFIX):
                line, self._rest = self._rest[:nl], self._rest[nl + 1 :]
                self._event(line)
            return True
        finally:
            self._lock.release()

    # -- the commands qrv uses -----------------------------------------------------------

    def load(self, paddr: int, width: int) -> int:
        """``readb/w/l/q``: one access of `width` bytes (reply ``OK 0x%016x``)."""
        reply = self.command(f"{LOAD_COMMANDS[width]} {paddr:#x}")
        try:
            return int(reply, 16)
        except ValueError:
            raise BusError(f"qtest load at {paddr:#x}: unreadable reply {reply!r}") from None

    def store(self, paddr: int, width: int, value: int) -> None:
        """``writeb/w/l/q``: one access of `width` bytes."""
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


def _head(line: str) -> str:
    """The command as named in an error: its first words, not a long payload."""
    return " ".join(line.split(" ", 3)[:3])

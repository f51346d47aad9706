"""One pipe: a bounded byte queue with its blocked readers and writers.

POSIX semantics (``pipe(7)``): a read of an empty pipe blocks while a
writer is left and gives end of file (0 bytes) once none is; a write blocks
while the pipe is full, and fails with EPIPE when no reader is left (a
writer blocked then gets EPIPE too).  A write of at most :data:`PIPE_BUF`
bytes goes in whole or waits; a longer one takes what room there is.

Nothing here sends a message: the server replies to what :meth:`Pipe.wake`
returns, so the queue logic is a pure state machine (tested on its own).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from qrv.spec.iomsg import EPIPE

CAPACITY = 65536
"""Bytes a pipe holds before writers block."""
PIPE_BUF = 4096
"""Writes up to this size are atomic (POSIX ``PIPE_BUF``)."""


@dataclass(eq=False)
class Waiter:
    """A blocked client: its rcvid, its open (the OCB key) and what it asked for."""

    rcvid: int
    owner: object
    nbytes: int = 0
    data: bytes = b""


@dataclass(frozen=True)
class Answer:
    """A reply owed to a blocked client: data for a reader, a count for a writer, or errno."""

    rcvid: int
    data: bytes = b""
    count: int = 0
    err: int = 0


@dataclass(eq=False)
class Pipe:
    number: int
    buf: bytearray = field(default_factory=bytearray)
    readers: int = 0
    writers: int = 0
    opens: int = 0
    blocked_readers: deque[Waiter] = field(default_factory=deque)
    blocked_writers: deque[Waiter] = field(default_factory=deque)

    # -- what a request gets at once (None: it must wait) -------------------------------

    def read(self, nbytes: int) -> bytes | None:
        """Up to `nbytes` now, b"" at end of file, or None (the reader must block)."""
        if self.buf:
            data = bytes(self.buf[:nbytes])
            del self.buf[:nbytes]
            return data
        if self.writers == 0 or nbytes == 0:
            return b""
        return None

    def write(self, data: bytes) -> int | None:
        """Bytes taken now (EPIPE as -EPIPE), or None (the writer must block)."""
        if self.readers == 0:
            return -EPIPE
        room = CAPACITY - len(self.buf)
        if not data:
            return 0
        if room <= 0 or (len(data) <= PIPE_BUF and room < len(data)):
            return None
        n = min(room, len(data))
        self.buf += data[:n]
        return n

    # -- after any change: who can go on --------------------------------------------------

    def wake(self) -> list[Answer]:
        """Serve blocked clients in arrival order while they can go on."""
        answers: list[Answer] = []
        progress = True
        while progress:
            progress = False
            while self.blocked_writers:
                w = self.blocked_writers[0]
                n = self.write(w.data)
                if n is None:
                    break
                self.blocked_writers.popleft()
                answers.append(Answer(w.rcvid, err=EPIPE) if n < 0 else Answer(w.rcvid, count=n))
                progress = True
            while self.blocked_readers:
                r = self.blocked_readers[0]
                data = self.read(r.nbytes)
                if data is None:
                    break
                self.blocked_readers.popleft()
                answers.append(Answer(r.rcvid, data=data))
                progress = True
        return answers

    def forget(self, owner: object) -> None:
        """Drop the blocked requests of a closed open (its client is gone)."""
        self.blocked_readers = deque(w for w in self.blocked_readers if w.owner is not owner)
        self.blocked_writers = deque(w for w in self.blocked_writers if w.owner is not owner)

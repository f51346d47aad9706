"""The kernel's objects: processes, threads, channels, connections, messages in flight.

A process is a pid, a name, credentials, stdio streams and tables of
channels, connections and mappings; it runs as one or more
:class:`KThread`, each a greenlet the scheduler (:mod:`qrv.kernel.sched`)
switches to.  "The current thread" is what libc-style calls act on.

Teardown (``Kernel.exit_process``) marks the process dying and readies
its blocked threads; each raises :class:`ProcessKilled` when it runs
again, so no thread stays blocked in the kernel.

This module imports no other kernel module but :mod:`qrv.kernel.mm`
(the mapping type): every other one builds on it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, BinaryIO

from qrv.kernel.mm import PhysMapping
from qrv.spec.iomsg import ESRCH, ChannelFlag, ThreadState, oserror

EXIT_CRASHED = -11
"""Exit status of a process torn down by an uncaught exception ("SIGSEGV")."""
EXIT_KILLED = -9
"""Exit status of a process killed by the kernel (shutdown)."""
SIGINT = 2
"""The terminal's interrupt signal (^C); its default action ends the process."""
EXIT_INTERRUPTED = -SIGINT
"""Exit status of a process ended by SIGINT (a shell shows 128 + 2 = 130)."""

PRIO_MIN = 1
PRIO_MAX = 255
"""QNX's range of thread priorities for non-idle threads (0 is the idle thread's)."""
DEFAULT_PRIORITY = 10
"""What a process's first thread starts at (QNX's default for programs)."""


class Policy(IntEnum):
    """Scheduling policies (``<sched.h>``: SCHED_FIFO 1, SCHED_RR 2)."""

    FIFO = 1
    RR = 2

    @property
    def letter(self) -> str:
        """pidin's suffix: ``10r``, ``21f``."""
        return "f" if self is Policy.FIFO else "r"


DEFAULT_POLICY = Policy.RR

FIRST_FD = 3
"""fds 0..2 are the process's console streams (stdin, stdout, stderr)."""


class ProcessKilled(BaseException):
    """Raised in a thread of a process that is being torn down.

    A BaseException so that a program's ``except Exception`` does not
    swallow its own teardown.
    """


class ProcessExit(BaseException):
    """``exit(status)``: end the whole process from any of its threads."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Stdio:
    """A process's console streams (binary)."""

    stdin: BinaryIO
    stdout: BinaryIO
    stderr: BinaryIO


@dataclass(eq=False, slots=True)
class KThread:
    """A kernel thread: scheduling parameters, its state for pidin, what it was handed."""

    tid: int
    process: Process
    name: str = ""
    state: ThreadState = ThreadState.READY
    blocked_on: int = 0
    """Server pid when SEND/REPLY-blocked, chid when RECEIVE-blocked, tid when JOIN."""
    handoff: Transaction | PendingPulse | None = None
    """What a RECEIVE-blocked thread was given: a message or a pulse."""
    prio: int = DEFAULT_PRIORITY
    """Effective priority: `base_prio`, or a client's while serving it (inheritance)."""
    base_prio: int = DEFAULT_PRIORITY
    policy: Policy = DEFAULT_POLICY
    budget: int = 0
    """Kernel calls left in a SCHED_RR thread's time slice."""
    glet: Any = None
    """The greenlet that runs the thread."""
    proxy: Any = None
    """For a host thread adopted as a process (tests): the bridge its calls go over."""
    blocked: bool = False
    """Off the ready list, waiting to be woken (by an event, a timeout or teardown)."""
    timed_out: bool = False
    wait_seq: int = 0
    """Bumped at every block, so a stale timer cannot wake a later wait."""
    done: bool = False
    joiners: list[KThread] = field(default_factory=list)
    tx: Transaction | None = None
    """The record of its last MsgSend, reused by the next one (one allocation less)."""


@dataclass(eq=False, slots=True, weakref_slot=True)
class Process:
    """A process: ids, credentials, stdio and its kernel object tables."""

    kernel: Any
    """The :class:`~qrv.kernel.kernel.Kernel` it runs on (typed where used)."""
    pid: int
    name: str
    uid: int
    gid: int
    stdio: Stdio
    parent: int = 0
    threads: dict[int, KThread] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    connections: dict[int, Connection] = field(default_factory=dict)
    mappings: list[PhysMapping] = field(default_factory=list)
    next_tid: int = 1
    next_chid: int = 1
    dying: bool = False
    ready: bool = False
    status: int | None = None
    crashed: bool = False
    log_traceback: bool = False
    """A crash logs the traceback too (a user's program: ``log_traceback`` on its entry)."""
    exited: threading.Event = field(default_factory=threading.Event)
    """Set at teardown (host threads wait on it)."""
    waiters: list[KThread] = field(default_factory=list)
    """Threads blocked in waitpid on this process."""
    env: dict[str, str] = field(default_factory=dict)
    """The environment (``environ``): a child starts with a copy of its spawner's."""
    cwd: str = "/"
    """The current working directory (relative paths start there); inherited."""
    umask: int = 0o022
    """The file mode creation mask (POSIX ``umask``), applied by lib.c to the mode of a
    new file or directory; inherited."""


@dataclass(eq=False, slots=True)
class PendingPulse:
    """A pulse queued on a channel (or handed to a receiver), with its priority."""

    data: bytes
    prio: int


@dataclass(eq=False, slots=True)
class Channel:
    chid: int
    owner: Process
    flags: ChannelFlag
    sendq: list[Transaction] = field(default_factory=list)
    """SEND-blocked clients, by priority then arrival."""
    receivers: deque[KThread] = field(default_factory=deque)
    pulses: list[PendingPulse] = field(default_factory=list)
    """Queued pulses, by priority then arrival."""
    replyq: dict[int, Transaction] = field(default_factory=dict)
    connections: set[Connection] = field(default_factory=set)
    scoids: dict[int, list[int]] = field(default_factory=dict)
    """client pid -> [scoid, number of connections]."""
    destroyed: bool = False
    inherit: bool = True
    """Receivers run at the sender's priority (no ``_NTO_CHF_FIXED_PRIORITY``)."""
    disconnect: bool = False
    """``_NTO_CHF_DISCONNECT``: a client's last detach is a pulse."""

    def __post_init__(self) -> None:
        self.inherit = not self.flags & ChannelFlag.FIXED_PRIORITY
        self.disconnect = bool(self.flags & ChannelFlag.DISCONNECT)


@dataclass(eq=False, slots=True)
class Connection:
    coid: int
    owner: Process
    channel: Channel | None
    server_pid: int
    chid: int
    scoid: int


@dataclass(eq=False, slots=True)
class Transaction:
    """One MsgSend in flight: the client's message and its reply buffer (each thread
    keeps its last one, `KThread.tx`, and reuses it for its next send)."""

    client: KThread
    conn: Connection
    channel: Channel
    parts: Sequence[bytes | memoryview]
    """The client's message as it sent it (its iov: bytes, or byte views of its buffers),
    not joined: the kernel copies from the parts straight into a receiver's buffer."""
    size: int
    """The message's length: the parts' lengths summed."""
    rmax: int
    prio: int
    rcvid: int = 0
    reply: bytes | bytearray = b""
    """Written by MsgReply/MsgWrite; a whole reply at offset 0 is kept as the bytes given."""
    status: int = 0
    err: int = 0
    done: bool = False
    server: KThread | None = None
    """The thread that received it (boosted while a higher-priority client waits)."""


def enqueue_by_prio(queue: list[Any], item: Any) -> None:
    """Insert `item` (with ``.prio``) after every entry of the same or higher priority."""
    i = len(queue)
    while i and queue[i - 1].prio < item.prio:
        i -= 1
    queue.insert(i, item)


@dataclass(frozen=True)
class ThreadInfo:
    """One pidin row's thread part."""

    tid: int
    state: str
    blocked: str
    prio: int = DEFAULT_PRIORITY
    policy: str = DEFAULT_POLICY.letter


@dataclass(frozen=True)
class ProcInfo:
    """What ``pidin`` shows of one process."""

    pid: int
    name: str
    threads: tuple[ThreadInfo, ...]


_RUNNING: ContextVar[KThread | None] = ContextVar("qrv_running", default=None)
"""The kernel thread the caller runs.  A context variable, because every greenlet has
a context of its own (greenlet swaps them at each switch) as every host thread has:
a thread's greenlet sets it once when it starts (:meth:`Scheduler.start
<qrv.kernel.sched.Scheduler.start>`), an adopted host thread once for its own context
(:func:`set_current`), and a switch costs nothing more.  The CPU thread's idle loop
and plain host threads see None.  (A ``threading.local`` had to be written at every
switch; each access costs ~3x a context variable's ``get``.)"""

current_or_none: Callable[[], KThread | None] = _RUNNING.get
"""The calling thread's kernel thread, or None on a plain host thread (a C call: the
message-passing calls of libc use it on their hot path, falling back on :func:`current`
for the error)."""


def current() -> KThread:
    """The calling thread's kernel thread; ESRCH if the caller is not in a process."""
    t = _RUNNING.get()
    if t is None:
        raise oserror(ESRCH, "not running in a qrv process")
    return t


def set_current(t: KThread | None) -> None:
    """Name `t` the kernel thread of the calling greenlet (in its own context)."""
    _RUNNING.set(t)


def blocked_text(t: KThread) -> str:
    """pidin's Blocked column: server pid for SEND/REPLY, chid for RECEIVE."""
    if t.state in (ThreadState.SEND, ThreadState.REPLY, ThreadState.RECEIVE):
        return str(t.blocked_on)
    return ""

"""Processes and threads: the objects, the per-thread "current" context, pidin data.

A process is a pid, a name, credentials, stdio streams and tables of
channels, connections and mappings; it runs as one or more host threads,
each a :class:`KThread`.  The kernel sets a thread-local "current thread"
so libc-style calls act on the calling process.

Teardown (``Kernel.exit_process``) marks the process dying; its other
threads raise :class:`ProcessKilled` at their next kernel entry or when a
blocking wait wakes, so no thread stays blocked in the kernel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

from qrv.spec.iomsg import ESRCH, ThreadState, oserror

if TYPE_CHECKING:
    from qrv.kernel.ipc import Channel, Connection, Transaction
    from qrv.kernel.kernel import Kernel
    from qrv.kernel.mm import Mapping

EXIT_CRASHED = -11
"""Exit status of a process torn down by an uncaught exception ("SIGSEGV")."""
EXIT_KILLED = -9
"""Exit status of a process killed by the kernel (shutdown)."""
SIGINT = 2
"""The terminal's interrupt signal (^C); its default action ends the process."""
EXIT_INTERRUPTED = -SIGINT
"""Exit status of a process ended by SIGINT (a shell shows 128 + 2 = 130)."""

DEFAULT_PRIORITY = 10
DEFAULT_POLICY = "r"
"""pidin prints the priority with the policy letter: ``10r`` (round robin)."""

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


@dataclass(eq=False)
class KThread:
    """A kernel thread: state for pidin and the slot a receive is handed."""

    tid: int
    process: Process
    cond: threading.Condition
    state: ThreadState = ThreadState.READY
    blocked_on: int = 0
    """Server pid when SEND/REPLY-blocked, chid when RECEIVE-blocked."""
    handoff: Transaction | bytes | None = None
    """What a RECEIVE-blocked thread was given: a message or a packed pulse."""
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def kernel(self) -> Kernel:
        return self.process.kernel


@dataclass(eq=False)
class Process:
    """A process: ids, credentials, stdio and its kernel object tables."""

    kernel: Kernel
    pid: int
    name: str
    uid: int
    gid: int
    stdio: Stdio
    parent: int = 0
    threads: dict[int, KThread] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    connections: dict[int, Connection] = field(default_factory=dict)
    mappings: list[Mapping] = field(default_factory=list)
    next_tid: int = 1
    next_chid: int = 1
    dying: bool = False
    ready: bool = False
    status: int | None = None
    crashed: bool = False
    exited: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class ThreadInfo:
    """One pidin row's thread part."""

    tid: int
    state: str
    blocked: str
    prio: int = DEFAULT_PRIORITY
    policy: str = DEFAULT_POLICY


@dataclass(frozen=True)
class ProcInfo:
    """What ``pidin`` shows of one process."""

    pid: int
    name: str
    threads: tuple[ThreadInfo, ...]


_tls = threading.local()


def current() -> KThread:
    """The calling thread's kernel thread; ESRCH if the caller is not in a process."""
    t: KThread | None = getattr(_tls, "thread", None)
    if t is None:
        raise oserror(ESRCH, "not running in a qrv process")
    return t


def current_or_none() -> KThread | None:
    """The calling thread's kernel thread, or None on a plain host thread."""
    t: KThread | None = getattr(_tls, "thread", None)
    return t


def set_current(t: KThread | None) -> None:
    _tls.thread = t


def blocked_text(t: KThread) -> str:
    """pidin's Blocked column: server pid for SEND/REPLY, chid for RECEIVE."""
    if t.state in (ThreadState.SEND, ThreadState.REPLY, ThreadState.RECEIVE):
        return str(t.blocked_on)
    return ""

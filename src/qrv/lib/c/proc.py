"""Process calls: spawn, waitpid, threads, exit, readiness, scheduling, time, pidin data."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

from qrv.kernel import (
    Kernel,
    Policy,
    ProcessExit,
    ProcInfo,
    ThreadInfo,
    current_or_none,
)
from qrv.lib.c._sys import K, cur, running
from qrv.spec.iomsg import EINVAL, EPERM, oserror

__all__ = [
    "SCHED_FIFO",
    "SCHED_RR",
    "ClockTime",
    "ProcInfo",
    "SchedGet",
    "SchedSet",
    "ThreadCtl",
    "ThreadInfo",
    "clock_monotonic",
    "delay",
    "environ",
    "exit",
    "find_program",
    "getenv",
    "getgid",
    "getpid",
    "getprio",
    "gettid",
    "getuid",
    "kill",
    "proc_snapshot",
    "procmgr_ready",
    "procmgr_waitfor",
    "pthread_create",
    "pthread_join",
    "sched_yield",
    "setenv",
    "setprio",
    "spawn",
    "system_hwinfo",
    "umask",
    "unsetenv",
    "waitpid",
]

SCHED_FIFO = int(Policy.FIFO)
SCHED_RR = int(Policy.RR)
SIGNAL_LIMIT = 65
"""Signal numbers are 1..64 (QNX's _SIGMAX)."""
_NTO_TCTL_RUNMASK = 4
"""ThreadCtl commands that the model accepts and ignores (one CPU)."""
_NTO_TCTL_IO_PRIV = 1
_NTO_TCTL_IO = 14
"""I/O privilege (QNX 6's ``_NTO_TCTL_IO`` is 1, QNX 7.1+'s 14): root only, else EPERM."""


def spawn(
    entry: Callable[[list[str]], int],
    argv: list[str],
    *,
    name: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
) -> int:
    """Start `entry(argv)` as a child process (inherits stdio, credentials and priority)."""
    t = cur()
    p = t.process
    return K(t).spawn_child(
        t, entry, argv, name, p.uid if uid is None else uid, p.gid if gid is None else gid
    )


def find_program(name: str) -> Callable[[list[str]], int] | None:
    """The installed program `name` (``NAME`` or ``/bin/NAME``, from ``qrv emu --program``),
    or None: the entry to :func:`spawn`."""
    return K(cur()).program(name)


def waitpid(pid: int, timeout: float | None = None) -> int:
    """Wait for process `pid` to exit; its status."""
    t = cur()
    return K(t).waitpid(pid, timeout, t)


def getpid() -> int:
    return cur().process.pid


def gettid() -> int:
    return (running() or cur()).tid  # cur() raises ESRCH outside a process


def getuid() -> int:
    return cur().process.uid


def getgid() -> int:
    return cur().process.gid


def pthread_create(fn: Callable[[], object], name: str | None = None) -> int:
    t = cur()
    return K(t).thread_create(t, fn, name)


def pthread_join(tid: int, timeout: float | None = None) -> None:
    t = cur()
    K(t).pthread_join(t, tid, timeout)


def exit(status: int) -> NoReturn:
    """End the calling process with `status`."""
    raise ProcessExit(status)


def procmgr_ready() -> None:
    """Tell the boot this program is up (it may go on serving)."""
    t = cur()
    K(t).procmgr_ready(t)


def procmgr_waitfor(pid: int, path: str | None, timeout: float) -> bool:
    """The boot script's ``waitfor``: `pid` ready, `path` present, or `pid` gone (kernel clock)."""
    t = cur()
    return K(t).waitfor(t, pid, path, timeout)


def proc_snapshot() -> list[ProcInfo]:
    """Every live process and its threads (what pidin prints)."""
    t = cur()
    return K(t).snapshot(t)


def delay(seconds: float) -> None:
    """Sleep on the kernel's clock (NANOSLEEP state); a teardown of the caller ends it.

    Outside a qrv process (a driver layer tested on its own) it is the host's sleep.
    """
    t = current_or_none()
    if t is None:
        time.sleep(seconds)
        return
    K(t).delay(t, seconds)


def ClockTime() -> float:
    """The kernel's monotonic clock in seconds (the host's outside a qrv process)."""
    t = running()  # a C call (current_or_none): a driver reads the clock per command
    if t is None:
        return time.monotonic()
    k: Kernel = t.process.kernel
    return k.clock.now()  # a read of the clock, not a scheduling point


clock_monotonic = ClockTime


def sched_yield() -> None:
    """Let another READY thread of the same priority run."""
    t = cur()
    K(t).sched_yield(t)


def SchedGet(pid: int = 0, tid: int = 0) -> tuple[int, int, int]:
    """(priority, policy, effective priority) of thread `tid` of the caller (0: itself).

    Only the calling process (`pid` 0 or its own) is reachable, as QNX needs
    privileges otherwise.
    """
    t = cur()
    _check_pid(t.process.pid, pid)
    prio, policy, eff = K(t).sched_get(t, tid)
    return prio, int(policy), eff


def SchedSet(pid: int, tid: int, policy: int | None, prio: int) -> None:
    """Set a thread's priority (1-255) and policy (SCHED_FIFO, SCHED_RR; None keeps it)."""
    t = cur()
    _check_pid(t.process.pid, pid)
    K(t).sched_set(t, tid, prio, policy)


def getprio(pid: int = 0) -> int:
    """The calling thread's priority (QNX ``getprio``)."""
    return SchedGet(pid, 0)[0]


def setprio(pid: int, prio: int) -> None:
    """Set the calling thread's priority, keeping its policy (QNX ``setprio``)."""
    SchedSet(pid, 0, None, prio)


def ThreadCtl(cmd: int, data: Any = None) -> int:
    """``ThreadCtl``: _NTO_TCTL_RUNMASK is accepted (one CPU), the I/O privilege
    (_NTO_TCTL_IO 14, _NTO_TCTL_IO_PRIV 1) granted to root (EPERM otherwise; the
    interrupt calls check root themselves); others are EINVAL."""
    del data
    if cmd == _NTO_TCTL_RUNMASK:
        cur()
        return 0
    if cmd in (_NTO_TCTL_IO, _NTO_TCTL_IO_PRIV):
        if cur().process.uid != 0:
            raise oserror(EPERM)
        return 0
    raise oserror(EINVAL)


def _check_pid(own: int, pid: int) -> None:
    if pid not in (0, own):
        raise oserror(EPERM)


def system_hwinfo() -> Any:
    """The syspage hwinfo the kernel built from the device tree (None if none)."""
    return K(cur()).hwinfo


def environ() -> dict[str, str]:
    """A copy of the calling process's environment (a child starts with one)."""
    return dict(cur().process.env)


def getenv(name: str) -> str | None:
    return cur().process.env.get(name)


def setenv(name: str, value: str) -> None:
    """Set `name` in the calling process's environment (EINVAL: empty or with ``=``)."""
    if not name or "=" in name:
        raise oserror(EINVAL, name)
    cur().process.env[name] = value


def unsetenv(name: str) -> None:
    cur().process.env.pop(name, None)


UMASK_BITS = 0o777
"""Only the file permission bits of a mask are kept (POSIX umask)."""


def umask(mask: int) -> int:
    """Set the calling process's file mode creation mask to `mask` & 0777; the
    previous mask (POSIX ``umask``: it cannot fail).  A new process starts with its
    spawner's (the boot's processes with 022); lib.c clears its bits from the mode
    of ``open(O_CREAT)`` and ``mkdir``."""
    p = cur().process
    old, p.umask = p.umask, mask & UMASK_BITS
    return old


def creation_mode(mode: int) -> int:
    """`mode` with the calling process's umask bits cleared (the mode a new file or
    directory is asked for)."""
    mask: int = cur().process.umask
    return mode & ~mask


def kill(pid: int, signo: int) -> None:
    """Send `signo` to `pid` with its default action, termination (0: only check it exists)."""
    if not 0 <= signo < SIGNAL_LIMIT:
        raise oserror(EINVAL)
    t = cur()
    K(t).signal_kill(t, pid, signo)

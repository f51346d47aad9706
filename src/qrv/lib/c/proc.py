"""Process calls: spawn, waitpid, threads, exit, readiness, pidin data."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NoReturn

from qrv.kernel import ProcessExit, ProcessKilled, ProcInfo, ThreadInfo
from qrv.lib.c._sys import cur
from qrv.spec.iomsg import ESRCH, ETIMEDOUT, ThreadState, oserror

__all__ = [
    "ProcInfo",
    "ThreadInfo",
    "delay",
    "exit",
    "getgid",
    "getpid",
    "gettid",
    "getuid",
    "proc_snapshot",
    "procmgr_ready",
    "pthread_create",
    "pthread_join",
    "spawn",
    "system_hwinfo",
    "waitpid",
]

_SLICE = 0.05
PROCNTO_PID = 1


def spawn(
    entry: Callable[[list[str]], int],
    argv: list[str],
    *,
    name: str | None = None,
    uid: int | None = None,
    gid: int | None = None,
) -> int:
    """Start `entry(argv)` as a child process (inherits stdio and credentials)."""
    t = cur()
    p = t.process
    # spawn is a message to procnto in QNX; a caller that goes on to waitpid()
    # stays shown as REPLY-blocked on procnto (pid 1) until the child is reaped.
    t.state, t.blocked_on = ThreadState.REPLY, PROCNTO_PID
    try:
        return t.kernel.spawn(
            entry,
            argv,
            name=name,
            uid=p.uid if uid is None else uid,
            gid=p.gid if gid is None else gid,
            stdio=p.stdio,
            parent=p.pid,
        )
    except BaseException:
        t.state = ThreadState.READY
        raise


def waitpid(pid: int, timeout: float | None = None) -> int:
    """Wait for process `pid` to exit; its status."""
    t = cur()
    return t.kernel.waitpid(pid, timeout, t)


def getpid() -> int:
    return cur().process.pid


def gettid() -> int:
    return cur().tid


def getuid() -> int:
    return cur().process.uid


def getgid() -> int:
    return cur().process.gid


def pthread_create(fn: Callable[[], object], name: str | None = None) -> int:
    t = cur()
    return t.kernel.thread_create(t, fn, name)


def pthread_join(tid: int, timeout: float | None = None) -> None:
    t = cur()
    other = t.process.threads.get(tid)
    if other is None:
        return  # already finished (or never existed: QNX says ESRCH; finished is the common case)
    if other is t:
        raise oserror(ESRCH)
    deadline = None if timeout is None else time.monotonic() + timeout
    t.state, t.blocked_on = ThreadState.JOIN, tid
    try:
        while not other.finished.wait(_SLICE):
            if t.process.dying:
                raise ProcessKilled
            if deadline is not None and time.monotonic() >= deadline:
                raise oserror(ETIMEDOUT)
    finally:
        t.state = ThreadState.READY


def exit(status: int) -> NoReturn:
    """End the calling process with `status`."""
    raise ProcessExit(status)


def procmgr_ready() -> None:
    """Tell the boot this program is up (it may go on serving)."""
    cur().process.ready = True


def proc_snapshot() -> list[ProcInfo]:
    """Every live process and its threads (what pidin prints)."""
    t = cur()
    return t.kernel.snapshot(t)


def delay(seconds: float) -> None:
    """Sleep (NANOSLEEP state); a teardown of the caller ends it."""
    t = cur()
    deadline = time.monotonic() + seconds
    t.state = ThreadState.NANOSLEEP
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            if t.process.dying:
                raise ProcessKilled
            time.sleep(min(remaining, _SLICE))
    finally:
        t.state = ThreadState.READY


def system_hwinfo() -> Any:
    """The syspage hwinfo the kernel built from the device tree (None if none)."""
    return cur().kernel.hwinfo

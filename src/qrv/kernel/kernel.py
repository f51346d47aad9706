"""The kernel object: process table, spawn/exit/teardown, and the services wired together.

``Kernel(machine)`` starts procnto (pid 1, the path manager); programs are
spawned as processes whose main thread runs ``entry(argv)``.  Teardown on
exit or crash follows QNX (see :mod:`qrv.kernel.ipc`): channels destroyed,
connections detached, names removed, mappings released.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator

from qrv.hw.bus import Machine
from qrv.kernel.hwinfo import HwInfo, hwinfo_from_fdt
from qrv.kernel.ipc import Ipc
from qrv.kernel.mm import DmaMapping, MemoryManager, PhysMapping
from qrv.kernel.pathmgr import PathManager, ResolveEntry
from qrv.kernel.proc import (
    EXIT_CRASHED,
    EXIT_KILLED,
    SIGINT,
    KThread,
    Process,
    ProcessExit,
    ProcessKilled,
    ProcInfo,
    Stdio,
    ThreadInfo,
    blocked_text,
    current_or_none,
    set_current,
)
from qrv.kernel.procnto import DEVICES, ProcServer
from qrv.spec.iomsg import (
    ECHILD,
    EINVAL,
    EPERM,
    ESRCH,
    ETIMEDOUT,
    ChannelFlag,
    ThreadState,
    oserror,
)

Entry = Callable[[list[str]], int]
POLL = 0.01
"""Polling step (s) of the few waits that watch several conditions at once."""
JOIN_TIMEOUT = 2.0


class Kernel:
    """One running system over one machine."""

    def __init__(self, machine: Machine | None = None, stdio: Stdio | None = None) -> None:
        self.machine = machine
        self.stdio = stdio or Stdio(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
        self.lock = threading.Lock()
        self.procs: dict[int, Process] = {}
        self.zombies: dict[int, Process] = {}
        self.ipc = Ipc(self.lock, self.procs)
        self.mm = MemoryManager(machine)
        self.hwinfo: HwInfo | None = None
        """The syspage hwinfo (set by :meth:`load_hwinfo` from the device tree)."""
        self._next_pid = 1
        self._hosts: list[threading.Thread] = []
        self._down = False
        """Set by :meth:`shutdown`: no new process may start from then on."""
        procnto = self._new_process("procnto", 0, 0, self.stdio, 0)
        self._procnto_pid = procnto.pid
        t = self._new_thread(procnto)
        chid = self.ipc.channel_create(t, ChannelFlag.DISCONNECT)
        self.paths = PathManager(procnto.pid, chid)
        for path, handle in DEVICES.items():
            self.paths.link(path, procnto.pid, chid, handle, 0, 0)
        server = ProcServer(self, t, chid)
        self._start_host(t, server.run, "procnto")

    # -- hwinfo ----------------------------------------------------------------------

    def load_hwinfo(self) -> None:
        """Parse the machine's device tree into ``self.hwinfo`` (FdtError when malformed)."""
        if self.machine is None:
            return
        self.hwinfo = hwinfo_from_fdt(self.machine.device_tree())

    # -- processes and threads ---------------------------------------------------------

    def _new_process(self, name: str, uid: int, gid: int, stdio: Stdio, parent: int) -> Process:
        with self.lock:
            pid = self._next_pid
            self._next_pid += 1
            proc = Process(self, pid, name, uid, gid, stdio, parent)
            self.procs[pid] = proc
            return proc

    def _new_thread(self, proc: Process) -> KThread:
        with self.lock:
            t = KThread(proc.next_tid, proc, threading.Condition(self.lock))
            proc.next_tid += 1
            proc.threads[t.tid] = t
            return t

    def _start_host(self, t: KThread, body: Callable[[], None], name: str) -> None:
        host = threading.Thread(target=body, name=f"qrv-{t.process.pid}.{t.tid}-{name}")
        host.daemon = True
        self._hosts.append(host)
        host.start()

    def spawn(
        self,
        entry: Entry,
        argv: list[str],
        *,
        name: str | None = None,
        uid: int = 0,
        gid: int = 0,
        stdio: Stdio | None = None,
        parent: int = 0,
    ) -> int:
        """Start `entry(argv)` as a new process; return its pid.

        Once the kernel shuts down nothing may start that the teardown would
        miss: a process calling then (or while it is itself torn down) gets
        ProcessKilled (a shell whose command was just killed goes no further),
        a host caller ESRCH.
        """
        caller = current_or_none()
        if caller is not None and (self._down or caller.process.dying):
            raise ProcessKilled
        if self._down:
            raise oserror(ESRCH, "the kernel is shut down")
        pname = name or (argv[0].rsplit("/", 1)[-1] if argv else "a.out")
        proc = self._new_process(pname, uid, gid, stdio or self.stdio, parent)
        t = self._new_thread(proc)
        self._start_host(t, lambda: self._run(t, lambda: entry(list(argv)), main=True), pname)
        return proc.pid

    def thread_create(self, t: KThread, fn: Callable[[], object], name: str | None) -> int:
        """Another thread in the caller's process."""
        self.ipc.enter(t)
        nt = self._new_thread(t.process)
        self._start_host(nt, lambda: self._run(nt, fn, main=False), name or "thread")
        return nt.tid

    def _run(self, t: KThread, body: Callable[[], object], main: bool) -> None:
        set_current(t)
        proc = t.process
        try:
            result = body()
            if main:
                self.exit_process(proc, result if isinstance(result, int) else 0)
        except ProcessExit as exc:
            self.exit_process(proc, exc.status)
        except SystemExit as exc:
            self.exit_process(proc, exc.code if isinstance(exc.code, int) else 1)
        except ProcessKilled:
            pass
        except Exception as exc:
            self.crash(proc, exc)
        finally:
            with self.lock:
                t.state = ThreadState.DEAD
                proc.threads.pop(t.tid, None)
            t.finished.set()
            set_current(None)

    def crash(self, proc: Process, exc: BaseException) -> None:
        """An uncaught exception: log one line (traceback at the end) and tear down.

        A process already being torn down (killed, exited from another thread)
        does not crash as well: whatever its threads raise on the way out is moot.
        """
        if proc.dying:
            return
        line = f"procnto: process {proc.pid} ({proc.name}) terminated: "
        line += "".join(traceback.format_exception_only(type(exc), exc)).strip()
        with contextlib.suppress(OSError, ValueError):
            self.stdio.stderr.write((line + "\n").encode())
            self.stdio.stderr.flush()
        self.exit_process(proc, EXIT_CRASHED, crashed=True)

    def exit_process(self, proc: Process, status: int, crashed: bool = False) -> None:
        """Tear a process down (idempotent); wakes every thread blocked on or in it."""
        with self.lock:
            if proc.dying:
                return
            proc.dying = True
            proc.status, proc.crashed = status, crashed
            for ch in list(proc.channels.values()):
                self.ipc.destroy_channel(ch)
            for conn in list(proc.connections.values()):
                self.ipc.detach(conn)
            self.paths.remove_pid(proc.pid)
            for m in proc.mappings:
                if m.mapped:
                    self.mm.unmap(m)
            proc.mappings.clear()
            for th in proc.threads.values():
                th.cond.notify_all()
            self.procs.pop(proc.pid, None)
            self.zombies[proc.pid] = proc
        proc.exited.set()

    def kill(self, pid: int, signo: int = SIGINT) -> None:
        """Deliver `signo` with its default action, termination (status ``-signo``).

        What the terminal's SIGINT does to a foreground process that does not
        catch it (QNX ``SignalKill`` with ``SIG_DFL``): the process is torn
        down as on exit, its parent's waitpid sees ``-signo`` (a shell shows
        128 + signo).  ESRCH for a pid that is not running; a process already
        exiting keeps its status.
        """
        with self.lock:
            proc = self.procs.get(pid)
        if proc is None or pid == self._procnto_pid:
            raise oserror(ESRCH)
        self.exit_process(proc, -signo)

    def descendants(self, pid: int) -> list[int]:
        """Live processes spawned by `pid`, by its children, and so on (parents first)."""
        with self.lock:
            children: dict[int, list[int]] = {}
            for p in self.procs.values():
                children.setdefault(p.parent, []).append(p.pid)
        found: list[int] = []
        todo = sorted(children.get(pid, []))
        while todo:
            child = todo.pop(0)
            found.append(child)
            todo.extend(sorted(children.get(child, [])))
        return found

    def waitpid(self, pid: int, timeout: float | None = None, t: KThread | None = None) -> int:
        """Wait for a process to exit and return its status (ECHILD, ETIMEDOUT)."""
        with self.lock:
            proc = self.procs.get(pid) or self.zombies.get(pid)
            if proc is None:
                raise oserror(ECHILD)
            if t is not None:
                t.state, t.blocked_on = ThreadState.REPLY, 1  # a message to procnto, as in QNX
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not proc.exited.wait(POLL * 10):
                if t is not None and t.process.dying:
                    raise ProcessKilled
                if deadline is not None and time.monotonic() >= deadline:
                    raise oserror(ETIMEDOUT)
        finally:
            if t is not None:
                t.state = ThreadState.READY
        with self.lock:
            self.zombies.pop(pid, None)
        assert proc.status is not None
        return proc.status

    def wait_ready(self, pid: int, path: str | None = None, timeout: float = 10.0) -> bool:
        """Until the process called ``procmgr_ready()``, `path` exists, or it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                proc = self.procs.get(pid) or self.zombies.get(pid)
                if proc is None or proc.ready or proc.exited.is_set():
                    return True
                if path is not None and self.paths.exists(path):
                    return True
            time.sleep(POLL)
        return False

    @contextlib.contextmanager
    def adopt(self, name: str, uid: int = 0, gid: int = 0) -> Iterator[Process]:
        """Make the calling host thread a process for the duration (tests, the boot)."""
        proc = self._new_process(name, uid, gid, self.stdio, 0)
        t = self._new_thread(proc)
        set_current(t)
        try:
            yield proc
        finally:
            self.exit_process(proc, 0)
            with self.lock:
                proc.threads.pop(t.tid, None)
                self.zombies.pop(proc.pid, None)
            set_current(None)

    def shutdown(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Tear every process down (procnto last) and join their threads (bounded)."""
        with self.lock:
            self._down = True
            victims = sorted(self.procs.values(), key=lambda p: -p.pid)
        for proc in victims:
            self.exit_process(proc, EXIT_KILLED)
        deadline = time.monotonic() + timeout
        for host in self._hosts:
            if host is not threading.current_thread():
                host.join(max(0.0, deadline - time.monotonic()))

    def snapshot(self, caller: KThread | None = None) -> list[ProcInfo]:
        """pidin's data: every live process and thread (the caller shows RUNNING)."""
        with self.lock:
            return [
                ProcInfo(
                    p.pid,
                    p.name,
                    tuple(
                        ThreadInfo(
                            th.tid,
                            ThreadState.RUNNING.name if th is caller else th.state.name,
                            blocked_text(th),
                        )
                        for th in sorted(p.threads.values(), key=lambda th: th.tid)
                    ),
                )
                for p in sorted(self.procs.values(), key=lambda p: p.pid)
            ]

    def process(self, pid: int) -> Process:
        with self.lock:
            proc = self.procs.get(pid)
        if proc is None:
            raise oserror(ESRCH)
        return proc

    # -- pathname space -------------------------------------------------------------------

    def path_link(  # noqa: PLR0917 - pathmgr_link's arguments
        self, t: KThread, path: str, chid: int, handle: int, file_type: int, flags: int
    ) -> int:
        with self.lock:
            self.ipc.enter(t)
            if t.process.uid != 0:
                raise oserror(EPERM, path)  # pathmgr_link.c: registering needs root
            if chid not in t.process.channels:
                raise oserror(ESRCH)
            return self.paths.link(path, t.process.pid, chid, handle, file_type, flags)

    def path_unlink(self, t: KThread, linkid: int) -> None:
        with self.lock:
            self.ipc.enter(t)
            self.paths.unlink(linkid, t.process.pid)

    def path_resolve(self, t: KThread, path: str) -> list[ResolveEntry]:
        with self.lock:
            self.ipc.enter(t)
            return self.paths.resolve(path)

    # -- memory ------------------------------------------------------------------------------

    def mmap_phys(self, t: KThread, paddr: int, length: int) -> PhysMapping:
        with self.lock:
            self.ipc.enter(t)
            m = self.mm.map_phys(paddr, length)
            t.process.mappings.append(m)
            return m

    def mmap_anon(self, t: KThread, length: int) -> DmaMapping:
        with self.lock:
            self.ipc.enter(t)
            m = self.mm.map_anon(length)
            t.process.mappings.append(m)
            return m

    def munmap(self, t: KThread, mapping: PhysMapping) -> None:
        with self.lock:
            self.ipc.enter(t)
            if mapping not in t.process.mappings:
                raise oserror(EINVAL)  # not a mapping of this process
            self.mm.unmap(mapping)
            t.process.mappings.remove(mapping)

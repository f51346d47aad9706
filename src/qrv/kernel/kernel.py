"""The kernel object: process table, spawn/exit/teardown, and the services wired together.

``Kernel(machine)`` starts procnto (pid 1, the path manager); programs are
spawned as processes whose main thread runs ``entry(argv)``.  Teardown on
exit or crash follows QNX (see :mod:`qrv.kernel.ipc`): channels destroyed,
connections detached, names removed, mappings released.

Every modelled thread runs on the scheduler's CPU thread
(:mod:`qrv.kernel.sched`).  The methods here serve both sides: a kernel
call from a modelled thread runs directly; a host thread (the boot, a
test) is served through :meth:`Scheduler.call`, and an adopted host
thread's calls go through its proxy greenlet (:func:`~qrv.kernel.sched.kcall`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from typing import TextIO, TypeVar

from qrv.hw.bus import Machine
from qrv.hw.clock import VirtualClock
from qrv.hw.irq import InterruptInput
from qrv.kernel.hwinfo import HwInfo, hwinfo_from_fdt
from qrv.kernel.interrupt import Interrupts
from qrv.kernel.ipc import Ipc
from qrv.kernel.mm import DmaMapping, MemoryManager, PhysMapping
from qrv.kernel.pathmgr import PathManager, ResolveEntry
from qrv.kernel.proc import (
    DEFAULT_PRIORITY,
    EXIT_CRASHED,
    EXIT_KILLED,
    PRIO_MAX,
    PRIO_MIN,
    SIGINT,
    Channel,
    KThread,
    Policy,
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
from qrv.kernel.procnto import DEVICES, FIRST_FILE_HANDLE, ProcServer
from qrv.kernel.sched import DEFAULT_SEED, HostProxy, HostSource, Scheduler, kcall
from qrv.kernel.slog import SEVERITIES, LogEntry, Severity, SystemLog
from qrv.kernel.trace import Tracer
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
R = TypeVar("R")
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
"""Where qrv's own code lives: a logged traceback starts at the first frame outside it."""
POLL = 0.01
"""Polling step (s) of the host-side waits (wait_ready) and of the kernel's waitfor."""
JOIN_TIMEOUT = 2.0
BIN = "/bin/"


def program_source(entry: Entry) -> bytes:
    """What ``/bin/NAME`` holds: the entry's ``source`` (its Python text), else nothing."""
    source = getattr(entry, "source", b"")
    return source if isinstance(source, bytes) else b""


class Kernel:
    """One running system over one machine."""

    def __init__(
        self,
        machine: Machine | None = None,
        stdio: Stdio | None = None,
        *,
        seed: int = DEFAULT_SEED,
        trace: TextIO | None = None,
        programs: Mapping[str, Entry] | None = None,
    ) -> None:
        self.machine = machine
        self.programs: dict[str, Entry] = dict(programs or {})
        """The programs of ``/bin/NAME`` (procnto serves each as a file): name -> entry."""
        self.stdio = stdio or Stdio(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
        board_clock = getattr(machine, "clock", None)
        self.clock = board_clock if isinstance(board_clock, VirtualClock) else VirtualClock()
        """The kernel's clock: the board's (virtual, jumping to deadlines) or its own."""
        self.sched = Scheduler(self.clock, jump=self.clock is board_clock, seed=seed)
        self.tracer: Tracer | None = None
        if trace is not None:
            self.tracer = Tracer(trace, self.clock, self._who)
            self.sched.trace = self.tracer
        self.procs: dict[int, Process] = {}
        self.zombies: dict[int, Process] = {}
        self.ipc = Ipc(self.sched, self.procs)
        hw_irq = getattr(machine, "interrupts", None)
        self.interrupts = Interrupts(
            self.sched, self.ipc, hw_irq if isinstance(hw_irq, InterruptInput) else None
        )
        """InterruptAttachEvent and friends (kernel/interrupt.py)."""
        if isinstance(hw_irq, HostSource):  # QEMU: the idle CPU thread reads its socket
            self.sched.watch(hw_irq)
        self.mm = MemoryManager(machine, self.tracer)
        self.hwinfo: HwInfo | None = None
        """The syspage hwinfo (set by :meth:`load_hwinfo` from the device tree)."""
        self._next_pid = 1
        self._down = False
        """Set by :meth:`shutdown`: no new process may start from then on."""
        self.paths = PathManager(1, 1)
        self.slog = SystemLog(self.clock)
        """The system log (``sloginfo``): boot and driver messages."""
        self.sched.call(self._start_procnto)

    def _who(self) -> str:
        t = self.sched.current
        return "0.0" if t is None else f"{t.process.pid}.{t.tid}"

    def _start_procnto(self) -> None:
        procnto = self._new_process("procnto", 0, 0, self.stdio, 0)
        self._procnto_pid = procnto.pid
        t = self._new_thread(procnto, DEFAULT_PRIORITY, Policy.RR)
        chid = procnto.next_chid
        procnto.next_chid += 1
        procnto.channels[chid] = Channel(chid, procnto, ChannelFlag.DISCONNECT)
        self.paths = PathManager(procnto.pid, chid)
        for path, handle in DEVICES.items():
            self.paths.link(path, procnto.pid, chid, handle, 0, 0)
        files: dict[int, bytes] = {}
        for handle, (name, entry) in enumerate(sorted(self.programs.items()), FIRST_FILE_HANDLE):
            files[handle] = program_source(entry)
            self.paths.link(BIN + name, procnto.pid, chid, handle, 0, 0)
        server = ProcServer(self.ipc, self.paths, t, chid, files)
        self.sched.start(t, server.run)

    def program(self, name: str) -> Entry | None:
        """The program `name` (``NAME`` or ``/bin/NAME``) of :attr:`programs`, or None."""
        if name.startswith(BIN):
            name = name[len(BIN) :]
        return self.programs.get(name)

    # -- hwinfo ----------------------------------------------------------------------

    def load_hwinfo(self) -> None:
        """Parse the machine's device tree into ``self.hwinfo`` (FdtError when malformed)."""
        if self.machine is None:
            return
        self.hwinfo = hwinfo_from_fdt(self.machine.device_tree())

    # -- processes and threads ---------------------------------------------------------

    def _new_process(self, name: str, uid: int, gid: int, stdio: Stdio, parent: int) -> Process:
        pid = self._next_pid
        self._next_pid += 1
        proc = Process(self, pid, name, uid, gid, stdio, parent)
        self.procs[pid] = proc
        return proc

    def _new_thread(self, proc: Process, prio: int, policy: Policy, name: str = "") -> KThread:
        t = KThread(proc.next_tid, proc, name, prio=prio, base_prio=prio, policy=policy)
        proc.next_tid += 1
        proc.threads[t.tid] = t
        return t

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
        a host caller ESRCH.  The child's first thread runs at the calling
        thread's priority and policy (a host caller's: 10, round robin).
        """
        caller = current_or_none()
        return self.sched.call(
            lambda: self._spawn(caller, entry, argv, name, uid, gid, stdio, parent)
        )

    def _spawn(  # noqa: PLR0917 - spawn's arguments, resolved on the CPU thread
        self,
        caller: KThread | None,
        entry: Entry,
        argv: list[str],
        name: str | None,
        uid: int,
        gid: int,
        stdio: Stdio | None,
        parent: int,
    ) -> int:
        if caller is not None and (self._down or caller.process.dying):
            raise ProcessKilled
        if self._down:
            raise oserror(ESRCH, "the kernel is shut down")
        pname = name or (argv[0].rsplit("/", 1)[-1] if argv else "a.out")
        proc = self._new_process(pname, uid, gid, stdio or self.stdio, parent)
        proc.log_traceback = bool(getattr(entry, "log_traceback", False))
        if caller is not None:
            proc.env, proc.cwd = dict(caller.process.env), caller.process.cwd
            proc.umask = caller.process.umask
        prio, policy = (
            (caller.base_prio, caller.policy) if caller else (DEFAULT_PRIORITY, Policy.RR)
        )
        t = self._new_thread(proc, prio, policy)
        args = list(argv)
        self.sched.start(t, lambda: self._run(t, lambda: entry(args), main=True))
        if self.tracer is not None:
            self.tracer.emit(f"spawn pid={proc.pid} name={pname}")
        return proc.pid

    @kcall
    def thread_create(self, t: KThread, fn: Callable[[], object], name: str | None) -> int:
        """Another thread in the caller's process, at the caller's priority and policy."""
        self.ipc.enter(t)
        nt = self._new_thread(t.process, t.base_prio, t.policy, name or "thread")
        self.sched.start(nt, lambda: self._run(nt, fn, main=False))
        if self.tracer is not None:
            self.tracer.emit(f"thread_create tid={nt.tid}")
        return nt.tid

    def _run(self, t: KThread, body: Callable[[], object], main: bool) -> None:
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
            self._thread_done(t)

    def _thread_done(self, t: KThread) -> None:
        t.state = ThreadState.DEAD
        t.done = True
        t.process.threads.pop(t.tid, None)
        for j in t.joiners:
            self.sched.make_ready(j)
        t.joiners.clear()
        if self.tracer is not None:
            self.tracer.emit(f"thread_exit tid={t.tid}")

    def crash(self, proc: Process, exc: BaseException) -> None:
        """An uncaught exception: log one line (traceback at the end) and tear down.

        A process already being torn down (killed, exited from another thread)
        does not crash as well: whatever its threads raise on the way out is moot.
        """
        if proc.dying:
            return
        line = f"procnto: process {proc.pid} ({proc.name}) terminated: "
        line += "".join(traceback.format_exception_only(type(exc), exc)).strip()
        self.slog.add("procnto", line, Severity.CRITICAL)
        if proc.log_traceback:
            line += "\n" + program_traceback(exc)
        with contextlib.suppress(OSError, ValueError):
            self.stdio.stderr.write((line + "\n").encode())
            self.stdio.stderr.flush()
        self.exit_process(proc, EXIT_CRASHED, crashed=True)

    def exit_process(self, proc: Process, status: int, crashed: bool = False) -> None:
        """Tear a process down (idempotent); wakes every thread blocked on or in it."""
        if not self.sched.on_cpu():
            self.sched.call(lambda: self.exit_process(proc, status, crashed))
            return
        if proc.dying:
            return
        proc.dying = True
        proc.status, proc.crashed = status, crashed
        if self.tracer is not None:
            self.tracer.emit(f"exit pid={proc.pid} status={status}")
        for ch in list(proc.channels.values()):
            self.ipc.destroy_channel(ch)
        for conn in list(proc.connections.values()):
            self.ipc.detach(conn)
        self.paths.remove_pid(proc.pid)
        self.interrupts.release(proc)
        for m in proc.mappings:
            if m.mapped:
                self.mm.unmap(m)
        proc.mappings.clear()
        for th in proc.threads.values():
            self.sched.make_ready(th)
        for w in proc.waiters:
            self.sched.make_ready(w)
        proc.waiters.clear()
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

        def run() -> None:
            proc = self.procs.get(pid)
            if proc is None or pid == self._procnto_pid:
                raise oserror(ESRCH)
            self.exit_process(proc, -signo)

        self.sched.call(run)

    @kcall
    def signal_kill(self, t: KThread, pid: int, signo: int) -> None:
        """lib.c ``kill``: as :meth:`kill`; only root or the same user may (EPERM)."""
        self.ipc.enter(t)
        proc = self.procs.get(pid)
        if proc is None or pid == self._procnto_pid:
            raise oserror(ESRCH)
        if t.process.uid not in (0, proc.uid):
            raise oserror(EPERM)
        if signo == 0:
            return  # only the checks (kill -0)
        self.exit_process(proc, -signo)

    @kcall
    def slog_add(self, t: KThread, severity: int, text: str) -> None:
        """lib.c ``slogf``: one entry under the caller's name (EINVAL: no such severity)."""
        self.ipc.enter(t)
        if severity not in SEVERITIES:
            raise oserror(EINVAL)
        self.slog.add(t.process.name, text, Severity(severity))

    @kcall
    def slog_read(self, t: KThread) -> list[LogEntry]:
        self.ipc.enter(t)
        return self.slog.snapshot()

    def descendants(self, pid: int) -> list[int]:
        """Live processes spawned by `pid`, by its children, and so on (parents first)."""
        children: dict[int, list[int]] = {}
        for p in self.sched.call(lambda: list(self.procs.values())):
            children.setdefault(p.parent, []).append(p.pid)
        found: list[int] = []
        todo = sorted(children.get(pid, []))
        while todo:
            child = todo.pop(0)
            found.append(child)
            todo.extend(sorted(children.get(child, [])))
        return found

    def _find(self, pid: int) -> Process | None:
        return self.procs.get(pid) or self.zombies.get(pid)

    def waitpid(self, pid: int, timeout: float | None = None, t: KThread | None = None) -> int:
        """Wait for a process to exit and return its status (ECHILD, ETIMEDOUT).

        A host caller waits on the host's clock; a modelled thread `t` (lib.c
        ``waitpid``) blocks in the kernel, REPLY-blocked on procnto as in QNX.
        """
        if t is not None:
            return self._waitpid(t, pid, timeout)
        proc = self.sched.call(lambda: self._find(pid))
        if proc is None:
            raise oserror(ECHILD)
        if not proc.exited.wait(timeout):
            raise oserror(ETIMEDOUT)
        self.sched.call(lambda: self.zombies.pop(pid, None))
        assert proc.status is not None
        return proc.status

    @kcall
    def _waitpid(self, t: KThread, pid: int, timeout: float | None) -> int:
        self.ipc.enter(t)
        proc = self._find(pid)
        if proc is None:
            raise oserror(ECHILD)
        t.state, t.blocked_on = ThreadState.REPLY, self._procnto_pid
        try:
            while not proc.exited.is_set():
                proc.waiters.append(t)
                if not self.ipc.wait(t, proc.exited.is_set, timeout):
                    raise oserror(ETIMEDOUT)
        finally:
            if t in proc.waiters:
                proc.waiters.remove(t)
            t.state = ThreadState.READY
        self.zombies.pop(pid, None)
        assert proc.status is not None
        return proc.status

    @kcall
    def spawn_child(  # noqa: PLR0917 - spawn's arguments
        self, t: KThread, entry: Entry, argv: list[str], name: str | None, uid: int, gid: int
    ) -> int:
        """lib.c ``spawn``: a child with the caller's stdio; the caller shows REPLY on procnto."""
        self.ipc.enter(t)
        pid = self._spawn(t, entry, argv, name, uid, gid, t.process.stdio, t.process.pid)
        # spawn is a message to procnto in QNX; a caller that goes on to waitpid()
        # stays shown as REPLY-blocked on procnto (pid 1) until the child is reaped.
        t.state, t.blocked_on = ThreadState.REPLY, self._procnto_pid
        return pid

    @kcall
    def pthread_join(self, t: KThread, tid: int, timeout: float | None) -> None:
        self.ipc.enter(t)
        other = t.process.threads.get(tid)
        if other is None:
            return  # finished (or never existed: QNX says ESRCH; finished is the common case)
        if other is t:
            raise oserror(ESRCH)
        t.state, t.blocked_on = ThreadState.JOIN, tid
        try:
            other.joiners.append(t)
            if not self.ipc.wait(t, lambda: other.done, timeout):
                raise oserror(ETIMEDOUT)
        finally:
            if t in other.joiners:
                other.joiners.remove(t)
            t.state = ThreadState.READY

    @kcall
    def delay(self, t: KThread, seconds: float) -> None:
        """Sleep on the kernel's clock (NANOSLEEP); a teardown of the caller ends it."""
        self.ipc.enter(t)
        t.state = ThreadState.NANOSLEEP
        try:
            self.ipc.wait(t, lambda: False, max(seconds, 0.0))
        finally:
            t.state = ThreadState.READY

    @kcall
    def sched_yield(self, t: KThread) -> None:
        """Give the CPU to another READY thread of the same priority, if any."""
        self.ipc.enter(t)
        self.sched.yield_(t)

    @kcall
    def sched_get(self, t: KThread, tid: int) -> tuple[int, Policy, int]:
        """(base priority, policy, effective priority) of thread `tid` (0: the caller)."""
        self.ipc.enter(t)
        th = t if tid == 0 else t.process.threads.get(tid)
        if th is None:
            raise oserror(ESRCH)
        return th.base_prio, th.policy, th.prio

    @kcall
    def sched_set(self, t: KThread, tid: int, prio: int, policy: int | None) -> None:
        """Set a thread's priority (1-255) and policy (None keeps it): ``SchedSet``."""
        self.ipc.enter(t)
        th = t if tid == 0 else t.process.threads.get(tid)
        if th is None:
            raise oserror(ESRCH)
        if not PRIO_MIN <= prio <= PRIO_MAX:
            raise oserror(EINVAL)
        if policy is not None and policy not in (Policy.FIFO, Policy.RR):
            raise oserror(EINVAL)
        th.base_prio = th.prio = prio
        if policy is not None:
            th.policy = Policy(policy)
        if self.tracer is not None:
            self.tracer.emit(f"sched_set tid={th.tid} prio={prio} policy={th.policy.letter}")
        if self.sched.ready:
            self.sched.preempt(t)

    @kcall
    def procmgr_ready(self, t: KThread) -> None:
        self.ipc.enter(t)
        t.process.ready = True

    @kcall
    def waitfor(self, t: KThread, pid: int, path: str | None, timeout: float) -> bool:
        """Until `pid` called ``procmgr_ready()``, `path` exists, or it exited (kernel clock)."""
        self.ipc.enter(t)
        deadline = self.clock.now() + timeout
        while self.clock.now() < deadline:
            if self._is_up(pid, path):
                return True
            self.delay(t, POLL)
        return self._is_up(pid, path)

    def _is_up(self, pid: int, path: str | None) -> bool:
        proc = self._find(pid)
        if proc is None or proc.ready or proc.exited.is_set():
            return True
        return path is not None and self.paths.exists(path)

    def wait_ready(self, pid: int, path: str | None = None, timeout: float = 10.0) -> bool:
        """Host side: until the process called ``procmgr_ready()``, `path` exists, or it exited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.sched.call(lambda: self._is_up(pid, path)):
                return True
            time.sleep(POLL)
        return False

    def procnto_thread(self, fn: Callable[[], R], name: str) -> Future[R]:
        """Run `fn` as a new thread of procnto (the boot script); its result as a future."""
        fut: Future[R] = Future()

        def body() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # ProcessKilled at shutdown, or the script's error
                fut.set_exception(exc)

        def make() -> None:
            proc = self.procs[self._procnto_pid]
            t = self._new_thread(proc, DEFAULT_PRIORITY, Policy.RR, name)
            self.sched.start(t, lambda: self._script(t, body))

        self.sched.call(make)
        return fut

    def _script(self, t: KThread, body: Callable[[], None]) -> None:
        try:
            body()
        finally:
            self._thread_done(t)

    @contextlib.contextmanager
    def adopt(self, name: str, uid: int = 0, gid: int = 0) -> Iterator[Process]:
        """Make the calling host thread a process for the duration (tests, benchmarks).

        Its kernel calls run in a proxy greenlet on the CPU thread (see
        :func:`~qrv.kernel.sched.kcall`); the host thread waits for each.
        """
        proxy = HostProxy()

        def make() -> KThread:
            proc = self._new_process(name, uid, gid, self.stdio, 0)
            t = self._new_thread(proc, DEFAULT_PRIORITY, Policy.RR)
            t.proxy = proxy
            self.sched.start(t, self.sched.proxy_body(t, proxy))
            return t

        t = self.sched.call(make)
        set_current(t)
        try:
            yield t.process
        finally:

            def end() -> None:
                self.exit_process(t.process, 0)
                proxy.closed = True
                self.sched.make_ready(t)
                t.process.threads.pop(t.tid, None)
                self.zombies.pop(t.process.pid, None)

            self.sched.call(end)
            set_current(None)

    def shutdown(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Tear every process down (procnto last) and stop the CPU thread (bounded)."""

        def down() -> None:
            self._down = True
            for proc in sorted(self.procs.values(), key=lambda p: -p.pid):
                self.exit_process(proc, EXIT_KILLED)

        try:
            self.sched.call(down, timeout)
        except TimeoutError:
            return  # a thread computes without kernel calls: the CPU thread is a daemon
        self.sched.stop(timeout)
        if self.tracer is not None:
            self.tracer.flush()

    def snapshot(self, caller: KThread | None = None) -> list[ProcInfo]:
        """pidin's data: every live process and thread (the running one shows RUNNING)."""
        return self.sched.call(lambda: self._snapshot(caller))

    def _snapshot(self, caller: KThread | None) -> list[ProcInfo]:
        running = caller or self.sched.current
        return [
            ProcInfo(
                p.pid,
                p.name,
                tuple(
                    ThreadInfo(
                        th.tid,
                        ThreadState.RUNNING.name if th is running else th.state.name,
                        blocked_text(th),
                        th.prio,
                        th.policy.letter,
                    )
                    for th in sorted(p.threads.values(), key=lambda th: th.tid)
                ),
            )
            for p in sorted(self.procs.values(), key=lambda p: p.pid)
        ]

    def process(self, pid: int) -> Process:
        proc = self.sched.call(lambda: self.procs.get(pid))
        if proc is None:
            raise oserror(ESRCH)
        return proc

    # -- pathname space -------------------------------------------------------------------

    @kcall
    def path_link(  # noqa: PLR0917 - pathmgr_link's arguments
        self, t: KThread, path: str, chid: int, handle: int, file_type: int, flags: int
    ) -> int:
        self.ipc.enter(t)
        if t.process.uid != 0:
            raise oserror(EPERM, path)  # pathmgr_link.c: registering needs root
        if chid not in t.process.channels:
            raise oserror(ESRCH)
        return self.paths.link(path, t.process.pid, chid, handle, file_type, flags)

    @kcall
    def path_unlink(self, t: KThread, linkid: int) -> None:
        self.ipc.enter(t)
        self.paths.unlink(linkid, t.process.pid)

    @kcall
    def path_resolve(self, t: KThread, path: str) -> list[ResolveEntry]:
        self.ipc.enter(t)
        return self.paths.resolve(path)

    @kcall
    def path_resolve_pair(
        self, t: KThread, path: str, other: str
    ) -> list[tuple[ResolveEntry, str]]:
        self.ipc.enter(t)
        return self.paths.resolve_pair(path, other)

    # -- memory ------------------------------------------------------------------------------

    @kcall
    def mmap_phys(self, t: KThread, paddr: int, length: int) -> PhysMapping:
        self.ipc.enter(t)
        m = self.mm.map_phys(paddr, length)
        t.process.mappings.append(m)
        return m

    @kcall
    def mmap_anon(self, t: KThread, length: int) -> DmaMapping:
        self.ipc.enter(t)
        m = self.mm.map_anon(length)
        t.process.mappings.append(m)
        return m

    @kcall
    def munmap(self, t: KThread, mapping: PhysMapping) -> None:
        self.ipc.enter(t)
        if mapping not in t.process.mappings:
            raise oserror(EINVAL)  # not a mapping of this process
        self.mm.unmap(mapping)
        t.process.mappings.remove(mapping)


def program_traceback(exc: BaseException) -> str:
    """`exc`'s traceback from the first frame outside qrv (the program's), indented."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(PACKAGE_DIR):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb if tb is not None else exc.__traceback__)
    return "".join("  " + line for chunk in lines for line in chunk.splitlines(True)).rstrip()

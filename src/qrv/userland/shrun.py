"""Running parsed commands: redirections, pipelines, background jobs.

Every command but the shell's built-ins is a child process (spawn + waitpid).
The child first sets up its standard streams, as a POSIX shell does between
fork and exec: the pipe ends of its pipeline, then its redirections left to
right (``>`` O_CREAT|O_TRUNC, ``>>`` O_APPEND, ``<``, ``N>&M``), on paths of
the pathname space (:mod:`qrv.lib.c.fdio`); a redirection that fails is
``sh: PATH: strerror`` and status 1 without running the command.

A pipeline ``a | b``: the shell makes a pipe by opening ``/dev/pipe``
(the pipe server), starts every stage at once, waits until each has opened
its ends (``procmgr_ready``), closes its own end, then waits for them all;
the status is the last stage's.  So a reader sees end of file when the last
writer exits, and a writer whose reader has gone gets EPIPE and ends quietly
(status 141).  ``cmd &`` starts the pipeline without waiting (a job).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from qrv.lib.c import close, find_program, fstat, open, spawn, strerror, waitpid
from qrv.lib.c.fdio import FdStream, dup_stream, redirect, restore, save
from qrv.lib.c.proc import procmgr_ready, procmgr_waitfor
from qrv.spec.iomsg import O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY
from qrv.userland._util import err
from qrv.userland.commands import COMMANDS

Program = Callable[[list[str]], int]

NOT_FOUND = 127
SIGNAL_BASE = 128
SIGINT = 2
PIPE_PATH = "/dev/pipe"
READY_TIMEOUT = 10.0
"""Kernel-clock seconds a pipeline stage has to open its ends."""
OPEN_FLAGS = {
    "<": O_RDONLY,
    ">": O_WRONLY | O_CREAT | O_TRUNC,
    ">>": O_WRONLY | O_CREAT | O_APPEND,
}


class CommandInterrupted(Exception):
    """A command died of SIGINT: the shell abandons the rest of the line, as sh does."""


@dataclass(frozen=True)
class Redir:
    """An expanded redirection: fd, operator, path (or the source fd for ``>&``)."""

    fd: int
    op: str
    target: str


@dataclass
class Stage:
    argv: list[str]
    redirs: list[Redir]
    builtin: Program | None = None
    """A built-in of the shell (run in the child when in a pipeline)."""


@dataclass
class Job:
    number: int
    text: str
    pids: list[int]
    statuses: dict[int, int] = field(default_factory=dict)

    def poll(self) -> bool:
        """Reap what has ended (without blocking); True when every process has."""
        for pid in self.pids:
            if pid not in self.statuses:
                with contextlib.suppress(TimeoutError, ChildProcessError):
                    self.statuses[pid] = waitpid(pid, 0)
        return len(self.statuses) == len(self.pids)

    def wait(self) -> int:
        for pid in self.pids:
            if pid not in self.statuses:
                try:
                    self.statuses[pid] = waitpid(pid)
                except ChildProcessError:
                    self.statuses[pid] = 0
        return shell_status(self.statuses[self.pids[-1]])


def shell_status(status: int) -> int:
    """A wait status as ``$?``: a signal ``-N`` is 128 + N."""
    return SIGNAL_BASE - status if status < 0 else status


def find(name: str) -> Program | None:
    """The program of a command name (a system one, or one installed as /bin/NAME), or None."""
    entry = COMMANDS.get(name)
    if entry is None:
        return find_program(name)  # one installed as /bin/NAME (qrv emu --program)
    try:
        main: Program = importlib.import_module(entry[0]).main
    except ImportError:
        return None
    return main


def apply(redirs: list[Redir]) -> list[FdStream]:
    """Set up the calling process's streams; the streams opened (OSError names the path)."""
    opened: list[FdStream] = []
    for r in redirs:
        if r.op == ">&":
            dup_stream(r.fd, int(r.target))
        else:
            opened.append(redirect(r.fd, r.target, OPEN_FLAGS[r.op]))
    return opened


def redirect_error(exc: OSError) -> int:
    err(f"sh: {exc.filename or '?'}: {strerror(exc.errno or 0)}")
    return 1


def run_builtin(fn: Program, stage: Stage) -> int:
    """A built-in in the shell itself, its redirections undone afterwards."""
    saved = save()
    opened: list[FdStream] = []
    try:
        opened = apply(stage.redirs)
        return fn(stage.argv)
    except OSError as exc:
        return redirect_error(exc)
    finally:
        restore(saved)
        for s in opened:
            s.close_here()


def _child(stage: Stage, pipe_in: int, pipe_out: int) -> Program:
    def body(argv: list[str]) -> int:
        try:
            if pipe_in:
                redirect(0, f"{PIPE_PATH}/{pipe_in}", O_RDONLY)
            if pipe_out:
                redirect(1, f"{PIPE_PATH}/{pipe_out}", O_WRONLY)
            apply(stage.redirs)
        except OSError as exc:
            procmgr_ready()
            return redirect_error(exc)
        procmgr_ready()
        if stage.builtin is not None:
            return stage.builtin(argv)
        entry = find(argv[0])
        if entry is None:
            err(f"sh: {argv[0]}: not found")
            return NOT_FOUND
        return entry(argv)

    return body


def _make_pipe() -> tuple[int, int]:
    """A new pipe: (the shell's fd of it, its number under /dev/pipe)."""
    fd = open(PIPE_PATH, O_RDWR)
    return fd, fstat(fd).ino


def start(stages: list[Stage]) -> list[int]:
    """Start a pipeline's stages; their pids (OSError when no pipe can be made)."""
    pipes = [_make_pipe() for _ in stages[1:]]
    pids: list[int] = []
    try:
        for i, stage in enumerate(stages):
            pipe_in = pipes[i - 1][1] if i > 0 else 0
            pipe_out = pipes[i][1] if i < len(pipes) else 0
            name = stage.argv[0].rsplit("/", 1)[-1] if stage.argv else "sh"
            body = _child(stage, pipe_in, pipe_out)
            entry = find(stage.argv[0]) if stage.argv and stage.builtin is None else None
            if getattr(entry, "log_traceback", False):  # a user's program: its crash's traceback
                setattr(body, "log_traceback", True)  # noqa: B010 - an attribute the kernel reads
            pids.append(spawn(body, stage.argv, name=name))
        if pipes:
            for pid in pids:
                procmgr_waitfor(pid, None, READY_TIMEOUT)
    finally:
        for fd, _n in pipes:
            close(fd)
    return pids


def run_foreground(stages: list[Stage]) -> int:
    """Run a pipeline and wait for it; the last stage's status (CommandInterrupted on ^C)."""
    if len(stages) == 1 and not stages[0].argv:
        return run_builtin(lambda _argv: 0, stages[0])  # only redirections: open, then close
    if len(stages) == 1 and stages[0].builtin is not None:
        return run_builtin(stages[0].builtin, stages[0])
    if len(stages) == 1 and find(stages[0].argv[0]) is None:
        err(f"sh: {stages[0].argv[0]}: not found")
        return NOT_FOUND
    try:
        pids = start(stages)
    except OSError as exc:
        err(f"sh: cannot make a pipe: {strerror(exc.errno or 0)}")
        return 1
    statuses = [waitpid(pid) for pid in pids]
    if -SIGINT in statuses:
        raise CommandInterrupted
    return shell_status(statuses[-1])

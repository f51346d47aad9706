"""sh: the system's shell.

``sh -c 'cmd; cmd'`` runs the commands and exits with the last status;
``sh`` reads commands from stdin; interactive (stdin a terminal) it prints
its ``# `` prompt on stderr (so ``qrv emu > out.txt`` captures only output)
and keeps a history.

The language (:mod:`.shsyntax`): quotes, backslash, ``#`` comments, ``;``,
``&&``, ``||``, pipelines ``|``, ``cmd &``, redirections ``< > >> 2> 2>&1``,
``$NAME``/``${NAME}``/``$?``/``$$``/``$!``, ``NAME=value``, and globs over
the pathname space (:mod:`.shexpand`).  Commands run as child processes
(:mod:`.shrun`); the built-ins ``exit``, ``export``, ``unset``, ``jobs``,
``wait``, ``history``, ``cd``, ``pwd`` and ``umask`` act on the shell itself.
A command crashed by an exception has status 128 + 11 (as a SIGSEGV'd process
in a POSIX shell).

Interactive the shell behaves as sh does under ^C and ^D: a ^C while a
command runs ends that command (the console delivers SIGINT to the
foreground processes; the shell sees status 128 + 2 = 130 and starts a new
line); a ^C at the prompt interrupts the shell's read (EINTR), the partial
line is dropped and a fresh prompt printed; ^D on an empty line (end of
file) ends the shell with the last status, after a newline.  ``!!`` is the
previous line (interactive only, as in bash).

``exit [N]``: N (taken modulo 256, as a POSIX exit status) or the last
status; a non-numeric N is an error that still exits (status 2), more than
one argument is an error that does not (status 1), as in bash.
"""

from __future__ import annotations

import contextlib
import re
from typing import BinaryIO

from qrv.lib.c import chdir, getcwd, getpid, listdir, stat, stdio, strerror
from qrv.lib.c.proc import environ, getenv, setenv, umask, unsetenv
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, is_dir, out
from qrv.userland.commands import BUILTINS, COMMANDS
from qrv.userland.shexpand import expand
from qrv.userland.shrun import (
    SIGNAL_BASE,
    CommandInterrupted,
    Job,
    Program,
    Redir,
    Stage,
    find,
    run_foreground,
    start,
)
from qrv.userland.shsyntax import (
    AndOr,
    Command,
    Lit,
    ShellSyntaxError,
    Word,
    parse,
)

__all__ = ["PROMPT", "Shell", "find", "main"]

SIGINT = 2
INTERRUPTED = SIGNAL_BASE + SIGINT
STATUS_MASK = 0xFF
"""An exit status is 8 bits: ``exit 256`` is 0, ``exit -1`` is 255."""
NUMBER = re.compile(r"[+-]?[0-9]+")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
"""NAME=: a NAME_START, then NAME_CHARS, as ranges (the 63 characters spelt out took
milliseconds to compile at every boot)."""
PROMPT = "# "
OCTAL = re.compile(r"[0-7]+")
UMASK_MAX = 0o777


def b_umask(argv: list[str]) -> int:
    """``umask``: print the shell's file mode creation mask (``0022``); ``umask MODE``
    (octal, at most 0777) sets it for the shell and the commands it starts."""
    if len(argv) > 2:
        err("sh: umask: usage: umask [MODE]")
        return EXIT_USAGE
    if len(argv) == 1:
        mask = umask(0)
        umask(mask)
        out(f"{mask:04o}\n")
        return 0
    text = argv[1]
    if OCTAL.fullmatch(text) is None or int(text, 8) > UMASK_MAX:
        err(f"sh: umask: '{text}': not an octal mode (0 to 0777)")
        return EXIT_FAILURE
    umask(int(text, 8))
    return 0


class ShellExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Shell:
    """One shell's state: variables, the last status, jobs, history."""

    def __init__(self, interactive: bool = False) -> None:
        self.interactive = interactive
        self.vars: dict[str, str] = {}
        self.last = 0
        self.last_bg = 0
        self.jobs: list[Job] = []
        self.history: list[str] = []
        self.builtins: dict[str, Program] = {
            "exit": self.b_exit,
            "export": self.b_export,
            "unset": self.b_unset,
            "jobs": self.b_jobs,
            "wait": self.b_wait,
            "history": self.b_history,
            "cd": self.b_cd,
            "pwd": self.b_pwd,
            "umask": b_umask,
        }

    # -- expansion -------------------------------------------------------------------

    def lookup(self, name: str) -> str:
        if name == "?":
            return str(self.last)
        if name == "$":
            return str(getpid())
        if name == "!":
            return str(self.last_bg) if self.last_bg else ""
        if name == "#":
            return "0"
        if name == "0":
            return "sh"
        value = self.vars.get(name)
        return value if value is not None else getenv(name) or ""

    def stage(self, cmd: Command) -> Stage | None:
        """Expand a command; None when it only assigned variables (done here)."""
        words: list[str] = []
        for w in cmd.words:
            words.extend(expand(w, self.lookup))
        assigns = 0
        while assigns < len(words) and ASSIGNMENT.match(words[assigns]):
            assigns += 1
        redirs = [Redir(r.fd, r.op, " ".join(expand(r.target, self.lookup))) for r in cmd.redirects]
        if assigns == len(words) and not redirs:
            for a in words:
                self.assign(*a.split("=", 1))
            return None
        for a in words[:assigns]:
            self.assign(*a.split("=", 1))  # no per-command environment: set in the shell
        argv = words[assigns:]
        builtin = self.builtins.get(argv[0]) if argv else None
        return Stage(argv, redirs, builtin)

    def assign(self, name: str, value: str) -> None:
        if getenv(name) is not None:
            setenv(name, value)
        else:
            self.vars[name] = value

    # -- running -----------------------------------------------------------------------

    def run_line(self, line: str) -> int:
        """Run a line; a command ended by ^C ends the line (status 130)."""
        try:
            script = parse(line)
        except ShellSyntaxError as exc:
            err(f"sh: syntax error: {exc}")
            self.last = EXIT_USAGE
            return self.last
        try:
            for node in script:
                self.last = self.run_and_or(node)
        except CommandInterrupted:
            self.last = INTERRUPTED
        return self.last

    def run_and_or(self, node: AndOr) -> int:
        if node.background:
            return self.background(node)
        status = self.run_pipeline(node.first)
        for op, pipeline in node.rest:
            self.last = status
            if (op == "&&") == (status == 0):
                status = self.run_pipeline(pipeline)
        return status

    def run_pipeline(self, cmds: list[Command]) -> int:
        stages = []
        for c in cmds:
            s = self.stage(c)
            if s is None:
                if len(cmds) == 1:
                    return 0
                s = Stage([], [])
            stages.append(s)
        return run_foreground(stages)

    def background(self, node: AndOr) -> int:
        """``cmd &``: start the first pipeline (an and-or list runs in a child sh)."""
        text = _describe(node)
        if node.rest:
            stages = [Stage(["sh"], [], self._subshell(AndOr(node.first, node.rest)))]
        else:
            stages = [s for s in (self.stage(c) for c in node.first) if s is not None]
        if not stages:
            return 0
        try:
            pids = start(stages)
        except OSError as exc:
            err(f"sh: cannot make a pipe: {exc.strerror}")
            return EXIT_FAILURE
        number = max((j.number for j in self.jobs), default=0) + 1
        self.jobs.append(Job(number, text, pids))
        self.last_bg = pids[-1]
        if self.interactive:
            err(f"[{number}] {pids[-1]}")
        return 0

    def _subshell(self, node: AndOr) -> Program:
        """The and-or list run by a copy of this shell (in a child process)."""

        def body(argv: list[str]) -> int:
            del argv
            sub = Shell()
            sub.vars, sub.last = dict(self.vars), self.last
            try:
                return sub.run_and_or(node)
            except CommandInterrupted:
                return INTERRUPTED

        return body

    def report_done(self) -> None:
        """Before a prompt: one line per background job that has ended."""
        for job in list(self.jobs):
            if job.poll():
                err(f"[{job.number}]+ Done ({job.wait()})    {job.text}")
                self.jobs.remove(job)

    # -- built-ins -----------------------------------------------------------------------

    def b_exit(self, argv: list[str]) -> int:
        args = argv[1:]
        if args and NUMBER.fullmatch(args[0]) is None:
            err(f"sh: exit: {args[0]}: numeric argument required")
            raise ShellExit(EXIT_USAGE)
        if len(args) > 1:
            err("sh: exit: too many arguments")
            return EXIT_FAILURE
        raise ShellExit((int(args[0]) if args else self.last) & STATUS_MASK)

    def b_export(self, argv: list[str]) -> int:
        status = 0
        if len(argv) == 1:
            for name, value in sorted(environ().items()):
                out(f"export {name}={_quote(value)}\n")
        for arg in argv[1:]:
            name, eq, value = arg.partition("=")
            if not ASSIGNMENT.match(name + "="):
                err(f"sh: export: '{arg}': not a valid name")
                status = EXIT_FAILURE
                continue
            setenv(name, value if eq else self.vars.get(name, getenv(name) or ""))
            self.vars.pop(name, None)
        return status

    def b_unset(self, argv: list[str]) -> int:
        for name in argv[1:]:
            self.vars.pop(name, None)
            unsetenv(name)
        return 0

    def b_jobs(self, argv: list[str]) -> int:
        if argv[1:]:
            err(f"sh: jobs: unknown argument '{argv[1]}' (usage: jobs)")
            return EXIT_USAGE
        for job in self.jobs:
            state = "Done" if job.poll() else "Running"
            out(f"[{job.number}] {state:<8} {job.text}\n")
        return 0

    def b_wait(self, argv: list[str]) -> int:
        """``wait``: every job (status 0); ``wait %N`` or ``wait PID``: that one's status."""
        status = 0
        targets = argv[1:] or None
        for job in list(self.jobs):
            keys = {f"%{job.number}", *(str(p) for p in job.pids)}
            if targets is None or keys & set(targets):
                status = job.wait()
                self.jobs.remove(job)
                if targets is not None:
                    targets = [t for t in targets if t not in keys]
        if targets:
            err(f"sh: wait: {targets[0]}: no such job")
            return NOT_A_JOB
        return status if argv[1:] else 0

    def b_cd(self, argv: list[str]) -> int:
        if len(argv) > 2 or argv[1:2] == ["--help"]:
            err("sh: cd: usage: cd [DIR]")
            return EXIT_USAGE
        target = argv[1] if len(argv) > 1 else "/"
        try:
            chdir(target)
        except OSError as exc:
            err(f"sh: cd: {target}: {strerror(exc.errno or 0)}")
            return EXIT_FAILURE
        return 0

    def b_pwd(self, argv: list[str]) -> int:
        if argv[1:]:
            err(f"sh: pwd: unknown argument '{argv[1]}' (usage: pwd)")
            return EXIT_USAGE
        out(getcwd() + "\n")
        return 0

    def b_history(self, argv: list[str]) -> int:
        if argv[1:]:
            err(f"sh: history: unknown argument '{argv[1]}' (usage: history)")
            return EXIT_USAGE
        for i, line in enumerate(self.history, 1):
            out(f"{i:5}  {line}\n")
        return 0

    # -- reading ---------------------------------------------------------------------------

    def recall(self, line: str) -> str | None:
        """``!!`` replaced by the previous line (None: there is none)."""
        if "!!" not in line:
            return line
        if not self.history:
            err("sh: !!: event not found")
            return None
        expanded = line.replace("!!", self.history[-1])
        err(expanded)
        return expanded

    def repl(self, stream: BinaryIO) -> int:
        """Read and run lines until end of file; the last status (ShellExit ends it sooner)."""
        edit = getattr(stream, "edit_readline", None) if self.interactive else None
        while True:
            if self.interactive:
                self.report_done()
                if edit is None:
                    prompt(PROMPT)
            try:
                raw = edit(PROMPT, self.history, complete, echo) if edit else stream.readline()
            except InterruptedError:  # ^C at the prompt: drop the line, start a new one
                if self.interactive:
                    prompt("^C\n" if edit else "\n")  # no terminal echo in edit mode: show it
                self.last = INTERRUPTED
                continue
            if not raw:
                if self.interactive:
                    prompt("\n")
                return self.last
            line = raw.decode(errors="replace").rstrip("\n")
            if self.interactive:
                recalled = self.recall(line)
                if recalled is None:
                    self.last = EXIT_FAILURE
                    continue
                line = recalled
                if line.strip():
                    self.history.append(line)
            self.run_line(line)
            if self.interactive and self.last == INTERRUPTED:
                prompt("\n")  # the command died of ^C: the prompt goes on a new line


NOT_A_JOB = 127


def _quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _describe(node: AndOr) -> str:
    """An and-or list as text (for ``jobs``)."""

    def word(w: Word) -> str:
        return "".join(p.text if isinstance(p, Lit) else f"${p.name}" for p in w)

    def pipeline(cmds: list[Command]) -> str:
        return " | ".join(" ".join(word(w) for w in c.words) for c in cmds)

    text = pipeline(node.first)
    for op, cmds in node.rest:
        text += f" {op} {pipeline(cmds)}"
    return text


def complete(word: str, command: bool) -> list[str]:
    """Tab: command names (the shell's, /bin's) for the first word, else paths."""
    if command and "/" not in word:
        try:
            installed = listdir("/bin")
        except OSError:
            installed = []
        return [n for n in sorted({*COMMANDS, *BUILTINS, *installed}) if n.startswith(word)]
    head, _, base = word.rpartition("/")
    directory = head + "/" if head or word.startswith("/") else ""
    try:
        names = listdir(directory or ".")
    except OSError:
        return []
    found = []
    for name in names:
        if name.startswith(base) and (base.startswith(".") or not name.startswith(".")):
            path = directory + name
            found.append(path + "/" if _is_dir(path) else path)
    return found


def _is_dir(path: str) -> bool:
    try:
        return is_dir(stat(path).mode)
    except OSError:
        return False


def echo(data: bytes) -> None:
    """The line editor's prompt and echo: on stderr, with the prompt."""
    prompt(data.decode(errors="replace"))


def prompt(text: str) -> None:
    """The prompt (and the newlines of ^C/^D) on stderr: stdout carries only output."""
    with contextlib.suppress(OSError):
        stdio.eprintf(text)


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    args = argv[1:]
    shell = Shell()
    try:
        if args and args[0] == "-c":
            if len(args) < 2:
                err("sh: -c: option requires an argument")
                return EXIT_USAGE
            return shell.run_line(args[1])
        if args:
            err(f"sh: unknown argument '{args[0]}' (usage: sh [-c 'cmd; cmd'])")
            return EXIT_USAGE
        stream = stdio.stdin()
        shell.interactive = bool(getattr(stream, "isatty", lambda: False)())
        return shell.repl(stream)
    except ShellExit as exc:
        return exc.status

"""sh: the system's shell.

``sh -c 'cmd; cmd'`` runs the commands and exits with the last status;
otherwise commands are read from stdin, with a ``# `` prompt when stdin is
a terminal.  Each command is a program run as its own process (spawn +
waitpid); ``exit [N]`` is built in.  A command crashed by an exception
has status 128 + 11 (as a SIGSEGV'd process in a POSIX shell).

Interactive (stdin a terminal) the shell behaves as sh does under ^C and
^D: a ^C while a command runs ends that command (the console delivers
SIGINT to the foreground processes; the shell sees status 128 + 2 = 130 and
starts a new line); a ^C at the prompt interrupts the shell's read (EINTR),
the partial line is dropped and a fresh prompt printed; ^D on an empty line
(end of file) ends the shell with the last status.

``exit [N]``: N (taken modulo 256, as a POSIX exit status) or the last
status; a non-numeric N is an error that still exits (status 2), more than
one argument is an error that does not (status 1), as in bash.
"""

from __future__ import annotations

import importlib
import re
import shlex
from collections.abc import Callable
from typing import BinaryIO

from qrv.lib.c import find_program, spawn, stdio, waitpid
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, out

Program = Callable[[list[str]], int]

COMMANDS: dict[str, str] = {
    "cat": "qrv.userland.cat",
    "dd": "qrv.userland.dd",
    "echo": "qrv.userland.echo",
    "hexdump": "qrv.userland.hexdump",
    "ls": "qrv.userland.ls",
    "lspci": "qrv.userland.lspci",
    "mount": "qrv.userland.mount",
    "pidin": "qrv.userland.pidin",
    "sh": "qrv.userland.sh",
    "sync": "qrv.userland.sync",
    "umount": "qrv.userland.umount",
}
"""Command name -> program module (a module with ``main(argv) -> int``)."""

NOT_FOUND = 127
SIGNAL_BASE = 128
SIGINT = 2
"""POSIX's interrupt signal number: a command ended by ^C has status 128 + 2."""
INTERRUPTED = SIGNAL_BASE + SIGINT
STATUS_MASK = 0xFF
"""An exit status is 8 bits: ``exit 256`` is 0, ``exit -1`` is 255."""
NUMBER = re.compile(r"[+-]?[0-9]+")
PROMPT = "# "


class ShellExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class CommandInterrupted(Exception):
    """A command died of SIGINT: the shell abandons the rest of the line, as sh does."""


def find(name: str) -> Program | None:
    """The program of a command name (a built-in one, or one installed as /bin/NAME), or None."""
    module = COMMANDS.get(name)
    if module is None:
        return find_program(name)
    try:
        entry: Program = importlib.import_module(module).main
    except ImportError:
        return None
    return entry


def split(line: str) -> list[list[str]]:
    """Commands of a line: words split like sh (quotes, ``#`` comments), ``;`` separated."""
    lex = shlex.shlex(line, posix=True, punctuation_chars=";")
    lex.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lex:
        if token and set(token) == {";"}:
            commands.extend([] for _ in token)
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def builtin_exit(args: list[str], last: int) -> int:
    """``exit [N]``: raise ShellExit, or return a failure status (too many arguments)."""
    if args and NUMBER.fullmatch(args[0]) is None:
        err(f"sh: exit: {args[0]}: numeric argument required")
        raise ShellExit(EXIT_USAGE)
    if len(args) > 1:
        err("sh: exit: too many arguments")
        return EXIT_FAILURE
    raise ShellExit((int(args[0]) if args else last) & STATUS_MASK)


def run(argv: list[str], last: int) -> int:
    name = argv[0]
    if name == "exit":
        return builtin_exit(argv[1:], last)
    entry = find(name)
    if entry is None:
        err(f"sh: {name}: not found")
        return NOT_FOUND
    status = waitpid(spawn(entry, argv))
    if status == -SIGINT:
        raise CommandInterrupted
    return SIGNAL_BASE - status if status < 0 else status


def run_line(line: str, last: int) -> int:
    """Run a line's commands in order; a command ended by ^C ends the line (status 130)."""
    try:
        commands = split(line)
    except ValueError as exc:
        err(f"sh: syntax error: {exc}")
        return EXIT_USAGE
    try:
        for argv in commands:
            last = run(argv, last)
    except CommandInterrupted:
        return INTERRUPTED
    return last


def repl(stream: BinaryIO, interactive: bool) -> int:
    """Read and run lines until end of file; the last status (ShellExit ends it sooner)."""
    status = 0
    while True:
        if interactive:
            out(PROMPT)
        try:
            raw = stream.readline()
        except InterruptedError:  # ^C at the prompt: drop the line, start a new one
            if interactive:
                out("\n")
            status = INTERRUPTED
            continue
        if not raw:
            if interactive:
                out("\n")
            return status
        status = run_line(raw.decode(errors="replace"), status)
        if interactive and status == INTERRUPTED:
            out("\n")  # the command died of ^C: the prompt goes on a new line


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    args = argv[1:]
    try:
        if args and args[0] == "-c":
            if len(args) < 2:
                err("sh: -c: option requires an argument")
                return EXIT_USAGE
            return run_line(args[1], 0)
        if args:
            err(f"sh: unknown argument '{args[0]}' (usage: sh [-c 'cmd; cmd'])")
            return EXIT_USAGE
        stream = stdio.stdin()
        interactive = bool(getattr(stream, "isatty", lambda: False)())
        return repl(stream, interactive)
    except ShellExit as exc:
        return exc.status

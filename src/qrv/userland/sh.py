"""sh: the system's shell.

``sh -c 'cmd; cmd'`` runs the commands and exits with the last status;
otherwise commands are read from stdin, with a ``# `` prompt when stdin is
a terminal.  Each command is a program run as its own process (spawn +
waitpid); ``exit [N]`` is built in.  A command crashed by an exception
has status 128 + 11 (as a SIGSEGV'd process in a POSIX shell).
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable, Iterator

from qrv.lib.c import spawn, stdio, waitpid
from qrv.userland._util import EXIT_USAGE, err, out

Program = Callable[[list[str]], int]

COMMANDS: dict[str, str] = {
    "cat": "qrv.userland.cat",
    "dd": "qrv.userland.dd",
    "echo": "qrv.userland.echo",
    "hexdump": "qrv.userland.hexdump",
    "ls": "qrv.userland.ls",
    "lspci": "qrv.userland.lspci",
    "pidin": "qrv.userland.pidin",
    "sh": "qrv.userland.sh",
}
"""Command name -> program module (a module with ``main(argv) -> int``)."""

NOT_FOUND = 127
SIGNAL_BASE = 128
PROMPT = "# "


class ShellExit(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def find(name: str) -> Program | None:
    """The program of a command name, or None."""
    module = COMMANDS.get(name)
    if module is None:
        return None
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


def run(argv: list[str], last: int) -> int:
    name = argv[0]
    if name == "exit":
        if len(argv) > 1 and not argv[1].lstrip("-").isdigit():
            err(f"sh: exit: {argv[1]}: numeric argument required")
            raise ShellExit(EXIT_USAGE)
        raise ShellExit(int(argv[1]) if len(argv) > 1 else last)
    entry = find(name)
    if entry is None:
        err(f"sh: {name}: not found")
        return NOT_FOUND
    status = waitpid(spawn(entry, argv))
    return SIGNAL_BASE - status if status < 0 else status


def run_line(line: str, last: int) -> int:
    try:
        commands = split(line)
    except ValueError as exc:
        err(f"sh: syntax error: {exc}")
        return EXIT_USAGE
    for argv in commands:
        last = run(argv, last)
    return last


def _lines(interactive: bool) -> Iterator[str]:
    stream = stdio.stdin()
    while True:
        if interactive:
            out(PROMPT)
        raw = stream.readline()
        if not raw:
            return
        yield raw.decode(errors="replace")


def main(argv: list[str]) -> int:
    args = argv[1:]
    status = 0
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
        for line in _lines(interactive):
            status = run_line(line, status)
        if interactive:
            out("\n")
    except ShellExit as exc:
        return exc.status
    return status

"""help: list the commands, one line each.  use CMD: print a command's usage (QNX's ``use``).

``help`` lists the user's programs of ``/bin`` too.

``use`` prints a program's usage message on stdout, as QNX's ``use`` reads the
one kept in the executable: here the first paragraph of the program's module
docstring, for the system's commands and for the user's programs installed as
``/bin/NAME`` (read from that file, which holds the program's source).  A shell
built-in's usage is the shell's line.
"""

from __future__ import annotations

import ast
import importlib

from qrv.lib.c import close, listdir, open
from qrv.userland._input import chunks
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, fail, out
from qrv.userland.commands import BUILTINS, COMMANDS


def installed() -> list[str]:
    """The names in /bin (the system's commands and the user's programs)."""
    try:
        return listdir("/bin")
    except OSError:
        return []


def _help(args: list[str]) -> int:
    if args:
        if args[0] != "--help":
            kind = "option" if args[0].startswith("-") else "argument"
            err(f"help: unknown {kind} '{args[0]}'")
        err("usage: help")
        return EXIT_USAGE
    lines = {name: line for name, (_, line) in COMMANDS.items()}
    lines.update((name, usage.split(": ", 1)[1]) for name, usage in BUILTINS.items())
    for name in installed():
        lines.setdefault(name, f"your program (/bin/{name})")
    width = max(len(n) for n in lines)
    for name in sorted(lines):
        out(f"{name:<{width}}  {lines[name]}\n")
    return 0


def _use(args: list[str]) -> int:
    if len(args) != 1 or args[0].startswith("-"):
        if args and args[0] != "--help":
            kind = "option" if args[0].startswith("-") else "argument"
            err(f"use: unknown {kind} '{args[-1] if kind == 'argument' else args[0]}'")
        err("usage: use COMMAND")
        return EXIT_USAGE
    name = args[0]
    if name in BUILTINS:
        out(BUILTINS[name] + "\n")
        return 0
    if name in COMMANDS:
        doc = importlib.import_module(COMMANDS[name][0]).__doc__
    elif "/" not in name and name in installed():
        try:
            doc = _docstring(f"/bin/{name}")
        except OSError as exc:
            return fail("use", f"/bin/{name}", exc)
    else:
        err(f"use: {name}: not found")
        return EXIT_FAILURE
    if not doc:
        err(f"use: {name}: no usage message")
        return EXIT_FAILURE
    out(doc.strip().split("\n\n", 1)[0] + "\n")
    return 0


def _docstring(path: str) -> str | None:
    """The module docstring of the program file `path` (its Python source), if any."""
    fd = open(path)
    try:
        source = b"".join(chunks(fd))
    finally:
        close(fd)
    try:
        return ast.get_docstring(ast.parse(source))
    except (SyntaxError, ValueError):
        return None


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    if argv and argv[0].rsplit("/", 1)[-1] == "use":
        return _use(argv[1:])
    return _help(argv[1:])

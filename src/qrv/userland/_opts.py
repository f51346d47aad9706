"""Command-line options the POSIX way (``getopt``), with the system's usage errors.

``--help`` or an option the command does not know: its usage on stderr,
naming the bad option, and status 2 (:class:`Usage`, raised here and turned
into that by :func:`usage_error`).
"""

from __future__ import annotations

import getopt

from qrv.userland._util import EXIT_USAGE, err


class Usage(Exception):
    """A usage error: the message (without the usage line)."""


def options(name: str, args: list[str], spec: str) -> tuple[dict[str, str], list[str]]:
    """getopt `spec` ("ln:"): ({"-l": "", "-n": "5"}, operands); Usage on an error."""
    before = args[: args.index("--")] if "--" in args else args
    if "--help" in before:
        raise Usage("")
    try:
        opts, rest = getopt.getopt(args, spec)
    except getopt.GetoptError as exc:
        opt = f"-{exc.opt}" if exc.opt else ""
        if "requires argument" in exc.msg:
            raise Usage(f"option '{opt}' needs a value") from None
        raise Usage(f"unknown option '{opt}'" if opt else exc.msg) from None
    return dict(opts), rest


def usage_error(name: str, usage: str, exc: Usage) -> int:
    """Print ``name: problem`` (if any) and ``usage: ...`` on stderr; status 2."""
    if str(exc):
        err(f"{name}: {exc}")
    err(f"usage: {usage}")
    return EXIT_USAGE


def number(text: str, what: str, minimum: int = 0) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise Usage(f"bad {what} '{text}'") from None
    if value < minimum:
        raise Usage(f"bad {what} '{text}'")
    return value


def line_or_byte_count(name: str, args: list[str]) -> tuple[int, int | None, list[str]]:
    """head's and tail's ``-n LINES`` (default 10) and ``-c BYTES``: (lines, bytes, paths)."""
    opts, paths = options(name, args, "n:c:")
    count = number(opts.get("-n", "10"), "line count")
    nbytes = number(opts["-c"], "byte count") if "-c" in opts else None
    return count, nbytes, paths

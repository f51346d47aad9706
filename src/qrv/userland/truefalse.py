"""true, false: do nothing, with status 0 (true) or 1 (false); arguments are ignored (POSIX)."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    return 1 if argv and argv[0].rsplit("/", 1)[-1] == "false" else 0

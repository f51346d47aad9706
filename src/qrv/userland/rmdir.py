"""rmdir DIR...: remove empty directories.

A directory that is not empty is ``rmdir: DIR: Directory not empty``
(status 1); the next operand is still removed.
"""

from __future__ import annotations

from qrv.lib.c import rmdir
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail

USAGE = "rmdir DIR..."


def main(argv: list[str]) -> int:
    try:
        _opts, dirs = options("rmdir", argv[1:], "")
        if not dirs:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("rmdir", USAGE, exc)
    status = 0
    for path in dirs:
        try:
            rmdir(path)
        except OSError as exc:
            status = fail("rmdir", path, exc)
    return EXIT_FAILURE if status else 0

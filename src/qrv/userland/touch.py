"""touch [-c] FILE...: set files' access and modification times to now,
creating them (empty, 0666 less the umask) when missing unless ``-c``."""

from __future__ import annotations

from qrv.lib.c import close, open, utime
from qrv.spec.iomsg import ENOENT, O_CREAT, O_WRONLY
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail

USAGE = "touch [-c] FILE..."
NEW_MODE = 0o666


def _touch(path: str, create: bool) -> int:
    try:
        utime(path)
        return 0
    except OSError as exc:
        if exc.errno != ENOENT:
            return fail("touch", path, exc)
        if not create:
            return 0
    try:
        close(open(path, O_CREAT | O_WRONLY, NEW_MODE))
    except OSError as exc:
        return fail("touch", path, exc)
    return 0


def main(argv: list[str]) -> int:
    try:
        opts, paths = options("touch", argv[1:], "c")
        if not paths:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("touch", USAGE, exc)
    status = 0
    for path in paths:
        status |= _touch(path, "-c" not in opts)
    return EXIT_FAILURE if status else 0

"""mkdir [-p] [-m MODE] DIR...: make directories.

``-p`` makes the missing parents too and is quiet about a directory that
exists; ``-m MODE`` (octal) gives the new directories' permissions (default
0777: qrv has no umask).  A failure is ``mkdir: DIR: strerror``, status 1,
and the next operand is still made.
"""

from __future__ import annotations

from qrv.lib.c import mkdir, stat
from qrv.spec.iomsg import EEXIST
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail, is_dir

USAGE = "mkdir [-p] [-m MODE] DIR..."
DEFAULT_MODE = 0o777


def octal_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise Usage(f"bad mode '{text}'") from None
    if not 0 <= mode <= 0o7777:
        raise Usage(f"bad mode '{text}'")
    return mode


def _exists_as_dir(path: str) -> bool:
    try:
        return is_dir(stat(path).mode)
    except OSError:
        return False


def make_parents(path: str, mode: int) -> None:
    """mkdir -p: every missing directory of `path` (OSError when one cannot be made)."""
    cur = "/" if path.startswith("/") else ""
    for part in (p for p in path.split("/") if p):
        cur = f"{cur}{part}" if cur in ("", "/") else f"{cur}/{part}"
        try:
            mkdir(cur, mode)
        except OSError as exc:
            if exc.errno != EEXIST or not _exists_as_dir(cur):
                raise


def main(argv: list[str]) -> int:
    try:
        opts, dirs = options("mkdir", argv[1:], "pm:")
        if not dirs:
            raise Usage("missing operand")
        mode = octal_mode(opts["-m"]) if "-m" in opts else DEFAULT_MODE
    except Usage as exc:
        return usage_error("mkdir", USAGE, exc)
    status = 0
    for path in dirs:
        try:
            if "-p" in opts:
                make_parents(path, mode)
            else:
                mkdir(path, mode)
        except OSError as exc:
            status = fail("mkdir", path, exc)
    return EXIT_FAILURE if status else 0

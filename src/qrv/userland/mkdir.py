"""mkdir [-p] [-m MODE] DIR...: make directories.

``-p`` makes the missing parents too and is quiet about a directory that
exists; ``-m MODE`` (octal) gives the new directories' permissions exactly
(default 0777 less the umask); parents made by ``-p`` get 0777 less the umask,
with u+wx (POSIX mkdir).  A failure is ``mkdir: DIR: strerror``, status 1,
and the next operand is still made.
"""

from __future__ import annotations

from qrv.lib.c import mkdir, stat, umask
from qrv.spec.iomsg import EEXIST, S_IWUSR, S_IXUSR
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


def make_parents(path: str, mode: int, parent_mode: int) -> None:
    """mkdir -p: every missing directory of `path`, the last with `mode` (OSError when
    one cannot be made)."""
    cur = "/" if path.startswith("/") else ""
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        cur = f"{cur}{part}" if cur in ("", "/") else f"{cur}/{part}"
        try:
            mkdir(cur, mode if i == len(parts) - 1 else parent_mode)
        except OSError as exc:
            if exc.errno != EEXIST or not _exists_as_dir(cur):
                raise


def main(argv: list[str]) -> int:
    try:
        opts, dirs = options("mkdir", argv[1:], "pm:")
        if not dirs:
            raise Usage("missing operand")
        given = octal_mode(opts["-m"]) if "-m" in opts else None
    except Usage as exc:
        return usage_error("mkdir", USAGE, exc)
    mask = umask(0)  # the modes below are final: this process applies the mask itself
    mode = DEFAULT_MODE & ~mask if given is None else given
    parent_mode = (DEFAULT_MODE & ~mask) | S_IWUSR | S_IXUSR
    status = 0
    for path in dirs:
        try:
            if "-p" in opts:
                make_parents(path, mode, parent_mode)
            else:
                mkdir(path, mode)
        except OSError as exc:
            status = fail("mkdir", path, exc)
    return EXIT_FAILURE if status else 0

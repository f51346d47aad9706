"""rm [-r] [-f] PATH...: remove files (and with ``-r``/``-R`` directories and
what they hold).

A directory without ``-r`` is ``rm: PATH: Is a directory``; ``-f`` is quiet
about a path that does not exist (and makes no operand fine).  A symbolic
link is removed, never followed.  Status 1 when something could not be
removed; the other operands are still removed.
"""

from __future__ import annotations

from qrv.lib.c import lstat, unlink
from qrv.spec.iomsg import EISDIR, ENOENT, oserror
from qrv.userland._files import remove_tree
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail, is_dir

USAGE = "rm [-r] [-f] PATH..."


def _remove(path: str, recursive: bool, force: bool) -> int:
    try:
        st = lstat(path)
        if is_dir(st.mode):
            if recursive:
                return remove_tree("rm", path)
            raise oserror(EISDIR, path)
        unlink(path)
    except OSError as exc:
        if force and exc.errno == ENOENT:
            return 0
        return fail("rm", path, exc)
    return 0


def main(argv: list[str]) -> int:
    try:
        opts, paths = options("rm", argv[1:], "rRf")
        if not paths and "-f" not in opts:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("rm", USAGE, exc)
    recursive = "-r" in opts or "-R" in opts
    status = 0
    for path in paths:
        status |= _remove(path, recursive, "-f" in opts)
    return EXIT_FAILURE if status else 0

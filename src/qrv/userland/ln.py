"""ln [-s] [-f] TARGET LINK, ln [-s] [-f] TARGET... DIR: make links.

Without ``-s`` a hard link (another name of the same file; both on one
filesystem, else ``Invalid cross-device link``); with ``-s`` a symbolic link
holding TARGET as given.  ``-f`` removes an existing LINK first.
"""

from __future__ import annotations

from qrv.lib.c import link, symlink, unlink
from qrv.spec.iomsg import ENOENT
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail
from qrv.userland.cp import destinations

USAGE = "ln [-s] [-f] TARGET LINK | ln [-s] [-f] TARGET... DIR"


def _link(target: str, name: str, soft: bool, force: bool) -> int:
    try:
        if force:
            try:
                unlink(name)
            except OSError as exc:
                if exc.errno != ENOENT:
                    raise
        if soft:
            symlink(target, name)
        else:
            link(target, name)
    except OSError as exc:
        return fail("ln", name, exc)
    return 0


def main(argv: list[str]) -> int:
    try:
        opts, operands = options("ln", argv[1:], "sf")
        if len(operands) < 2:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("ln", USAGE, exc)
    pairs = destinations("ln", operands)
    if pairs is None:
        return EXIT_FAILURE
    status = 0
    for target, name in pairs:
        status |= _link(target, name, "-s" in opts, "-f" in opts)
    return EXIT_FAILURE if status else 0

"""mv SOURCE DEST, mv SOURCE... DIR: rename files and directories.

Within one filesystem a move is one ``rename`` (atomic: the target is
replaced, never missing).  Across filesystems (EXDEV) the source is copied,
then removed, as coreutils mv does; a failed copy leaves the source in place.
"""

from __future__ import annotations

from qrv.lib.c import rename
from qrv.spec.iomsg import EXDEV
from qrv.userland._files import copy_tree, remove_tree
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, fail
from qrv.userland.cp import destinations

USAGE = "mv SOURCE DEST | mv SOURCE... DIR"


def _move(src: str, dst: str) -> int:
    try:
        rename(src, dst)
        return 0
    except OSError as exc:
        if exc.errno != EXDEV:
            return fail("mv", src, exc)
    if copy_tree("mv", src, dst, recursive=True):
        return EXIT_FAILURE
    return remove_tree("mv", src)


def main(argv: list[str]) -> int:
    try:
        _opts, operands = options("mv", argv[1:], "")
        if len(operands) < 2:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("mv", USAGE, exc)
    pairs = destinations("mv", operands)
    if pairs is None:
        return EXIT_FAILURE
    status = 0
    for src, dst in pairs:
        status |= _move(src, dst)
    return EXIT_FAILURE if status else 0

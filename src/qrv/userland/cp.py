"""cp [-r] SOURCE DEST, cp [-r] SOURCE... DIR: copy files (and with ``-r``/``-R``
directories, symbolic links copied as links).

The copy gets the source's permission bits and the copier as owner.  A
directory without ``-r`` is skipped with a line (status 1); copying a file
onto itself (same st_dev and st_ino, e.g. a hard link) or a directory into
itself is refused.
"""

from __future__ import annotations

from qrv.lib.c import stat
from qrv.userland._files import basename, copy_tree, join
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, err, is_dir

USAGE = "cp [-r] SOURCE DEST | cp [-r] SOURCE... DIR"


def target_dir(path: str) -> bool:
    try:
        return is_dir(stat(path).mode)
    except OSError:
        return False


def destinations(cmd: str, operands: list[str]) -> list[tuple[str, str]] | None:
    """(source, destination) pairs of cp's and mv's operands; None (reported) when
    several sources go to something that is not a directory."""
    *sources, dest = operands
    if target_dir(dest):
        return [(src, join(dest, basename(src))) for src in sources]
    if len(sources) > 1:
        err(f"{cmd}: {dest}: Not a directory")
        return None
    return [(sources[0], dest)]


def same_file(src: str, dst: str) -> bool:
    """Whether `dst` names the file `src` names (same st_dev and st_ino)."""
    try:
        a, b = stat(src), stat(dst)
    except OSError:
        return False
    return (a.dev, a.ino) == (b.dev, b.ino)


def inside(src: str, dst: str) -> bool:
    """Whether `dst` is `src` or below it (by name)."""
    s, d = src.rstrip("/") + "/", dst.rstrip("/") + "/"
    return d.startswith(s)


def main(argv: list[str]) -> int:
    try:
        opts, operands = options("cp", argv[1:], "rR")
        if len(operands) < 2:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("cp", USAGE, exc)
    pairs = destinations("cp", operands)
    if pairs is None:
        return EXIT_FAILURE
    recursive = "-r" in opts or "-R" in opts
    status = 0
    for src, dst in pairs:
        if same_file(src, dst):
            err(f"cp: '{src}' and '{dst}' are the same file")
            status = EXIT_FAILURE
            continue
        if recursive and inside(src, dst):
            err(f"cp: cannot copy '{src}' into itself, '{dst}'")
            status = EXIT_FAILURE
            continue
        status |= copy_tree("cp", src, dst, recursive)
    return EXIT_FAILURE if status else 0

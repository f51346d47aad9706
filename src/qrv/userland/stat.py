"""stat [-L] FILE...: print a file's inode fields (coreutils' layout).

The file itself is described (a symbolic link, not its target) unless
``-L``.  Times are UTC.  A missing file is ``stat: FILE: strerror``, status 1.
"""

from __future__ import annotations

import time

from qrv.lib.c import Stat, lstat, readlink, stat
from qrv.spec.iomsg import (
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
)
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, dies_of_sigpipe, fail, out
from qrv.userland.ls import mode_string

USAGE = "stat [-L] FILE..."
KINDS = {
    S_IFREG: "regular file",
    S_IFDIR: "directory",
    S_IFLNK: "symbolic link",
    S_IFCHR: "character special file",
    S_IFBLK: "block special file",
    S_IFIFO: "fifo",
}


def when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def describe(path: str, st: Stat, target: str | None) -> str:
    kind = KINDS.get(st.mode & S_IFMT, "unknown")
    name = path if target is None else f"{path} -> {target}"
    if st.mode & S_IFMT == S_IFREG and st.size == 0:
        kind = "regular empty file"
    return (
        f"  File: {name}\n"
        f"  Size: {st.size:<10} Blocks: {st.blocks:<10} IO Block: {st.blksize:<6} {kind}\n"
        f"Device: {st.dev:<9} Inode: {st.ino:<10} Links: {st.nlink}\n"
        f"Access: ({st.mode & 0o7777:04o}/{mode_string(st.mode)})"
        f"  Uid: ({st.uid:>5})   Gid: ({st.gid:>5})\n"
        f"Access: {when(st.atime)}\n"
        f"Modify: {when(st.mtime)}\n"
        f"Change: {when(st.ctime)}\n"
    )


def _stat(path: str, follow: bool) -> int:
    try:
        st = stat(path) if follow else lstat(path)
        target = readlink(path) if st.mode & S_IFMT == S_IFLNK else None
    except OSError as exc:
        return fail("stat", path, exc)
    out(describe(path, st, target))
    return 0


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, paths = options("stat", argv[1:], "L")
        if not paths:
            raise Usage("missing operand")
    except Usage as exc:
        return usage_error("stat", USAGE, exc)
    status = 0
    for path in paths:
        status |= _stat(path, "-L" in opts)
    return EXIT_FAILURE if status else 0

"""ls [-l] [PATH...]: list a directory (or name a file).

``-l`` prints the seed's format: mode string, links, uid, gid, size, name,
no date column — ``br--r--r--  1     0     0 67108864 nvme0n1``
(``%s%3d %5d %5d %8d %s``).
"""

from __future__ import annotations

from qrv.lib.c import Stat, listdir, stat
from qrv.spec.iomsg import (
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFNAM,
    S_IFSOCK,
    S_ISGID,
    S_ISUID,
)
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, err, fail, out

TYPE_LETTER = {
    S_IFDIR: "d",
    S_IFBLK: "b",
    S_IFCHR: "c",
    S_IFIFO: "p",
    S_IFLNK: "l",
    S_IFNAM: "n",
    S_IFSOCK: "s",
}
_RWX = "rwx"
_PERM_BITS = 9


def mode_string(mode: int) -> str:
    """``drwxr-xr-x``-style text of a st_mode (setuid/setgid shown as s/S)."""
    chars = [TYPE_LETTER.get(mode & S_IFMT, "-")]
    for i in range(_PERM_BITS):
        bit = 1 << (_PERM_BITS - 1 - i)
        chars.append(_RWX[i % 3] if mode & bit else "-")
    for flag, pos in ((S_ISUID, 3), (S_ISGID, 6)):
        if mode & flag:
            chars[pos] = "s" if chars[pos] == "x" else "S"
    return "".join(chars)


def long_line(st: Stat, name: str) -> str:
    return f"{mode_string(st.mode)}{st.nlink:>3} {st.uid:>5} {st.gid:>5} {st.size:>8} {name}"


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _list(path: str, long: bool) -> int:
    try:
        st = stat(path)
    except OSError as exc:
        return fail("ls", path, exc)
    if st.mode & S_IFMT != S_IFDIR:
        out((long_line(st, path) if long else path) + "\n")
        return 0
    try:
        names = sorted(listdir(path))
    except OSError as exc:
        return fail("ls", path, exc)
    status = 0
    for name in names:
        if not long:
            out(name + "\n")
            continue
        try:
            out(long_line(stat(_join(path, name)), name) + "\n")
        except OSError as exc:
            status = fail("ls", _join(path, name), exc)
    return status


def main(argv: list[str]) -> int:
    long = False
    paths: list[str] = []
    for arg in argv[1:]:
        if arg == "-l":
            long = True
        elif arg.startswith("-") and arg != "-":
            err(f"ls: unknown option '{arg}' (usage: ls [-l] [path...])")
            return EXIT_USAGE
        else:
            paths.append(arg)
    paths = paths or ["/"]
    status = 0
    for i, path in enumerate(paths):
        if len(paths) > 1:
            out(("\n" if i else "") + f"{path}:\n")
        if _list(path, long) != 0:
            status = EXIT_FAILURE
    return status

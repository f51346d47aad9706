"""ls [-l] [PATH...]: list a directory (or name a file).

``-l`` prints the seed's format: mode string (setuid/setgid ``s``/``S``, sticky
``t``/``T``, as coreutils), links, uid, gid, size, name,
no date column — ``br--r--r--  1     0     0 67108864 nvme0n1``
(``%s%3d %5d %5d %8d %s``); a symbolic link in a directory is described
itself (``lstat``), its target after `` -> ``.

Operands are shown as coreutils (and QNX) ls shows them: errors first (on
stderr), then the operands that are not directories, sorted, as one list;
then each directory, sorted, headed ``PATH:`` only when there was more than
one operand, blocks separated by a blank line.
"""

from __future__ import annotations

from qrv.lib.c import Stat, listdir, lstat, readlink, stat
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
    S_ISVTX,
)
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, fail, is_dir, out

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
    """``drwxr-xr-x``-style text of a st_mode: setuid/setgid shown as s/S and the
    sticky bit as t/T in the execute position they share (lower case: executable too)."""
    chars = [TYPE_LETTER.get(mode & S_IFMT, "-")]
    for i in range(_PERM_BITS):
        bit = 1 << (_PERM_BITS - 1 - i)
        chars.append(_RWX[i % 3] if mode & bit else "-")
    for flag, pos, letter in ((S_ISUID, 3, "s"), (S_ISGID, 6, "s"), (S_ISVTX, 9, "t")):
        if mode & flag:
            chars[pos] = letter if chars[pos] == "x" else letter.upper()
    return "".join(chars)


def long_line(st: Stat, name: str) -> str:
    return f"{mode_string(st.mode)}{st.nlink:>3} {st.uid:>5} {st.gid:>5} {st.size:>8} {name}"


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _entry(st: Stat, name: str, long: bool) -> str:
    return (long_line(st, name) if long else name) + "\n"


def _list_dir(path: str, long: bool) -> int:
    try:
        names = sorted(listdir(path))
    except OSError as exc:
        return fail("ls", path, exc)
    status = 0
    for name in names:
        if not long:
            out(name + "\n")
            continue
        full = _join(path, name)
        try:
            st = lstat(full)
            shown = f"{name} -> {readlink(full)}" if st.mode & S_IFMT == S_IFLNK else name
            out(_entry(st, shown, long))
        except OSError as exc:
            status = fail("ls", _join(path, name), exc)
    return status


@dies_of_sigpipe
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
    operands = paths or ["/"]
    status = 0
    files: list[tuple[str, Stat]] = []
    dirs: list[str] = []
    for path in operands:
        try:
            st = stat(path)
        except OSError as exc:
            status = fail("ls", path, exc)
            continue
        if is_dir(st.mode):
            dirs.append(path)
        else:
            files.append((path, st))
    for path, st in sorted(files, key=lambda f: f[0]):
        out(_entry(st, path, long))
    for i, path in enumerate(sorted(dirs)):
        if files or i:
            out("\n")
        if len(operands) > 1:
            out(f"{path}:\n")
        if _list_dir(path, long) != 0:
            status = EXIT_FAILURE
    return status

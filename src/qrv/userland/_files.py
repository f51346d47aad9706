"""File-tree helpers shared by rm, cp and mv: joining names, walking, copying.

Each reports its own failures as ``cmd: path: strerror`` and returns a status
(0 or 1), so that one bad file does not stop the rest, as coreutils goes on.
"""

from __future__ import annotations

from qrv.lib.c import (
    Stat,
    close,
    fstat,
    listdir,
    lstat,
    mkdir,
    open,
    read,
    readlink,
    rmdir,
    stat,
    symlink,
    unlink,
    write,
)
from qrv.spec.iomsg import (
    EEXIST,
    ENOSPC,
    O_CREAT,
    O_RDONLY,
    O_TRUNC,
    O_WRONLY,
    S_IFLNK,
    S_IFMT,
    oserror,
)
from qrv.userland._util import EXIT_FAILURE, err, fail, is_dir

CHUNK = 65536
PERMS = 0o7777


def join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name if directory != "/" else "/" + name


def basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or "/"


def is_link(st: Stat) -> bool:
    return st.mode & S_IFMT == S_IFLNK


def children(path: str) -> list[str]:
    """The names in directory `path`, without "." and ".."."""
    return sorted(n for n in listdir(path) if n not in (".", ".."))


def remove_tree(cmd: str, path: str) -> int:
    """Remove `path` and everything below it (a symbolic link is removed, not followed)."""
    try:
        st = lstat(path)
        if not is_dir(st.mode):
            unlink(path)
            return 0
        names = children(path)
    except OSError as exc:
        return fail(cmd, path, exc)
    status = 0
    for name in names:
        status |= remove_tree(cmd, join(path, name))
    if status:
        return status
    try:
        rmdir(path)
    except OSError as exc:
        return fail(cmd, path, exc)
    return 0


def copy_data(src: str, dst: str) -> None:
    """Copy a regular file's bytes and permission bits (OSError on failure)."""
    fd = open(src, O_RDONLY)
    try:
        mode = fstat(fd).mode & PERMS
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode)
        try:
            while data := read(fd, CHUNK):
                done = 0
                while done < len(data):
                    n = write(out, data[done:])
                    if n <= 0:
                        raise oserror(ENOSPC, dst)
                    done += n
        finally:
            close(out)
    finally:
        close(fd)


def copy_tree(cmd: str, src: str, dst: str, recursive: bool) -> int:
    """Copy `src` to `dst`: a file's bytes (a symbolic link is followed, except
    inside a recursive copy, where it is copied as a link), a directory and what
    it holds (only with `recursive`)."""
    try:
        st = lstat(src)
        if is_link(st) and recursive:
            symlink(readlink(src), dst)
            return 0
        if is_link(st):
            st = stat(src)
        if not is_dir(st.mode):
            copy_data(src, dst)
            return 0
        if not recursive:
            err(f"{cmd}: -r not specified; omitting directory '{src}'")
            return EXIT_FAILURE
        try:
            mkdir(dst, st.mode & PERMS | 0o700)
        except OSError as exc:
            if exc.errno != EEXIST or not is_dir(stat(dst).mode):
                raise
        names = children(src)
    except OSError as exc:
        return fail(cmd, src, exc)
    status = 0
    for name in names:
        status |= copy_tree(cmd, join(src, name), join(dst, name), recursive)
    return EXIT_FAILURE if status else 0

"""symlink(2) and readlink(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import lstat, mkdir, readlink, stat, symlink, unlink
from qrv.spec.iomsg import S_IFLNK, S_IFMT
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create


def test_symlink_kept_as_given(mounted: Mounted) -> None:
    target = "a/" * 100 + "t\u00e9"  # 202 characters, 203 bytes: UTF-8 kept

    def make() -> object:
        symlink(target, "/mnt/l")
        symlink("/abs/olute", "/mnt/abs")
        return lstat("/mnt/l"), readlink("/mnt/l"), readlink("/mnt/abs")

    st, got, absolute = mounted.ok(make, USER)  # type: ignore[misc]
    assert got == target and absolute == "/abs/olute"
    assert (st.mode & S_IFMT, st.mode & 0o777, st.size, st.uid) == (
        S_IFLNK, 0o777, len(target.encode()), USER,
    )  # fmt: skip
    assert mounted.err(lambda: stat("/mnt/l")) == errno.ENOENT  # dangling
    assert mounted.fsck_clean()


def test_symlink_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d"), symlink("d", "/mnt/l")))
    for existing in ("/mnt/f", "/mnt/d", "/mnt/l", "/mnt"):
        assert mounted.err(lambda p=existing: symlink("x", p)) == errno.EEXIST, existing  # type: ignore[misc]
    assert mounted.err(lambda: symlink("x", "/mnt/none/l")) == errno.ENOENT
    assert mounted.err(lambda: symlink("x", "/mnt/f/l")) == errno.ENOTDIR
    assert mounted.err(lambda: symlink("x", "/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: symlink("x" * 1024, "/mnt/long")) == errno.ENAMETOOLONG
    assert mounted.err(lambda: symlink("", "/mnt/empty")) == errno.ENOENT
    assert mounted.err(lambda: readlink("/mnt/f")) == errno.EINVAL
    assert mounted.err(lambda: readlink("/mnt/none")) == errno.ENOENT
    mounted.ok(lambda: mkdir("/mnt/ro", 0o555), USER)
    assert mounted.err(lambda: symlink("x", "/mnt/ro/l"), USER) == errno.EACCES


def test_symlink_loops_and_through_directories(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/d"), create("/mnt/d/f", b"x"), symlink("d", "/mnt/dl")))
    mounted.ok(lambda: (symlink("self", "/mnt/self"), symlink("/d", "/mnt/rooted")))
    assert mounted.ok(lambda: stat("/mnt/dl/f").size) == 1
    assert mounted.ok(lambda: stat("/mnt/rooted/f").size) == 1  # from the filesystem's root
    assert mounted.err(lambda: stat("/mnt/self")) == errno.ELOOP
    assert mounted.err(lambda: stat("/mnt/self/x")) == errno.ELOOP
    mounted.ok(lambda: unlink("/mnt/dl"))  # the link goes, not its target
    assert mounted.ok(lambda: stat("/mnt/d/f").size) == 1
    assert mounted.fsck_clean()


def test_symlink_enospc(small: Mounted) -> None:
    def fill() -> int:
        n = 0
        while True:
            try:
                symlink("t", f"/mnt/l{n}")
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return n
            n += 1

    assert small.ok(fill) == 14
    assert small.fsck_clean()

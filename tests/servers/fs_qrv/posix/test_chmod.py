"""chmod(2)/fchmod(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import chmod, close, fchmod, lstat, mkdir, open, stat, symlink, utime
from qrv.spec.iomsg import O_RDONLY, S_IFDIR, S_IFMT, S_IFREG
from tests.servers.fs_qrv.posix.conftest import OTHER, USER, Mounted, create
from tests.userland.shell import run


def test_chmod_by_owner_and_root(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d"), utime("/mnt/f", (5, 5))), USER)

    def change() -> object:
        chmod("/mnt/f", 0o4751)
        chmod("/mnt/d", 0o700)
        fd = open("/mnt/f", O_RDONLY)
        fchmod(fd, 0o640)
        close(fd)
        return stat("/mnt/f"), stat("/mnt/d")

    f, d = mounted.ok(change, USER)  # type: ignore[misc]
    assert (f.mode & S_IFMT, f.mode & 0o7777, f.mtime, f.ctime > 5) == (S_IFREG, 0o640, 5, True)
    assert (d.mode & S_IFMT, d.mode & 0o7777) == (S_IFDIR, 0o700)
    mounted.ok(lambda: chmod("/mnt/f", 0o7777))  # root may
    assert mounted.ok(lambda: stat("/mnt/f").mode & 0o7777) == 0o7777
    assert mounted.fsck_clean()


def test_chmod_follows_symlinks(mounted: Mounted) -> None:
    mounted.ok(
        lambda: (create("/mnt/t", mode=0o600), symlink("t", "/mnt/l"), chmod("/mnt/l", 0o644))
    )
    assert mounted.ok(lambda: (stat("/mnt/t").mode & 0o777, lstat("/mnt/l").mode & 0o777)) == (
        0o644, 0o777,
    )  # fmt: skip


def test_chmod_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f"), USER)
    assert mounted.err(lambda: chmod("/mnt/f", 0o777), OTHER) == errno.EPERM
    assert mounted.err(lambda: chmod("/mnt/none", 0o644)) == errno.ENOENT
    assert mounted.err(lambda: chmod("/mnt/f/x", 0o644)) == errno.ENOTDIR
    assert mounted.err(lambda: chmod("/mnt/" + "n" * 252, 0o644)) == errno.ENAMETOOLONG
    mounted.ok(lambda: (symlink("b", "/mnt/a"), symlink("a", "/mnt/b")))
    assert mounted.err(lambda: chmod("/mnt/a", 0o644)) == errno.ELOOP
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: chmod("/ro", 0o700)) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0

"""rmdir(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import chmod, close, listdir, mkdir, open, rmdir, stat, symlink
from qrv.spec.iomsg import O_RDONLY
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create
from tests.userland.shell import run


def test_rmdir_removes_and_counts(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/p"), mkdir("/mnt/p/d")))
    assert mounted.ok(lambda: stat("/mnt/p").nlink) == 3
    mounted.ok(lambda: rmdir("/mnt/p/d"))
    assert mounted.ok(lambda: (stat("/mnt/p").nlink, listdir("/mnt/p"))) == (2, [".", ".."])
    assert mounted.fsck_clean()


def test_rmdir_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/d"), create("/mnt/d/f"), create("/mnt/f")))
    mounted.ok(lambda: (mkdir("/mnt/e"), symlink("e", "/mnt/l")))
    assert mounted.err(lambda: rmdir("/mnt/d")) == errno.ENOTEMPTY
    assert mounted.err(lambda: rmdir("/mnt/f")) == errno.ENOTDIR
    assert mounted.err(lambda: rmdir("/mnt/l")) == errno.ENOTDIR  # not followed
    assert mounted.err(lambda: rmdir("/mnt/none")) == errno.ENOENT
    assert mounted.err(lambda: rmdir("/mnt/f/x")) == errno.ENOTDIR
    assert mounted.err(lambda: rmdir("/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: rmdir("/mnt")) == errno.EBUSY  # the mount point
    mounted.ok(lambda: (mkdir("/mnt/locked", 0o755), mkdir("/mnt/locked/in")), USER)
    mounted.ok(lambda: chmod("/mnt/locked", 0o555), USER)
    assert mounted.err(lambda: rmdir("/mnt/locked/in"), USER) == errno.EACCES
    assert mounted.err(lambda: rmdir("/mnt/locked/in"), 3000) == errno.EACCES
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: rmdir("/ro/e")) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0
    assert mounted.fsck_clean()


def test_rmdir_of_an_open_directory(mounted: Mounted) -> None:
    mounted.ok(lambda: mkdir("/mnt/d"))

    def remove_open() -> object:
        fd = open("/mnt/d", O_RDONLY)
        rmdir("/mnt/d")
        names = listdir("/mnt")
        close(fd)
        return names

    assert "d" not in mounted.ok(remove_open)  # type: ignore[operator]
    assert mounted.fsck_clean()

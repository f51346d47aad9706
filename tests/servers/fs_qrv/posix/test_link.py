"""link(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import link, lstat, mkdir, stat, symlink, unlink, utime
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create
from tests.userland.shell import run


def test_link_counts_and_times(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f", b"data"), mkdir("/mnt/d"), utime("/mnt/d", (1, 1))))

    def links() -> tuple[int, int, int, int, int]:
        link("/mnt/f", "/mnt/d/g")
        a, b = stat("/mnt/f"), stat("/mnt/d/g")
        unlink("/mnt/f")
        return a.nlink, b.nlink, int(a.ino == b.ino), stat("/mnt/d/g").nlink, stat("/mnt/d").mtime

    n1, n2, same, after, dir_mtime = mounted.ok(links)  # type: ignore[misc]
    assert (n1, n2, same, after) == (2, 2, 1, 1) and dir_mtime > 1
    assert mounted.fsck_clean()


def test_link_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), create("/mnt/g"), mkdir("/mnt/d")))
    assert mounted.err(lambda: link("/mnt/f", "/mnt/g")) == errno.EEXIST
    assert mounted.err(lambda: link("/mnt/f", "/mnt/d")) == errno.EEXIST
    assert mounted.err(lambda: link("/mnt/none", "/mnt/x")) == errno.ENOENT
    assert mounted.err(lambda: link("/mnt/f", "/mnt/none/x")) == errno.ENOENT
    assert mounted.err(lambda: link("/mnt/f", "/mnt/g/x")) == errno.ENOTDIR
    assert mounted.err(lambda: link("/mnt/f", "/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: link("/mnt/d", "/mnt/d2")) == errno.EPERM  # a directory
    mounted.ok(lambda: mkdir("/mnt/mine", 0o555), USER)
    assert mounted.err(lambda: link("/mnt/f", "/mnt/mine/x"), USER) == errno.EACCES
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: link("/mnt/f", "/ro/x")) == errno.EXDEV
    assert mounted.err(lambda: link("/ro/f", "/ro/x")) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0


def test_link_to_a_symlink_links_the_symlink(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/t"), symlink("t", "/mnt/l"), link("/mnt/l", "/mnt/l2")))
    assert mounted.ok(lambda: lstat("/mnt/l2").nlink) == 2
    assert mounted.ok(lambda: stat("/mnt/t").nlink) == 1
    assert mounted.fsck_clean()

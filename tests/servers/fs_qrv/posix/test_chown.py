"""chown(2)/fchown(2)/lchown(2) through fs-qrv, pjdfstest style
(``_POSIX_CHOWN_RESTRICTED``: only root gives a file away)."""

from __future__ import annotations

import errno

from qrv.lib.c import chown, close, fchown, lchown, lstat, open, stat, symlink
from qrv.spec.iomsg import O_RDONLY
from tests.servers.fs_qrv.posix.conftest import OTHER, USER, Mounted, create
from tests.userland.shell import run


def test_root_changes_owner_and_group(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f"))

    def change() -> object:
        chown("/mnt/f", USER, 50)
        a = stat("/mnt/f")
        chown("/mnt/f", -1, 60)  # -1 keeps the owner
        b = stat("/mnt/f")
        fd = open("/mnt/f", O_RDONLY)
        fchown(fd, OTHER, -1)
        close(fd)
        return (a.uid, a.gid), (b.uid, b.gid), (stat("/mnt/f").uid, stat("/mnt/f").gid)

    assert mounted.ok(change) == ((USER, 50), (USER, 60), (OTHER, 60))
    assert mounted.fsck_clean()


def test_owner_may_only_change_the_group_to_its_own(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f"), USER)
    mounted.ok(lambda: chown("/mnt/f", USER, 7))
    assert mounted.err(lambda: chown("/mnt/f", OTHER, -1), USER) == errno.EPERM
    assert mounted.err(lambda: chown("/mnt/f", -1, 99), USER) == errno.EPERM
    assert mounted.err(lambda: chown("/mnt/f", -1, USER), USER) == 0  # its own group
    assert mounted.err(lambda: chown("/mnt/f", USER, USER), OTHER) == errno.EPERM
    assert mounted.ok(lambda: (stat("/mnt/f").uid, stat("/mnt/f").gid)) == (USER, USER)


def test_lchown_changes_the_link_chown_the_target(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/t"), symlink("t", "/mnt/l")))
    mounted.ok(lambda: (lchown("/mnt/l", USER, USER), chown("/mnt/l", OTHER, OTHER)))
    assert mounted.ok(lambda: (lstat("/mnt/l").uid, stat("/mnt/l").uid)) == (USER, OTHER)
    assert mounted.fsck_clean()


def test_chown_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f"))
    assert mounted.err(lambda: chown("/mnt/none", 1, 1)) == errno.ENOENT
    assert mounted.err(lambda: chown("/mnt/f/x", 1, 1)) == errno.ENOTDIR
    assert mounted.err(lambda: chown("/mnt/" + "n" * 252, 1, 1)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: chown("/mnt/f", -2, 1)) == errno.EINVAL
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: chown("/ro", 1, 1)) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0

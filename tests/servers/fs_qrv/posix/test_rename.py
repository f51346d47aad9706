"""rename(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import close, link, listdir, mkdir, open, read, rename, stat, statvfs, symlink
from qrv.spec.iomsg import O_RDONLY
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create
from tests.userland.shell import run


def _read(path: str) -> bytes:
    fd = open(path, O_RDONLY)
    try:
        return read(fd, 1000)
    finally:
        close(fd)


def test_rename_replaces_target_and_frees_it(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/a", b"new"), create("/mnt/b", b"old" * 2000)))

    def replace_b() -> object:
        before = statvfs("/mnt").bfree
        ino = stat("/mnt/a").ino
        rename("/mnt/a", "/mnt/b")
        return before, statvfs("/mnt").bfree, ino, stat("/mnt/b").ino, listdir("/mnt")

    before, after, ino, now_ino, names = mounted.ok(replace_b)  # type: ignore[misc]
    assert after == before + 2 and ino == now_ino and "a" not in names
    assert mounted.ok(lambda: _read("/mnt/b")) == b"new"
    assert mounted.fsck_clean()


def test_rename_directories(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/p"), mkdir("/mnt/q"), mkdir("/mnt/p/d"), create("/mnt/p/d/f")))

    def move() -> object:
        rename("/mnt/p/d", "/mnt/q/e")
        mkdir("/mnt/empty")
        rename("/mnt/q", "/mnt/empty")  # over an empty directory
        return stat("/mnt/p").nlink, stat("/mnt/empty").nlink, listdir("/mnt/empty/e")

    p_links, q_links, names = mounted.ok(move)  # type: ignore[misc]
    assert (p_links, q_links, names) == (2, 3, [".", "..", "f"])
    assert mounted.ok(lambda: stat("/mnt/empty/e/..").ino) == mounted.ok(
        lambda: stat("/mnt/empty").ino
    )
    assert mounted.fsck_clean()


def test_rename_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/d"), mkdir("/mnt/full"), create("/mnt/full/x")))
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d/sub")))
    assert mounted.err(lambda: rename("/mnt/d", "/mnt/d/sub/in")) == errno.EINVAL
    assert mounted.err(lambda: rename("/mnt/d", "/mnt/d/in")) == errno.EINVAL
    assert mounted.err(lambda: rename("/mnt/d", "/mnt/full")) == errno.ENOTEMPTY
    assert mounted.err(lambda: rename("/mnt/f", "/mnt/d")) == errno.EISDIR
    assert mounted.err(lambda: rename("/mnt/d", "/mnt/f")) == errno.ENOTDIR
    assert mounted.err(lambda: rename("/mnt/none", "/mnt/x")) == errno.ENOENT
    assert mounted.err(lambda: rename("/mnt/f", "/mnt/none/x")) == errno.ENOENT
    assert mounted.err(lambda: rename("/mnt/f", "/mnt/f/x")) == errno.ENOTDIR
    assert mounted.err(lambda: rename("/mnt/f", "/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: rename("/mnt/f", "/mnt")) == errno.EBUSY
    mounted.ok(lambda: mkdir("/mnt/locked", 0o555), USER)
    assert mounted.err(lambda: rename("/mnt/f", "/mnt/locked/f"), USER) == errno.EACCES
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: rename("/mnt/f", "/ro/f")) == errno.EXDEV
    assert mounted.err(lambda: rename("/ro/f", "/mnt/g")) == errno.EXDEV
    assert mounted.err(lambda: rename("/ro/f", "/ro/g")) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0
    assert mounted.fsck_clean()


def test_rename_hard_links_and_symlinks(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f", b"x"), link("/mnt/f", "/mnt/g"), symlink("f", "/mnt/l")))
    # two names of one file: nothing happens, both stay
    mounted.ok(lambda: rename("/mnt/f", "/mnt/g"))
    assert mounted.ok(lambda: sorted(listdir("/mnt"))) == [".", "..", "f", "g", "l"]
    mounted.ok(lambda: rename("/mnt/l", "/mnt/l2"))  # the link itself moves
    assert mounted.ok(lambda: _read("/mnt/l2")) == b"x"
    assert mounted.fsck_clean()

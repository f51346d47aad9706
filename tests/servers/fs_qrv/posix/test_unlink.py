"""unlink(2) through fs-qrv, pjdfstest style (an open file outlives its name)."""

from __future__ import annotations

import errno

from qrv.lib.c import close, link, listdir, mkdir, open, read, stat, statvfs, symlink, unlink
from qrv.spec.iomsg import O_RDONLY
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create
from tests.userland.shell import run


def test_unlinked_open_file_is_readable_until_its_last_close(mounted: Mounted) -> None:
    data = bytes(range(256)) * 64  # 4 blocks
    mounted.ok(lambda: create("/mnt/f", data))

    def unlink_open() -> object:
        a, b = open("/mnt/f", O_RDONLY), open("/mnt/f", O_RDONLY)
        free0 = statvfs("/mnt").bfree
        unlink("/mnt/f")
        got = read(a, 1 << 16)
        close(a)
        free1 = statvfs("/mnt").bfree  # b still holds it
        got_b = read(b, 1 << 16)
        close(b)
        return got, got_b, free0, free1, statvfs("/mnt").bfree, listdir("/mnt")

    got, got_b, free0, free1, free2, names = mounted.ok(unlink_open)  # type: ignore[misc]
    assert got == data and got_b == data and "f" not in names
    assert free1 == free0 and free2 == free0 + 4
    assert mounted.err(lambda: stat("/mnt/f")) == errno.ENOENT
    assert mounted.fsck_clean()


def test_unlink_counts_links(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f", b"x"), link("/mnt/f", "/mnt/g"), unlink("/mnt/f")))
    assert mounted.ok(lambda: stat("/mnt/g").nlink) == 1
    mounted.ok(lambda: (symlink("g", "/mnt/l"), unlink("/mnt/l")))
    assert mounted.ok(lambda: stat("/mnt/g").size) == 1  # the link went, not its target
    assert mounted.fsck_clean()


def test_unlink_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d")))
    assert mounted.err(lambda: unlink("/mnt/d")) == errno.EISDIR
    assert mounted.err(lambda: unlink("/mnt/none")) == errno.ENOENT
    assert mounted.err(lambda: unlink("/mnt/f/x")) == errno.ENOTDIR
    assert mounted.err(lambda: unlink("/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    mounted.ok(lambda: (mkdir("/mnt/mine", 0o755), create("/mnt/mine/x")), USER)
    assert mounted.err(lambda: unlink("/mnt/mine/x"), 3000) == errno.EACCES
    assert mounted.err(lambda: unlink("/mnt/mine/x"), USER) == 0
    assert run(mounted.k, "mount -o ro /dev/disk /ro").status == 0
    assert mounted.err(lambda: unlink("/ro/f")) == errno.EROFS
    assert run(mounted.k, "umount /ro").status == 0
    assert mounted.fsck_clean()

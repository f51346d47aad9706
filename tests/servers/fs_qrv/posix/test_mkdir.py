"""mkdir(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import chmod, listdir, mkdir, stat, symlink, utime
from qrv.spec.iomsg import S_IFDIR, S_IFMT
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create


def test_mkdir_mode_owner_links(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/p"), chmod("/mnt/p", 0o777), utime("/mnt/p", (1, 1))))

    def make() -> object:
        mkdir("/mnt/p/d", 0o751)
        return stat("/mnt/p/d"), stat("/mnt/p"), listdir("/mnt/p/d")

    d, p, names = mounted.ok(make, USER)  # type: ignore[misc]
    assert (d.mode & S_IFMT, d.mode & 0o7777, d.uid, d.gid, d.nlink) == (
        S_IFDIR, 0o751, USER, USER, 2,
    )  # fmt: skip
    assert p.nlink == 3 and p.mtime > 1 and names == [".", ".."]
    assert mounted.fsck_clean()


def test_mkdir_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d"), symlink("nowhere", "/mnt/l")))
    for existing in ("/mnt/f", "/mnt/d", "/mnt/l", "/mnt"):
        assert mounted.err(lambda p=existing: mkdir(p)) == errno.EEXIST, existing  # type: ignore[misc]
    assert mounted.err(lambda: mkdir("/mnt/none/d")) == errno.ENOENT
    assert mounted.err(lambda: mkdir("/mnt/f/d")) == errno.ENOTDIR
    assert mounted.err(lambda: mkdir("/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: mkdir("/mnt/" + "n" * 251)) == 0
    mounted.ok(lambda: mkdir("/mnt/ro", 0o555), USER)
    assert mounted.err(lambda: mkdir("/mnt/ro/d"), USER) == errno.EACCES
    assert mounted.err(lambda: mkdir("/mnt/ro/d"), 0) == 0  # root passes
    assert mounted.fsck_clean()


def test_mkdir_enospc_when_blocks_run_out(small: Mounted) -> None:
    from qrv.lib.c import close, open, write
    from qrv.spec.iomsg import O_CREAT, O_WRONLY

    def fill() -> int:
        fd = open("/mnt/big", O_CREAT | O_WRONLY, 0o644)
        total = 0
        try:
            while True:
                n = write(fd, bytes(65536))
                total += n
                if n < 65536:
                    break
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            close(fd)
        return total

    assert small.ok(fill) > 0  # type: ignore[operator]
    assert small.err(lambda: mkdir("/mnt/d")) == errno.ENOSPC
    assert small.fsck_clean()

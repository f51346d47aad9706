"""truncate(2)/ftruncate(2) through fs-qrv, pjdfstest style."""

from __future__ import annotations

import errno

from qrv.lib.c import close, ftruncate, mkdir, open, pread, stat, statvfs, truncate
from qrv.spec.iomsg import O_RDONLY, O_RDWR
from qrv.spec.qrvfs import BLOCK_SIZE, MAX_FILE_SIZE
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create


def test_grow_with_a_hole_and_shrink_freeing(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f", b"abc"))

    def grow_shrink() -> object:
        free0 = statvfs("/mnt").bfree
        truncate("/mnt/f", 100 * BLOCK_SIZE)
        fd = open("/mnt/f", O_RDWR)
        tail = pread(fd, 10, 100 * BLOCK_SIZE - 10)
        head = pread(fd, 5, 0)
        free1 = statvfs("/mnt").bfree
        ftruncate(fd, 2)
        size = stat("/mnt/f").size
        ftruncate(fd, 0)
        close(fd)
        return free0, free1, tail, head, size, statvfs("/mnt").bfree

    free0, free1, tail, head, size, free2 = mounted.ok(grow_shrink)  # type: ignore[misc]
    assert free1 == free0  # a hole takes no block
    assert (tail, head, size) == (bytes(10), b"abc\0\0", 2)
    assert free2 == free0 + 1  # the data block is freed
    assert mounted.fsck_clean()


def test_truncate_errnos(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/f"), mkdir("/mnt/d")))
    mounted.ok(lambda: create("/mnt/mine", mode=0o444), USER)
    assert mounted.err(lambda: truncate("/mnt/d", 0)) == errno.EISDIR
    assert mounted.err(lambda: truncate("/mnt/none", 0)) == errno.ENOENT
    assert mounted.err(lambda: truncate("/mnt/f/x", 0)) == errno.ENOTDIR
    assert mounted.err(lambda: truncate("/mnt/" + "n" * 252, 0)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: truncate("/mnt/f", -1)) == errno.EINVAL
    assert mounted.err(lambda: truncate("/mnt/f", MAX_FILE_SIZE + 1)) == errno.EFBIG
    assert mounted.err(lambda: truncate("/mnt/mine", 0), USER) == errno.EACCES
    assert mounted.err(lambda: truncate("/mnt/f", 0), USER) == errno.EACCES  # root's 0644

    def on_read_only_fd() -> object:
        fd = open("/mnt/f", O_RDONLY)
        try:
            return ftruncate(fd, 0)
        finally:
            close(fd)

    assert mounted.err(on_read_only_fd) == errno.EBADF
    assert mounted.fsck_clean()

"""fs-qrv's name and attribute calls through lib.c (the connect subtypes and
I/O messages): each call's effect, read back through the calls and at the end
through the independent reference reader; across mounts EXDEV."""

from __future__ import annotations

import errno

from qrv.kernel import Kernel
from qrv.lib.c import (
    chmod,
    chown,
    close,
    fstatvfs,
    ftruncate,
    link,
    listdir,
    lstat,
    mkdir,
    open,
    read,
    readlink,
    rename,
    rmdir,
    stat,
    statvfs,
    symlink,
    truncate,
    unlink,
    utime,
    write,
)
from qrv.lib.qrvfs.check import check
from qrv.spec.iomsg import (
    O_CREAT,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    ST_RDONLY,
)
from qrv.spec.qrvfs import BLOCK_SIZE
from tests.kernel.system import sysk
from tests.lib.qrvfs.memdev import mem_device
from tests.lib.qrvfs.refimpl import RefReader
from tests.servers.fs_qrv.test_fs_qrv import disk, errno_in, in_process
from tests.userland.shell import run

__all__ = ["disk", "sysk"]


def test_name_calls(disk: tuple[Kernel, bytearray]) -> None:
    k, img = disk
    assert run(k, "mount /dev/disk /mnt").status == 0

    def tree_calls() -> object:
        mkdir("/mnt/d", 0o750)
        mkdir("/mnt/d/sub")
        rename("/mnt/hello", "/mnt/d/greeting")
        link("/mnt/d/greeting", "/mnt/d/again")
        symlink("greeting", "/mnt/d/ln")
        fd = open("/mnt/d/ln", O_RDONLY)  # follows the link
        data = read(fd, 100)
        close(fd)
        rmdir("/mnt/d/sub")
        unlink("/mnt/d/again")
        st, lst = stat("/mnt/d/ln"), lstat("/mnt/d/ln")
        return data, readlink("/mnt/d/ln"), listdir("/mnt/d"), st, lst, stat("/mnt/d")

    data, target, names, st, lst, dst = in_process(k, tree_calls)  # type: ignore[misc]
    assert data == b"hello world\n" and target == "greeting"
    assert names == [".", "..", "greeting", "ln"]
    assert st.nlink == 1 and st.size == 12 and lst.mode & S_IFMT == S_IFLNK
    assert (dst.mode & S_IFMT, dst.mode & 0o7777, dst.nlink) == (S_IFDIR, 0o750, 2)

    def attrs() -> object:
        chmod("/mnt/d/greeting", 0o604)
        chown("/mnt/d/greeting", 1000, 100)
        truncate("/mnt/d/greeting", 5)
        utime("/mnt/d/greeting", (1111, 2222))
        fd = open("/mnt/d/big", O_CREAT | O_RDWR, 0o600)
        write(fd, b"x")
        ftruncate(fd, 3 * BLOCK_SIZE + 7)  # grows with a hole
        close(fd)
        return stat("/mnt/d/greeting"), stat("/mnt/d/big"), statvfs("/mnt/d")

    st, big, vfs = in_process(k, attrs)  # type: ignore[misc]
    assert (st.mode & 0o7777, st.uid, st.gid, st.atime, st.mtime, st.size) == (
        0o604, 1000, 100, 1111, 2222, 5,
    )  # fmt: skip
    assert big.size == 3 * BLOCK_SIZE + 7
    assert vfs.bsize == BLOCK_SIZE and vfs.basetype == "qrv" and not vfs.flag & ST_RDONLY
    assert 0 < vfs.bfree <= vfs.blocks and 0 < vfs.ffree < vfs.files and vfs.namemax == 251
    assert run(k, "umount /mnt").status == 0
    tree = RefReader(img).tree()
    d = tree.children[b"d"]
    assert sorted(d.children) == [b"big", b"greeting", b"ln"]
    assert d.children[b"greeting"].data == b"hello"
    assert d.children[b"big"].data == b"x" + bytes(3 * BLOCK_SIZE + 6)
    assert check(mem_device(img)).problems == []


def test_errnos_and_permissions(disk: tuple[Kernel, bytearray]) -> None:
    k, _img = disk
    assert run(k, "mount /dev/disk /mnt").status == 0
    assert errno_in(k, lambda: mkdir("/mnt/dir")) == errno.EEXIST
    assert errno_in(k, lambda: rmdir("/mnt/hello")) == errno.ENOTDIR
    assert errno_in(k, lambda: unlink("/mnt/nope")) == errno.ENOENT
    assert errno_in(k, lambda: rename("/mnt/dir", "/mnt/dir/in")) == errno.EINVAL
    assert errno_in(k, lambda: readlink("/mnt/hello")) == errno.EINVAL
    assert errno_in(k, lambda: mkdir("/mnt/" + "n" * 252)) == errno.ENAMETOOLONG
    assert errno_in(k, lambda: unlink("/mnt/hello"), uid=1000) == errno.EACCES
    assert errno_in(k, lambda: chmod("/mnt/hello", 0o777), uid=1000) == errno.EPERM
    assert errno_in(k, lambda: chown("/mnt/hello", 1000, 1000), uid=1000) == errno.EPERM
    assert errno_in(k, lambda: utime("/mnt/hello", (1, 2)), uid=1000) == errno.EPERM
    assert errno_in(k, lambda: utime("/mnt/hello"), uid=1000) == errno.EACCES

    def read_only_ftruncate() -> object:
        fd = open("/mnt/hello", O_RDONLY)
        try:
            return ftruncate(fd, 0)
        finally:
            close(fd)

    assert errno_in(k, read_only_ftruncate) == errno.EBADF
    # across mounts, and procnto's own names
    assert run(k, "mount -o ro /dev/disk /ro").status == 0
    assert errno_in(k, lambda: rename("/mnt/hello", "/ro/hello2")) == errno.EXDEV
    assert errno_in(k, lambda: link("/mnt/hello", "/ro/x")) == errno.EXDEV
    assert errno_in(k, lambda: unlink("/ro/hello")) == errno.EROFS
    assert errno_in(k, lambda: mkdir("/ro/new")) == errno.EROFS
    assert errno_in(k, lambda: chmod("/ro/hello", 0o600)) == errno.EROFS
    ro = in_process(k, lambda: statvfs("/ro"))
    assert not isinstance(ro, OSError) and ro.flag & ST_RDONLY  # type: ignore[attr-defined]
    assert errno_in(k, lambda: unlink("/dev/null")) == errno.EROFS
    assert errno_in(k, lambda: mkdir("/dev")) == errno.EEXIST
    assert errno_in(k, lambda: rename("/dev/null", "/mnt/null")) == errno.EXDEV
    assert errno_in(k, lambda: chmod("/dev", 0o777)) == errno.EROFS
    assert errno_in(k, lambda: fstatvfs(open("/dev/disk", O_WRONLY))) == errno.ENOSYS
    assert errno_in(k, lambda: unlink("/dev/disk")) == errno.ENOSYS
    assert run(k, "umount /ro; umount /mnt").status == 0


def test_unlinked_open_file_stays_readable(disk: tuple[Kernel, bytearray]) -> None:
    k, img = disk
    assert run(k, "mount /dev/disk /mnt").status == 0

    def unlink_open() -> object:
        fd = open("/mnt/hello", O_RDONLY)
        unlink("/mnt/hello")
        before = statvfs("/mnt").bfree
        data = read(fd, 100)
        close(fd)
        return data, before, statvfs("/mnt").bfree, listdir("/mnt")

    data, before, after, names = in_process(k, unlink_open)  # type: ignore[misc]
    assert data == b"hello world\n" and after == before + 1 and "hello" not in names
    assert run(k, "umount /mnt").status == 0
    assert check(mem_device(img)).problems == []

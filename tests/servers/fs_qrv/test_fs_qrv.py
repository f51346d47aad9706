"""fs-qrv in a kernel: mount, POSIX through the I/O messages, umount; the image
it leaves is read back with the independent reference reader."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator

import pytest

from qrv.kernel import Kernel
from qrv.lib.c import close, fstat, listdir, lseek, open, read, spawn, waitpid, write
from qrv.lib.c import fsync as c_fsync
from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import iofunc_attr_init, iofunc_func_init
from qrv.lib.c.ipc import MsgSend
from qrv.lib.c.msg import IoMsg, IoSync
from qrv.lib.c.proc import procmgr_ready
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.lib.qrvfs import Filesystem, format_device
from qrv.lib.qrvfs.check import check
from qrv.spec.iomsg import (
    EOK,
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    S_IFBLK,
    S_IFDIR,
    S_IFMT,
    S_IFREG,
    SEEK_END,
)
from qrv.spec.qrvfs import FSQRV_MGRID, FsQrvMsg
from qrv.userland import umount
from tests.kernel.system import Console, sysk
from tests.lib.c.memfs import MemFile, mem_read, mem_write
from tests.lib.qrvfs.memdev import mem_device
from tests.lib.qrvfs.refimpl import RefReader
from tests.userland.shell import run

__all__ = ["sysk"]
T = 10.0


def disk_server(
    image: bytearray, writable: bool = True, path: str = "/dev/disk"
) -> Callable[[list[str]], int]:
    """`path` (/dev/disk) over `image` (shared with the test), with fsync answered."""

    def sync(ctp: ResmgrContext, msg: IoSync, ocb: object) -> HandlerResult:
        del ctp, msg, ocb
        return EOK

    def main(argv: list[str]) -> int:
        del argv
        dpp = dispatch_create()
        connect, io = iofunc_func_init()
        io.read, io.write, io.sync = mem_read, mem_write, sync  # type: ignore[assignment]
        attr = MemFile(data=image, writable=writable)
        iofunc_attr_init(attr, S_IFBLK | (0o666 if writable else 0o444))
        attr.nbytes = len(image)
        resmgr_attach(dpp, None, path, 0, 0, connect, io, attr)
        procmgr_ready()
        dispatch_loop(dpp)
        return 0

    return main


def fresh_image() -> bytearray:
    img = bytearray(4 << 20)
    format_device(mem_device(img), ninodes=64, nlog=48, now=lambda: 100)
    fs = Filesystem.mount(mem_device(img), now=lambda: 100)
    fs.mkdir("/dir")
    fs.write_file("/hello", b"hello world\n")
    fs.write_file("/secret", b"root only", mode=0o600)
    fs.unmount()
    return img


@pytest.fixture
def disk(sysk: tuple[Kernel, Console]) -> Iterator[tuple[Kernel, bytearray]]:
    k, _ = sysk
    img = fresh_image()
    pid = k.spawn(disk_server(img), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    yield k, img


def in_process(k: Kernel, fn: Callable[[], object], uid: int = 0) -> object:
    """Run `fn` as a qrv process; its result, or the OSError it raised."""
    box: list[object] = []

    def main(argv: list[str]) -> int:
        del argv
        try:
            box.append(fn())
        except OSError as exc:
            box.append(exc)
        return 0

    assert k.waitpid(k.spawn(main, ["t"], uid=uid, gid=uid), T) == 0
    return box[0]


def errno_in(k: Kernel, fn: Callable[[], object], uid: int = 0) -> int | None:
    got = in_process(k, fn, uid)
    return got.errno if isinstance(got, OSError) else None


def test_mount_read_write_umount(disk: tuple[Kernel, bytearray]) -> None:
    k, img = disk
    r = run(k, "mount /dev/disk /mnt; mount; cat /mnt/hello; ls /mnt")
    assert r.status == 0, r.errtext
    assert r.text.splitlines() == [
        "/dev/disk on /mnt type qrv (rw)", "hello world", ".", "..", "dir", "hello", "secret",
    ]  # fmt: skip
    r = run(k, "dd if=/mnt/hello of=/mnt/dir/copy; cat /mnt/dir/copy; umount /mnt; mount")
    assert r.status == 0, r.errtext
    assert r.text == "hello world\n"
    tree = RefReader(img).tree()
    assert tree.children[b"dir"].children[b"copy"].data == b"hello world\n"
    assert tree.children[b"dir"].children[b"copy"].mode & 0o7777 == 0o644  # dd's 0666, umask 022
    assert check(mem_device(img)).problems == []


def test_posix_through_messages(disk: tuple[Kernel, bytearray]) -> None:
    k, img = disk
    assert run(k, "mount /dev/disk /mnt").status == 0

    def create_twice() -> object:
        fd = open("/mnt/dir/new", O_CREAT | O_EXCL | O_WRONLY, 0o640)
        write(fd, b"abc")
        close(fd)
        return open("/mnt/dir/new", O_CREAT | O_EXCL | O_WRONLY, 0o640)

    assert errno_in(k, create_twice) == errno.EEXIST
    assert errno_in(k, lambda: open("/mnt/dir", O_WRONLY)) == errno.EISDIR
    assert errno_in(k, lambda: open("/mnt/nope", O_RDONLY)) == errno.ENOENT
    assert errno_in(k, lambda: open("/mnt/hello/x", O_RDONLY)) == errno.ENOTDIR
    assert errno_in(k, lambda: open("/mnt/secret", O_RDONLY), uid=1000) == errno.EACCES
    assert errno_in(k, lambda: open("/mnt/dir/u", O_CREAT | O_WRONLY, 0o644), uid=1000) == (
        errno.EACCES
    )

    def append_and_stat() -> object:
        fd = open("/mnt/dir/new", O_WRONLY | O_APPEND)
        write(fd, b"def")
        close(fd)
        fd = open("/mnt/dir/new", O_RDWR)
        end = lseek(fd, 0, SEEK_END)
        st = fstat(fd)
        data = read(fd, 100)
        close(fd)
        fd = open("/mnt/dir/new", O_WRONLY | O_TRUNC)
        c_fsync(fd)
        st2 = fstat(fd)
        close(fd)
        return end, st.size, st.mode, st.nlink, data, st2.size, listdir("/mnt/dir")

    end, size, mode, nlink, data, size2, names = in_process(k, append_and_stat)  # type: ignore[misc]
    assert (end, size, mode & S_IFMT, mode & 0o7777, nlink) == (6, 6, S_IFREG, 0o640, 1)
    assert data == b"" and size2 == 0 and names == [".", "..", "new"]
    dir_mode = in_process(k, lambda: fstat(open("/mnt/dir", O_RDONLY)).mode)
    assert isinstance(dir_mode, int) and dir_mode & S_IFMT == S_IFDIR
    assert run(k, "umount -f /mnt").status == 0
    assert check(mem_device(img)).problems == []


def test_umount_busy_and_read_only(disk: tuple[Kernel, bytearray]) -> None:
    k, img = disk
    assert run(k, "mount /dev/disk /mnt").status == 0

    def busy_then_free() -> object:
        held = open("/mnt/hello", O_RDONLY)
        mnt = open("/mnt", O_RDONLY)
        busy = 0
        try:
            MsgSend(mnt, IoMsg(FSQRV_MGRID, FsQrvMsg.UNMOUNT).pack(), 0)
        except OSError as exc:
            busy = exc.errno
        close(mnt)
        status_busy = waitpid(spawn(umount.main, ["umount", "/mnt"]), T)
        close(held)
        return busy, status_busy, waitpid(spawn(umount.main, ["umount", "/mnt"]), T)

    assert in_process(k, busy_then_free) == (errno.EBUSY, 1, 0)
    r = run(k, "mount -o ro /dev/disk /ro; mount; dd if=/ro/hello of=/ro/x")
    assert "/dev/disk on /ro type qrv (ro)" in r.text
    assert "Read-only file system" in r.errtext
    assert run(k, "umount /ro; umount /ro").errtext == "umount: /ro: No such file or directory\n"
    assert check(mem_device(img)).problems == []


def test_mount_refusals(sysk: tuple[Kernel, Console]) -> None:
    k, _ = sysk
    blank = bytearray(1 << 20)
    pid = k.spawn(disk_server(blank), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    r = run(k, "mount /dev/disk /mnt")
    assert r.status == 1
    assert "fs-qrv: /dev/disk: bad superblock: bad magic 0x00000000" in r.errtext
    assert run(k, "mount -t ext4 /dev/disk /mnt").status == 2
    assert run(k, "mount /dev/disk mnt").status == 2
    assert run(k, "mount /dev/none /mnt").status == 1
    assert run(k, "umount /dev").errtext == "umount: /dev: not a mount point\n"

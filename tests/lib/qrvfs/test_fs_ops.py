"""Filesystem operations and their errno, in the spirit of pjdfstest (the full
POSIX suite runs through fs-qrv); open-unlinked files, orphans, the log."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from qrv.lib.qrvfs import Filesystem, FsError
from qrv.lib.qrvfs.check import check
from qrv.spec.qrvfs import InodeType
from tests.lib.qrvfs.memdev import Recorder, mem_device, new_fs
from tests.lib.qrvfs.refimpl import RefReader


def errno_of(call: Callable[[], object]) -> int:
    with pytest.raises(FsError) as err:
        call()
    return err.value.errno


@pytest.fixture
def fs() -> Filesystem:
    _, fs = new_fs()
    fs.mkdir("/d")
    fs.write_file("/d/f", b"data")
    fs.mkdir("/d/sub")
    fs.symlink("/d/f", "/lnk")
    return fs


def test_errnos(fs: Filesystem) -> None:
    assert errno_of(lambda: fs.stat("/nope")) == errno.ENOENT
    assert errno_of(lambda: fs.stat("/d/f/x")) == errno.ENOTDIR
    assert errno_of(lambda: fs.mkdir("/d")) == errno.EEXIST
    assert errno_of(lambda: fs.create("/d/f", exclusive=True)) == errno.EEXIST
    assert errno_of(lambda: fs.create("/d")) == errno.EISDIR
    assert errno_of(lambda: fs.unlink("/d")) == errno.EISDIR
    assert errno_of(lambda: fs.rmdir("/d")) == errno.ENOTEMPTY
    assert errno_of(lambda: fs.rmdir("/d/f")) == errno.ENOTDIR
    assert errno_of(lambda: fs.rename("/d", "/d/sub/x")) == errno.EINVAL
    assert errno_of(lambda: fs.rename("/d/sub", "/d/f")) == errno.ENOTDIR
    assert errno_of(lambda: fs.rename("/d/f", "/d/sub")) == errno.EISDIR
    assert errno_of(lambda: fs.link("/d", "/d2")) == errno.EPERM
    assert errno_of(lambda: fs.readlink("/d/f")) == errno.EINVAL
    assert errno_of(lambda: fs.create("/" + "x" * 252)) == errno.ENAMETOOLONG
    fs.symlink("/loop", "/loop")
    assert errno_of(lambda: fs.stat("/loop")) == errno.ELOOP
    assert fs.stat("/loop", follow=False)[1].type == InodeType.SYMLINK


def test_links_rename_and_counts(fs: Filesystem) -> None:
    fs.link("/d/f", "/hard")
    assert fs.stat("/hard")[1].nlink == 2
    fs.mkdir("/e")
    assert fs.stat("/")[1].nlink == 4
    fs.rename("/d/sub", "/e/sub")  # moves a directory: ".." and both parents' counts
    assert fs.stat("/d")[1].nlink == 2 and fs.stat("/e")[1].nlink == 3
    assert dict(fs.listdir("/e/sub"))[b".."] == fs.lookup("/e")
    fs.write_file("/new", b"new")
    fs.rename("/new", "/hard")  # replaces: /d/f keeps the old inode with one link
    assert fs.read_file("/hard") == b"new" and fs.stat("/d/f")[1].nlink == 1
    fs.mkdir("/empty")
    fs.rename("/e/sub", "/empty")  # over an empty directory: / has d, e, empty
    assert fs.stat("/")[1].nlink == 5 and fs.stat("/e")[1].nlink == 2
    fs.chmod("/d/f", 0o4711)
    fs.chown("/d/f", 7, 8)
    fs.utime("/d/f", 11, 12)
    ino = fs.stat("/d/f")[1]
    assert (ino.mode, ino.uid, ino.gid, ino.atime, ino.mtime) == (0o4711, 7, 8, 11, 12)
    fs.unmount()
    assert check(fs.vol.dev).problems == []


def test_open_unlinked_file_lives_until_closed() -> None:
    img, fs = new_fs()
    inum = fs.create("/f")
    fs.write(inum, 0, b"x" * 50000)
    free = fs.statvfs().free_blocks
    fs.opened(inum)
    fs.unlink("/f")
    assert fs.read(inum, 0, 10) == b"x" * 10
    assert fs.statvfs().free_blocks == free
    fs.fsync()
    # a crash now leaves an orphan: the next mount frees it
    crashed = bytearray(img)
    after = Filesystem.mount(mem_device(crashed))
    assert any("orphan" in note for note in after.notes)
    after.unmount()
    assert check(mem_device(crashed)).problems == []
    fs.closed(inum)
    assert fs.statvfs().free_blocks > free
    fs.unmount()
    RefReader(img).tree()


def test_committed_log_is_replayed_or_read_through(capsys: pytest.CaptureFixture[str]) -> None:
    img, fs = new_fs()
    fs.unmount()
    rec = Recorder(bytearray(img))
    fs = Filesystem.mount(rec.device())
    fs.write_file("/x", b"committed")
    fs.fsync()
    header_at = next(
        i
        for i, e in enumerate(rec.events)
        if e[0] == "w" and e[1] == fs.vol.sb.logstart * 4096 and any(e[2])  # type: ignore[arg-type]
    )
    crashed = bytearray(img)
    for event in rec.events[: header_at + 1]:
        if event[0] == "w":
            _, offset, data = event
            crashed[offset : offset + len(data)] = data  # type: ignore[index, arg-type]
    report = check(mem_device(crashed, writable=False))
    assert any("committed transaction" in p for p in report.problems)
    ro = Filesystem.mount(mem_device(crashed, writable=False))
    assert ro.read_file("/x") == b"committed"
    rw = Filesystem.mount(mem_device(crashed))
    assert any("replayed" in note for note in rw.notes)
    rw.unmount()
    assert check(mem_device(crashed)).problems == []
    assert RefReader(crashed).tree().children[b"x"].data == b"committed"


def test_read_only_refuses_changes() -> None:
    img, fs = new_fs()
    fs.unmount()
    ro = Filesystem.mount(mem_device(img, writable=False))
    assert ro.read_only and "read-only" in ro.notes[0]
    assert errno_of(lambda: ro.mkdir("/x")) == errno.EROFS


def test_no_log_mounts_with_a_note() -> None:
    _, fs = new_fs(nlog=0)
    assert any("not crash-safe" in note for note in fs.notes)
    fs.write_file("/a", b"a" * 9000)
    fs.unmount()
    assert check(fs.vol.dev).problems == []

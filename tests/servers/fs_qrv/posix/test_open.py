"""open(2) through fs-qrv, pjdfstest style: each case asserts the errno."""

from __future__ import annotations

import errno

from qrv.lib.c import (
    chmod,
    close,
    fstat,
    mkdir,
    open,
    read,
    readlink,
    rename,
    stat,
    symlink,
    unlink,
    write,
)
from qrv.spec.iomsg import (
    O_APPEND,
    O_CREAT,
    O_EXCL,
    O_NOFOLLOW,
    O_RDONLY,
    O_RDWR,
    O_TRUNC,
    O_WRONLY,
    S_IFMT,
    S_IFREG,
)
from tests.servers.fs_qrv.posix.conftest import USER, Mounted, create

NAME_251, NAME_252 = "n" * 251, "n" * 252


def test_creates_with_mode_and_owner(mounted: Mounted) -> None:
    st = mounted.ok(
        lambda: (close(open("/mnt/f", O_CREAT | O_WRONLY, 0o640)), stat("/mnt/f"))[1], USER
    )
    assert (st.mode & S_IFMT, st.mode & 0o7777, st.uid, st.gid, st.size, st.nlink) == (  # type: ignore[attr-defined]
        S_IFREG, 0o640, USER, USER, 0, 1,
    )  # fmt: skip
    assert mounted.err(lambda: open("/mnt/f", O_CREAT | O_EXCL | O_WRONLY, 0o644)) == errno.EEXIST
    assert (
        mounted.err(lambda: close(open("/mnt/f", O_CREAT | O_WRONLY, 0o600))) == 0
    )  # exists: opened
    assert mounted.fsck_clean()


def test_name_lengths(mounted: Mounted) -> None:
    assert mounted.err(lambda: close(open("/mnt/" + NAME_251, O_CREAT | O_WRONLY, 0o644))) == 0
    assert mounted.err(lambda: open("/mnt/" + NAME_252, O_CREAT | O_WRONLY, 0o644)) == (
        errno.ENAMETOOLONG
    )
    assert mounted.err(lambda: open("/mnt/" + NAME_252, O_RDONLY)) == errno.ENAMETOOLONG
    assert mounted.err(lambda: stat("/mnt/" + NAME_251)) == 0
    assert mounted.fsck_clean()


def test_enoent_enotdir_eisdir(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/file"), mkdir("/mnt/dir")))
    assert mounted.err(lambda: open("/mnt/none", O_RDONLY)) == errno.ENOENT
    assert mounted.err(lambda: open("/mnt/none/f", O_CREAT | O_WRONLY, 0o644)) == errno.ENOENT
    assert mounted.err(lambda: open("/mnt/file/f", O_RDONLY)) == errno.ENOTDIR
    assert mounted.err(lambda: open("/mnt/file/f", O_CREAT | O_WRONLY, 0o644)) == errno.ENOTDIR
    assert mounted.err(lambda: open("/mnt/dir", O_WRONLY)) == errno.EISDIR
    assert mounted.err(lambda: open("/mnt/dir", O_RDWR)) == errno.EISDIR
    assert mounted.err(lambda: close(open("/mnt/dir", O_RDONLY))) == 0


def test_eacces(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/wo", mode=0o200), create("/mnt/ro", mode=0o400)), USER)
    mounted.ok(lambda: mkdir("/mnt/locked", 0o555), USER)
    assert mounted.err(lambda: open("/mnt/wo", O_RDONLY), USER) == errno.EACCES
    assert mounted.err(lambda: open("/mnt/ro", O_WRONLY), USER) == errno.EACCES
    assert mounted.err(lambda: open("/mnt/ro", O_RDWR | O_TRUNC), USER) == errno.EACCES
    assert mounted.err(lambda: open("/mnt/locked/f", O_CREAT | O_WRONLY, 0o644), USER) == (
        errno.EACCES
    )
    assert mounted.err(lambda: close(open("/mnt/ro", O_WRONLY))) == 0  # root passes
    assert mounted.err(lambda: open("/mnt/ro", O_RDONLY), 2000) == errno.EACCES  # 0400


def test_symlinks_followed_eloop_and_nofollow(mounted: Mounted) -> None:
    mounted.ok(lambda: (create("/mnt/t", b"target"), symlink("t", "/mnt/l")))
    mounted.ok(lambda: (symlink("b", "/mnt/a"), symlink("a", "/mnt/b")))

    def via_link() -> bytes:
        fd = open("/mnt/l", O_RDONLY)
        try:
            return read(fd, 100)
        finally:
            close(fd)

    assert mounted.ok(via_link) == b"target"
    assert mounted.err(lambda: open("/mnt/a", O_RDONLY)) == errno.ELOOP
    assert mounted.err(lambda: open("/mnt/a/x", O_CREAT | O_WRONLY, 0o644)) == errno.ELOOP
    assert mounted.err(lambda: open("/mnt/l", O_RDONLY | O_NOFOLLOW)) == errno.ELOOP
    assert mounted.err(lambda: open("/mnt/l", O_CREAT | O_EXCL | O_WRONLY, 0o644)) == (errno.EEXIST)


def test_trunc_and_append(mounted: Mounted) -> None:
    mounted.ok(lambda: create("/mnt/f", b"0123456789"))

    def trunc_append() -> tuple[int, bytes]:
        fd = open("/mnt/f", O_WRONLY | O_TRUNC)
        size = fstat(fd).size
        write(fd, b"ab")
        close(fd)
        fd = open("/mnt/f", O_WRONLY | O_APPEND)
        write(fd, b"cd")
        close(fd)
        fd = open("/mnt/f", O_RDONLY)
        data = read(fd, 100)
        close(fd)
        return size, data

    assert mounted.ok(trunc_append) == (0, b"abcd")
    # O_TRUNC without write access is ignored
    mounted.ok(lambda: close(open("/mnt/f", O_RDONLY | O_TRUNC)))
    assert mounted.ok(lambda: stat("/mnt/f").size) == 4
    assert mounted.fsck_clean()


def test_enospc_when_inodes_run_out(small: Mounted) -> None:
    def fill() -> int:
        n = 0
        while True:
            try:
                close(open(f"/mnt/f{n}", O_CREAT | O_WRONLY, 0o644))
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return n
            n += 1

    made = small.ok(fill)
    assert made == 14  # 16 inodes: 0 unused, 1 the root
    assert small.err(lambda: mkdir("/mnt/d")) == errno.ENOSPC
    assert small.fsck_clean()


def test_every_directory_on_the_way_must_be_searchable(mounted: Mounted) -> None:
    mounted.ok(lambda: (mkdir("/mnt/p"), mkdir("/mnt/p/q"), create("/mnt/p/q/f", b"x")), USER)
    mounted.ok(lambda: (symlink("f", "/mnt/p/q/l"), chmod("/mnt/p", 0o600)), USER)
    for call in (
        lambda: open("/mnt/p/q/f", O_RDONLY),
        lambda: stat("/mnt/p/q"),
        lambda: open("/mnt/p/q/new", O_CREAT | O_WRONLY, 0o644),
        lambda: unlink("/mnt/p/q/f"),
        lambda: mkdir("/mnt/p/q/d"),
        lambda: readlink("/mnt/p/q/l"),
        lambda: rename("/mnt/p/q/f", "/mnt/f"),
    ):
        assert mounted.err(call, USER) == errno.EACCES
    assert mounted.err(lambda: close(open("/mnt/p/q/f", O_RDONLY))) == 0  # root passes
    assert mounted.err(lambda: stat("/mnt/p"), USER) == 0  # the last one need not be

"""The sticky bit (S_ISVTX) on a directory through fs-qrv, pjdfstest style
(unlink/11.t, rmdir/11.t, rename/09.t and 10.t): an entry of a sticky directory
is removed or renamed only by its owner, the directory's owner or root; anyone
else with write permission on the directory gets EPERM (POSIX XBD 4.3)."""

from __future__ import annotations

import errno
from collections.abc import Callable

import pytest

from qrv.lib.c import chmod, link, listdir, mkdir, rename, rmdir, stat, symlink, umask, unlink
from tests.servers.fs_qrv.posix.conftest import OTHER, USER, Mounted, create

STRANGER = 3000
"""Neither the directory's owner (USER) nor the entry's (OTHER)."""
STICKY_DIR = "/mnt/s"

MAKERS: dict[str, Callable[[str], object]] = {
    "file": create,
    "symlink": lambda path: symlink("nowhere", path),
    "dir": mkdir,
}
REMOVERS: dict[str, Callable[[str], object]] = {"file": unlink, "symlink": unlink, "dir": rmdir}


def sticky_dir(m: Mounted, mode: int = 0o1777) -> None:
    """/mnt/s owned by USER, `mode` set by USER's own chmod."""
    m.ok(lambda: (mkdir(STICKY_DIR), chmod(STICKY_DIR, mode)), USER)


@pytest.mark.parametrize("kind", list(MAKERS))
def test_only_owners_and_root_remove_from_a_sticky_directory(mounted: Mounted, kind: str) -> None:
    sticky_dir(mounted)
    path, make, remove = f"{STICKY_DIR}/e", MAKERS[kind], REMOVERS[kind]
    for remover in (USER, OTHER, 0):  # the directory's owner, the entry's, root
        mounted.ok(lambda: make(path), OTHER)
        assert mounted.err(lambda: remove(path), STRANGER) == errno.EPERM
        assert mounted.ok(lambda: listdir(STICKY_DIR)) == [".", "..", "e"]
        assert mounted.err(lambda: remove(path), remover) == 0, remover
    assert mounted.fsck_clean()


def test_without_the_sticky_bit_anyone_with_write_permission_removes(mounted: Mounted) -> None:
    sticky_dir(mounted, 0o777)
    mounted.ok(lambda: (create("/mnt/s/f"), mkdir("/mnt/s/d")), OTHER)
    assert mounted.err(lambda: (unlink("/mnt/s/f"), rmdir("/mnt/s/d")), STRANGER) == 0


def test_write_permission_is_checked_before_the_sticky_bit(mounted: Mounted) -> None:
    sticky_dir(mounted)
    mounted.ok(lambda: create("/mnt/s/f"), OTHER)
    mounted.ok(lambda: chmod(STICKY_DIR, 0o1755), USER)
    assert mounted.err(lambda: unlink("/mnt/s/f"), STRANGER) == errno.EACCES
    assert mounted.err(lambda: unlink("/mnt/s/none"), STRANGER) == errno.EACCES
    mounted.ok(lambda: chmod(STICKY_DIR, 0o1777), USER)
    assert mounted.err(lambda: unlink("/mnt/s/none"), STRANGER) == errno.ENOENT


def test_rename_out_of_and_over_entries_of_a_sticky_directory(mounted: Mounted) -> None:
    sticky_dir(mounted)
    mounted.ok(lambda: (create("/mnt/s/theirs"), mkdir("/mnt/s/tdir")), OTHER)
    mounted.ok(lambda: (create("/mnt/s/mine"), create("/mnt/own"), mkdir("/mnt/s/mdir")), STRANGER)
    for old, new in (
        ("/mnt/s/theirs", "/mnt/moved"),  # away
        ("/mnt/s/theirs", "/mnt/s/other-name"),  # within
        ("/mnt/s/mine", "/mnt/s/theirs"),  # over another's file
        ("/mnt/own", "/mnt/s/theirs"),  # over it from outside
        ("/mnt/s/mdir", "/mnt/s/tdir"),  # over another's empty directory
    ):
        assert mounted.err(lambda o=old, n=new: rename(o, n), STRANGER) == errno.EPERM, (old, new)  # type: ignore[misc]
    assert sorted(mounted.ok(lambda: listdir(STICKY_DIR))) == [  # type: ignore[type-var]
        ".", "..", "mdir", "mine", "tdir", "theirs",
    ]  # fmt: skip
    # the stranger's own entries move freely, also to a new name in the directory
    assert mounted.err(lambda: rename("/mnt/s/mine", "/mnt/s/new"), STRANGER) == 0
    assert mounted.err(lambda: rename("/mnt/own", "/mnt/s/own"), STRANGER) == 0
    # the directory's owner and the entry's owner rename another's entries
    assert mounted.err(lambda: rename("/mnt/s/new", "/mnt/s/theirs"), USER) == 0
    assert mounted.err(lambda: rename("/mnt/s/theirs", "/mnt/s/back"), STRANGER) == 0  # its own now
    assert mounted.err(lambda: rename("/mnt/s/tdir", "/mnt/tdir"), OTHER) == 0
    assert mounted.fsck_clean()


def test_rename_between_two_names_of_one_file_changes_nothing(mounted: Mounted) -> None:
    sticky_dir(mounted)
    mounted.ok(lambda: (create("/mnt/s/a"), link("/mnt/s/a", "/mnt/s/b")), OTHER)
    assert mounted.err(lambda: rename("/mnt/s/a", "/mnt/s/b"), STRANGER) == 0
    assert mounted.ok(lambda: listdir(STICKY_DIR)) == [".", "..", "a", "b"]


def test_chmod_and_mkdir_set_the_sticky_bit(mounted: Mounted) -> None:
    sticky_dir(mounted)

    def make() -> object:
        umask(0)
        mkdir("/mnt/t", 0o1777)
        create("/mnt/f")
        chmod("/mnt/f", 0o1644)  # allowed on a file too, and meaningless there
        return stat(STICKY_DIR).mode & 0o7777, stat("/mnt/t").mode & 0o7777, stat("/mnt/f").mode

    s, t, f = mounted.ok(make, USER)  # type: ignore[misc]
    assert (s, t, f & 0o7777) == (0o1777, 0o1777, 0o1644)
    mounted.ok(lambda: create("/mnt/f2"), OTHER)
    assert mounted.err(lambda: unlink("/mnt/f2"), STRANGER) == 0  # /mnt is not sticky
    assert mounted.fsck_clean()

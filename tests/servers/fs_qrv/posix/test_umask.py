"""umask(2) through fs-qrv, pjdfstest style: lib.c clears the process's mask bits
from the mode of open(O_CREAT) and mkdir; the mask is inherited by a spawned child."""

from __future__ import annotations

from qrv.lib.c import chmod, close, mkdir, open, spawn, stat, umask, waitpid
from qrv.spec.iomsg import O_CREAT, O_RDWR
from tests.servers.fs_qrv.posix.conftest import Mounted, create

PERMS = 0o7777


def perms(path: str) -> int:
    return stat(path).mode & PERMS


def test_default_umask_is_022(mounted: Mounted) -> None:
    def make() -> object:
        create("/mnt/f", mode=0o666)
        mkdir("/mnt/d")
        return perms("/mnt/f"), perms("/mnt/d"), umask(0o022)

    assert mounted.ok(make) == (0o644, 0o755, 0o022)
    assert mounted.fsck_clean()


def test_umask_applies_to_open_and_mkdir(mounted: Mounted) -> None:
    def make() -> object:
        got = []
        for mask, name in ((0o000, "a"), (0o077, "b"), (0o027, "c"), (0o777, "d")):
            umask(mask)
            create(f"/mnt/f{name}", mode=0o777)
            mkdir(f"/mnt/d{name}", 0o777)
            got.append((perms(f"/mnt/f{name}"), perms(f"/mnt/d{name}")))
        return got

    assert mounted.ok(make) == [(0o777, 0o777), (0o700, 0o700), (0o750, 0o750), (0, 0)]
    assert mounted.fsck_clean()


def test_umask_returns_the_previous_mask_and_keeps_permission_bits_only(
    mounted: Mounted,
) -> None:
    assert mounted.ok(lambda: (umask(0o7777), umask(0o123), umask(0))) == (0o022, 0o777, 0o123)


def test_umask_leaves_existing_files_and_chmod_alone(mounted: Mounted) -> None:
    def make() -> object:
        create("/mnt/f", mode=0o666)
        umask(0o077)
        close(open("/mnt/f", O_CREAT | O_RDWR, 0o666))  # exists: its mode stays
        before = perms("/mnt/f")
        chmod("/mnt/f", 0o777)  # chmod is not masked
        return before, perms("/mnt/f")

    assert mounted.ok(make) == (0o644, 0o777)


def test_umask_is_inherited_by_a_spawned_child(mounted: Mounted) -> None:
    def child(argv: list[str]) -> int:
        create(argv[1], mode=0o666)
        umask(0)  # the child's own: the parent's stays
        return 0

    def parent() -> object:
        umask(0o066)
        assert waitpid(spawn(child, ["child", "/mnt/f"]), 10) == 0
        create("/mnt/g", mode=0o666)
        return perms("/mnt/f"), perms("/mnt/g"), umask(0o022)

    assert mounted.ok(parent) == (0o600, 0o600, 0o066)

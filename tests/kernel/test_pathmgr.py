"""Pathname resolution (QNX: longest prefix first, DIR/OPAQUE/BEFORE/AFTER rules)."""

from __future__ import annotations

import errno

import pytest

from qrv.kernel.pathmgr import PathManager, normalize
from qrv.spec.iomsg import ResmgrFlag

PROCNTO = (1, 1)


def pm_with(*links: tuple[str, int, int]) -> PathManager:
    pm = PathManager(*PROCNTO)
    for path, pid, flags in links:
        pm.link(path, pid, 1, pid, 0, flags)
    return pm


def servers(pm: PathManager, path: str) -> list[tuple[int, str]]:
    return [(e.pid, e.remainder) for e in pm.resolve(path)]


def test_normalize() -> None:
    assert normalize("//dev/./x/../nvme0n1") == ("/dev/nvme0n1", False)
    assert normalize("/dev/") == ("/dev", True)


def test_plain_registration_matches_only_its_path() -> None:
    pm = pm_with(("/dev/ser1", 10, 0))
    assert servers(pm, "/dev/ser1") == [(10, "")]
    with pytest.raises(OSError) as ei:
        pm.resolve("/dev/ser1/x")
    assert ei.value.errno == errno.ENOENT
    with pytest.raises(OSError) as ei:
        pm.resolve("/dev/ser")  # QNX docs: a prefix of a name is not a match
    assert ei.value.errno == errno.ENOENT


def test_longest_prefix_first_and_dir_remainder() -> None:
    pm = pm_with(("/", 5, ResmgrFlag.DIR), ("/dev/hd0", 6, 0), ("/dev", 7, ResmgrFlag.DIR))
    assert servers(pm, "/dev/hd0") == [(6, ""), (7, "hd0"), (5, "dev/hd0")]
    assert servers(pm, "/dev/ser") == [(7, "ser"), (5, "dev/ser")]


def test_newest_first_then_before_after_and_opaque() -> None:
    pm = pm_with(("/x", 10, 0), ("/x", 11, 0))
    assert [p for p, _ in servers(pm, "/x")] == [11, 10]
    pm = pm_with(("/x", 10, ResmgrFlag.BEFORE), ("/x", 11, 0), ("/x", 12, ResmgrFlag.AFTER))
    assert [p for p, _ in servers(pm, "/x")] == [10, 11, 12]
    pm = pm_with(("/", 5, ResmgrFlag.DIR), ("/a", 6, ResmgrFlag.DIR | ResmgrFlag.OPAQUE))
    assert servers(pm, "/a/b") == [(6, "b")]


def test_synthesised_directories_and_children() -> None:
    pm = pm_with(("/dev/nvme0n1", 10, 0), ("/dev/pci", 11, 0), ("/srv/a/b", 12, 0))
    assert pm.children("/dev") == ["nvme0n1", "pci"]
    assert pm.children("/") == ["dev", "srv"]
    assert pm.children("/srv") == ["a"]
    assert servers(pm, "/srv/a") == [(PROCNTO[0], "/srv/a")]
    assert pm.is_dir("/dev") and not pm.is_dir("/dev/pci")
    pm.remove_pid(12)
    assert pm.children("/") == ["dev"]
    assert PathManager(*PROCNTO).children("/dev") == []  # /dev always exists


def test_trailing_slash_needs_a_directory_server() -> None:
    pm = pm_with(("/dev/pci", 11, 0))
    with pytest.raises(OSError) as ei:
        pm.resolve("/dev/pci/")
    assert ei.value.errno == errno.ENOTDIR


def test_unlink_rules() -> None:
    pm = PathManager(*PROCNTO)
    lid = pm.link("/dev/a", 10, 1, 1, 0, 0)
    with pytest.raises(OSError):
        pm.unlink(lid, 99)  # not the owner
    pm.unlink(lid, 10)
    with pytest.raises(OSError) as ei:
        pm.unlink(lid, 10)
    assert ei.value.errno == errno.EINVAL


def test_pairs_keep_servers_owning_both_paths() -> None:
    dir_ = int(ResmgrFlag.DIR)
    pm = pm_with(("/mnt", 10, dir_), ("/ro", 11, dir_), ("/mnt/sub", 12, dir_))
    pairs = pm.resolve_pair("/mnt/a/new", "/mnt/b/old")
    assert [(e.pid, e.remainder, rest) for e, rest in pairs] == [(10, "a/new", "b/old")]
    for new, old in (("/ro/x", "/mnt/x"), ("/mnt/sub/x", "/mnt/x"), ("/mnt/x", "/mnt/sub/x")):
        with pytest.raises(OSError) as ei:
            pm.resolve_pair(new, old)
        assert ei.value.errno == errno.EXDEV, (new, old)
    with pytest.raises(OSError) as ei:
        pm.resolve_pair("/nowhere/x", "/mnt/x")
    assert ei.value.errno == errno.ENOENT


def test_a_resolution_follows_every_link_and_unlink() -> None:
    """Resolutions are remembered, but never past a change of the names."""
    pm = pm_with(("/dev", 2, ResmgrFlag.DIR))
    assert servers(pm, "/dev/x/y") == [(2, "x/y")]
    assert servers(pm, "/dev/x/y") == [(2, "x/y")]
    linkid = pm.link("/dev/x", 3, 1, 3, 0, ResmgrFlag.DIR)
    assert servers(pm, "/dev/x/y") == [(3, "y"), (2, "x/y")]
    pm.unlink(linkid, 3)
    assert servers(pm, "/dev/x/y") == [(2, "x/y")]
    pm.remove_pid(2)
    with pytest.raises(OSError) as exc:
        pm.resolve("/dev/x/y")
    assert exc.value.errno == errno.ENOENT
    pm.resolve("/dev").append(pm.resolve("/dev")[0])  # a caller's list is its own
    assert len(pm.resolve("/dev")) == 1

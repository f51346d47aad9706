"""The file commands on a mounted qrvfs: mkdir, rmdir, rm, cp, mv, ln, touch,
stat, df, sync, ls -l, cat and dd; usage errors are status 2."""

from __future__ import annotations

import pytest

from qrv.lib.qrvfs import format_device
from qrv.lib.qrvfs.check import check
from tests.lib.qrvfs.memdev import mem_device
from tests.lib.qrvfs.refimpl import RefReader
from tests.servers.fs_qrv.posix.conftest import Mounted, mounted, sysk
from tests.servers.fs_qrv.test_fs_qrv import disk_server
from tests.userland.shell import run

__all__ = ["mounted", "sysk"]


def sh(m: Mounted, line: str, status: int = 0) -> str:
    r = run(m.k, line)
    assert r.status == status, (line, r.status, r.errtext)
    return r.text + r.errtext


def test_make_copy_move_link_remove(mounted: Mounted) -> None:
    sh(mounted, "mkdir -p /mnt/a/b/c; mkdir -p /mnt/a/b; mkdir -m 700 /mnt/priv")
    sh(mounted, "echo hello > /mnt/a/b/c/f; cp /mnt/a/b/c/f /mnt/g; cat /mnt/g")
    assert sh(mounted, "cat /mnt/g") == "hello\n"
    sh(mounted, "cp -r /mnt/a /mnt/copy; ln -s b/c /mnt/a/lnk; ln /mnt/g /mnt/g2")
    assert sh(mounted, "cat /mnt/copy/b/c/f /mnt/a/lnk/f") == "hello\nhello\n"
    sh(mounted, "mv /mnt/g /mnt/a/moved; mv /mnt/a/moved /mnt/g2 /mnt/priv")
    assert sh(mounted, "ls /mnt/priv") == ".\n..\ng2\nmoved\n"
    sh(mounted, "touch /mnt/t; touch -c /mnt/none; rm /mnt/t; rmdir /mnt/copy/b/c", 1)
    sh(mounted, "rm -r /mnt/copy; rm -f /mnt/none; rm -rf /mnt/a")
    assert sh(mounted, "ls /mnt") == ".\n..\npriv\n"
    assert sh(mounted, "rmdir /mnt/priv", 1) == "rmdir: /mnt/priv: Directory not empty\n"
    assert sh(mounted, "rm /mnt/priv", 1) == "rm: /mnt/priv: Is a directory\n"
    assert sh(mounted, "cp /mnt/priv /mnt/x", 1) == (
        "cp: -r not specified; omitting directory '/mnt/priv'\n"
    )
    assert "cannot copy" in sh(mounted, "cp -r /mnt/priv /mnt/priv/in", 1)
    sh(mounted, "ln /mnt/priv/g2 /mnt/hard")
    assert "are the same file" in sh(mounted, "cp /mnt/hard /mnt/priv/g2", 1)
    assert sh(mounted, "cat /mnt/hard") == "hello\n"  # not truncated
    assert mounted.fsck_clean()


def test_ls_l_stat_df_sync(mounted: Mounted) -> None:
    sh(mounted, "mkdir /mnt/d; echo 12345 > /mnt/d/f; sync")
    # after sync the device holds the tree: the reference reader sees it
    assert RefReader(mounted.img).tree().children[b"d"].children[b"f"].data == b"12345\n"
    sh(mounted, "ln /mnt/d/f /mnt/d/h; ln -s f /mnt/d/l")
    lines = sh(mounted, "ls -l /mnt/d").splitlines()
    assert lines[2:] == [
        "-rw-r--r--  2     0     0        6 f",  # 0666 less the umask 022
        "-rw-r--r--  2     0     0        6 h",
        "lrwxrwxrwx  1     0     0        1 l -> f",
    ]
    assert lines[0].startswith("drwxr-xr-x  2") and lines[1].startswith("drwxrwxrwx  3")
    text = sh(mounted, "stat /mnt/d/l; stat -L /mnt/d/l")
    assert "  File: /mnt/d/l -> f\n" in text and "symbolic link" in text
    assert "Access: (0644/-rw-r--r--)  Uid: (    0)   Gid: (    0)" in text
    assert "Links: 2" in text
    df = sh(mounted, "df; df /mnt/d").splitlines()
    assert df[0].split() == [
        "Filesystem",
        "1K-blocks",
        "Used",
        "Available",
        "Use%",
        "Mounted",
        "on",
    ]
    assert df[1].startswith("/dev/disk") and df[1].endswith(" /mnt") and df[1] == df[3]
    sh(mounted, "sync")
    assert check(mem_device(mounted.img)).problems == []


def test_dd_and_cat_on_files(mounted: Mounted) -> None:
    sh(mounted, "dd if=/dev/zero of=/mnt/z bs=4096 count=3")
    assert "Size: 12288" in sh(mounted, "stat /mnt/z")
    sh(mounted, "echo abc > /mnt/s; cat /mnt/s /mnt/s > /mnt/two")
    assert sh(mounted, "cat /mnt/two") == "abc\nabc\n"


@pytest.mark.parametrize(
    "line",
    [
        "mkdir",
        "mkdir -x /mnt/a",
        "mkdir -m 999 /mnt/a",
        "rmdir",
        "rm",
        "rm -z /mnt/a",
        "cp /mnt/a",
        "cp -x a b",
        "mv /mnt/a",
        "ln -q a b",
        "ln a",
        "touch",
        "stat",
        "stat -z /mnt",
        "df -z",
        "mkdir --help",
    ],
)
def test_usage_errors(mounted: Mounted, line: str) -> None:
    r = run(mounted.k, line)
    assert r.status == 2 and "usage: " in r.errtext, r.errtext


def test_commands_are_listed_in_help(mounted: Mounted) -> None:
    names = {line.split()[0] for line in sh(mounted, "help").splitlines()}
    assert {"mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "stat", "df", "sync"} <= names


def test_mv_across_mounts_copies_then_removes(mounted: Mounted) -> None:
    other = bytearray(2 << 20)
    format_device(mem_device(other), ninodes=32, nlog=48, now=lambda: 100)
    pid = mounted.k.spawn(disk_server(other, path="/dev/disk2"), ["devb-test2"])
    assert mounted.k.wait_ready(pid, None, 5)
    sh(mounted, "mount /dev/disk2 /two; mkdir -p /mnt/t/u; echo x > /mnt/t/u/f; ln -s f /mnt/t/l")
    assert "Invalid cross-device link" in sh(mounted, "ln /mnt/t/u/f /two/f", 1)
    sh(mounted, "mv /mnt/t /two/t; echo y > /mnt/g; mv /mnt/g /two")
    assert sh(mounted, "ls /mnt; cat /two/t/u/f /two/g; ls -l /two/t").startswith(".\n..\nx\ny\n")
    assert "l -> f" in sh(mounted, "ls -l /two/t")
    sh(mounted, "umount /two")
    assert check(mem_device(other)).problems == []
    assert mounted.fsck_clean()


def test_umask_shapes_new_files_and_mkdir_m_is_exact(mounted: Mounted) -> None:
    sh(mounted, "umask 027; touch /mnt/t; echo x > /mnt/r; mkdir /mnt/d; mkdir -m 777 /mnt/m")
    sh(mounted, "umask 0277; mkdir -p /mnt/p/q; cp /mnt/r /mnt/c")
    modes = {line.split()[-1]: line.split()[0] for line in sh(mounted, "ls -l /mnt").splitlines()}
    del modes[".."]  # procnto's /
    assert modes == {
        ".": "drwxrwxrwx",
        "t": "-rw-r-----",  # touch's 0666 less 027
        "r": "-rw-r-----",  # the shell's > : 0666 less 027
        "d": "drwxr-x---",
        "m": "drwxrwxrwx",  # -m is the mode itself
        "p": "drwx------",  # a -p parent: 0777 less 0277, then u+wx
        "c": "-r--------",  # cp: the source's 0640 less 0277
    }
    assert sh(mounted, "ls -l /mnt/p").splitlines()[2].startswith("dr-x------")  # q: 0500

"""qrv mkfs, qrv fsck and qrv fs on image files, through the command line.
Expected layouts come from the format document; images are read back with the
independent reference reader (tests/lib/qrvfs/refimpl.py)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
from pathlib import Path

import pytest

from qrv.cli import main
from qrv.lib.qrvfs import Filesystem
from qrv.tools.fsimage import FsImage
from qrv.tools.mkgpt import write_gpt
from tests.conftest import require_tool
from tests.lib.qrvfs.refimpl import T_DIR, T_FILE, T_LINK, RefReader, flatten

MIB = 1 << 20


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def test_superblock_equals_the_real_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "fs.img"
    rc, out, _ = run(capsys, "mkfs", "--log", "0", "--size", "16", "--inodes", "256", str(image))
    assert rc == 0 and "4085 data blocks from block 11" in out
    raw = image.read_bytes()
    assert len(raw) == 16 * MIB
    # spec/qrvfs.md: 4096 blocks; logstart 2, no log, 8 inode blocks, 1 bitmap block
    expect = struct.pack("<IIQQQQQQQQ", 0x51525631, 2, 4096, 4085, 256, 0, 2, 2, 10, 11)
    assert raw[4096:8192] == expect.ljust(4096, b"\0")
    assert raw[:4096] == bytes(4096)
    tree = RefReader(raw).tree()
    assert tree.children == {} and tree.mode == 0o755


def test_defaults_and_layout_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "new.img"
    assert run(capsys, "mkfs", str(image))[0] == 0
    assert image.stat().st_size == 8 * MIB  # the real mkfs's default size
    reader = RefReader(image.read_bytes())
    assert reader.ninodes == 512  # one inode per 16 KiB
    assert reader.logstart == 2 and reader.inodestart == 2 + reader.nlog
    assert reader.bmapstart == reader.inodestart + reader.ninodes // 32
    assert reader.datastart == reader.bmapstart + 1
    assert reader.nlog >= 33


def test_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "fs.img"
    assert run(capsys, "mkfs", "--size", "4", str(image))[0] == 0
    rc, _, err = run(capsys, "mkfs", str(image))
    assert rc == 2 and "holds a qrvfs filesystem; use --force" in err
    assert run(capsys, "mkfs", "--force", str(image))[0] == 0
    disk = tmp_path / "disk.img"
    write_gpt(disk, [8, 8], size_bytes=32 * MIB)
    rc, _, err = run(capsys, "mkfs", str(disk))
    assert rc == 2 and "partition table" in err
    assert run(capsys, "mkfs", "--partition", "1", str(disk))[0] == 0
    rc, _, err = run(capsys, "mkfs", "--partition", "1", str(disk))
    assert rc == 2 and "partition 1 holds a qrvfs" in err
    rc, _, err = run(capsys, "mkfs", "--partition", "3", str(disk))
    assert rc == 2 and "no partition 3" in err


def test_partition_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    disk = tmp_path / "disk.img"
    write_gpt(disk, [8, 8], size_bytes=32 * MIB)
    before = disk.read_bytes()
    assert run(capsys, "mkfs", "--partition", "2", str(disk))[0] == 0
    host = tmp_path / "hello.txt"
    host.write_bytes(b"hello partition\n")
    assert run(capsys, "fs", "--partition", "2", str(disk), "put", str(host), "/h.txt")[0] == 0
    rc, out, _ = run(capsys, "fs", "--partition", "2", str(disk), "ls")
    assert (rc, out) == (0, "h.txt\n")
    assert run(capsys, "fsck", "--partition", "2", str(disk))[0] == 0
    after = disk.read_bytes()
    p2 = 2048 * 512 * 8 + 34 * 512  # partitions back to back from LBA 34
    assert after[:p2] == before[:p2], "partition 1 and the table are untouched"
    assert run(capsys, "gpt", str(disk))[0] == 0
    sgdisk = require_tool("sgdisk", "gdisk")
    result = subprocess.run([sgdisk, "-v", str(disk)], capture_output=True, text=True, check=False)
    assert "No problems found" in result.stdout


def test_populate_from_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    (src / "sub" / "deep").mkdir(parents=True)
    (src / "empty").write_bytes(b"")
    (src / "sub" / "four").write_bytes(b"x" * 4097)
    (src / "script").write_bytes(b"#!/bin/sh\n")
    (src / "script").chmod(0o750)
    (src / "grüße").write_bytes("ü".encode())
    (src / "link").symlink_to("sub/four")
    os.mkfifo(src / "fifo")
    image = tmp_path / "fs.img"
    rc, _, err = run(capsys, "mkfs", "--size", "4", str(image), str(src))
    assert rc == 0
    assert "fifo: skipped" in err
    tree = RefReader(image.read_bytes()).tree()
    flat = flatten(tree)
    assert flat == {
        b"/empty": (T_FILE, b""),
        b"/sub": (T_DIR, b""),
        b"/sub/deep": (T_DIR, b""),
        b"/sub/four": (T_FILE, b"x" * 4097),
        b"/script": (T_FILE, b"#!/bin/sh\n"),
        "/grüße".encode(): (T_FILE, "ü".encode()),
        b"/link": (T_LINK, b"sub/four"),
    }
    assert tree.children[b"script"].mode == 0o750
    assert tree.children[b"sub"].mtime == int((src / "sub").stat().st_mtime)


def _bitmap_offset(image: Path) -> int:
    return RefReader(image.read_bytes()).bmapstart * 4096


def test_fsck_exit_status_and_repair(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "fs.img"
    run(capsys, "mkfs", "--size", "4", str(image))
    rc, out, _ = run(capsys, "fsck", str(image))
    assert rc == 0 and out.startswith(f"{image}: clean")
    with open(image, "r+b") as f:  # clear the root directory's bit in the bitmap
        f.seek(_bitmap_offset(image) + RefReader(image.read_bytes()).datastart // 8)
        f.write(b"\x00")
    rc, out, _ = run(capsys, "fsck", str(image))
    lines = out.splitlines()
    assert rc == 1 and "in use but marked free" in lines[0] and "problem(s) found" in lines[-1]
    rc, out, _ = run(capsys, "fsck", "--json", str(image))
    report = json.loads(out)
    assert rc == 1 and not report["clean"] and report["superblock"]["version"] == 2
    rc, out, _ = run(capsys, "fsck", "--repair", str(image))
    assert rc == 1 and "repaired" in out
    assert run(capsys, "fsck", str(image))[0] == 0
    RefReader(image.read_bytes()).tree()


def test_fsck_unusable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "zero.img"
    image.write_bytes(bytes(MIB))
    rc, _, err = run(capsys, "fsck", str(image))
    assert rc == 2 and "bad magic" in err and len(err.splitlines()) == 1
    raw = bytearray(bytes(MIB))
    raw[4096:4104] = struct.pack("<II", 0x51525631, 3)
    image.write_bytes(raw)
    rc, _, err = run(capsys, "fsck", str(image))
    assert rc == 2 and "unknown qrvfs version 3" in err
    rc, _, err = run(capsys, "fsck", str(tmp_path / "missing.img"))
    assert rc == 2 and "No such file" in err
    assert run(capsys, "fsck", "--bogus", str(image))[0] == 2


def test_fs_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = tmp_path / "fs.img"
    run(capsys, "mkfs", "--size", "4", str(image))
    data = tmp_path / "data.bin"
    data.write_bytes(bytes(range(256)) * 100)
    assert run(capsys, "fs", str(image), "mkdir", "-p", "/a/b/c")[0] == 0
    assert run(capsys, "fs", str(image), "put", str(data), "/a/b")[0] == 0
    rc, out, _ = run(capsys, "fs", str(image), "ls", "-l", "/a/b")
    assert rc == 0
    assert out.splitlines()[0].startswith("drwxr-xr-x   2     0     0        512 ")
    assert out.splitlines()[1].split()[4] == "25600" and out.endswith("data.bin\n")
    out_file = tmp_path / "back.bin"
    assert run(capsys, "fs", str(image), "get", "/a/b/data.bin", str(out_file))[0] == 0
    assert out_file.read_bytes() == data.read_bytes()
    rc, _, err = run(capsys, "fs", str(image), "cat", "/a/nope")
    assert rc == 1 and err == "qrv fs: cat: /a/nope: No such file or directory\n"
    rc, _, err = run(capsys, "fs", str(image), "rm", "/a")
    assert rc == 1 and "Is a directory" in err
    assert run(capsys, "fs", str(image), "rm", "-r", "/a")[0] == 0
    assert run(capsys, "fs", str(image), "ls")[1] == ""
    assert run(capsys, "fs", str(image), "frob")[0] == 2
    assert run(capsys, "fsck", str(image))[0] == 0
    with FsImage(image, writable=False) as img:
        assert Filesystem.mount(img.device, read_only=True).listdir("/") == [(b".", 1), (b"..", 1)]

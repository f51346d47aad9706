"""Crash safety of the journal: a scripted workload's device writes are cut at
every point (and, in a second pass, the writes not yet flushed at the cut are
partly lost, as a volatile write cache may lose them).  After each cut the
next mount replays the log, the checker finds nothing, every fsynced file
holds its fsynced bytes and every rename is all or nothing."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qrv.lib.qrvfs import Filesystem, FsError, format_device
from qrv.lib.qrvfs.check import check
from tests.lib.qrvfs.memdev import Recorder, mem_device

A1 = bytes(range(256)) * 40  # 10240 bytes
A2 = b"second version " * 2000
B = b"never synced" * 250
C1 = bytes(i % 199 for i in range(50000))


@dataclass
class Run:
    base: bytes
    events: list[tuple[object, ...]]
    marks: dict[str, int]  # workload point -> events issued when it was reached


def workload() -> Run:
    img = bytearray(2 << 20)
    format_device(mem_device(img), ninodes=64, nlog=48, now=lambda: 7)
    rec = Recorder(bytearray(img))
    fs = Filesystem.mount(rec.device(), now=lambda: 7)
    marks: dict[str, int] = {}

    def mark(name: str) -> None:
        marks[name] = len(rec.events)

    fs.write(fs.create("/a"), 0, A1)
    fs.fsync()
    mark("a1")
    fs.mkdir("/d")
    fs.write(fs.create("/d/tmp"), 0, A2)
    fs.fsync()
    mark("tmp")
    mark("rename-start")
    fs.rename("/d/tmp", "/a")
    fs.fsync()
    mark("renamed")
    fs.write(fs.create("/b"), 0, B)
    fs.unlink("/b")
    fs.write(fs.create("/c"), 0, C1)
    fs.fsync()
    mark("c1")
    fs.rename("/c", "/d/c2")
    fs.mkdir("/e")
    fs.mkdir("/e/f")
    fs.rmdir("/e/f")
    fs.unmount()
    mark("end")
    return Run(bytes(img), rec.events, marks)


def image_at(run: Run, cut: int, lose_unflushed: bool) -> bytearray:
    img = bytearray(run.base)
    events = run.events[:cut]
    last_flush = max((i for i, e in enumerate(events) if e[0] == "f"), default=-1)
    for i, event in enumerate(events):
        if event[0] != "w":
            continue
        if lose_unflushed and i > last_flush and i % 2:
            continue
        _, offset, data = event
        assert isinstance(offset, int) and isinstance(data, bytes)
        img[offset : offset + len(data)] = data
    return img


def content(fs: Filesystem, path: str) -> bytes | None:
    try:
        return fs.read_file(path)
    except FsError:
        return None


def verify(run: Run, cut: int, img: bytearray) -> None:
    fs = Filesystem.mount(mem_device(img))
    fs.unmount()
    report = check(mem_device(img))
    assert report.problems == [], f"cut {cut}: {report.problems}"
    fs = Filesystem.mount(mem_device(img, writable=False))
    a, tmp = content(fs, "/a"), content(fs, "/d/tmp")
    if cut >= run.marks["a1"]:
        assert a in (A1, A2), f"cut {cut}: /a lost its fsynced bytes"
    if cut >= run.marks["tmp"]:
        # the rename is all or nothing: old /a with /d/tmp, or new /a without it
        assert (a, tmp) in ((A1, A2), (A2, None)), f"cut {cut}: rename half done"
    if cut >= run.marks["renamed"]:
        assert (a, tmp) == (A2, None)
    assert content(fs, "/b") in (None, b"", B)
    if cut >= run.marks["c1"]:
        found = [content(fs, p) for p in ("/c", "/d/c2")]
        assert sorted(found, key=lambda x: x is None) == [C1, None], f"cut {cut}: {found}"
    if cut >= run.marks["end"]:
        assert sorted(n for n, _ in fs.listdir("/")) == [b".", b"..", b"a", b"d", b"e"]
        assert fs.listdir("/e") == [(b".", fs.lookup("/e")), (b"..", 1)]


@pytest.mark.parametrize("lose_unflushed", [False, True], ids=["in-order", "lost-cache"])
def test_every_cut_point(lose_unflushed: bool) -> None:
    run = workload()
    assert len(run.events) > 50
    for cut in range(len(run.events) + 1):
        verify(run, cut, image_at(run, cut, lose_unflushed))

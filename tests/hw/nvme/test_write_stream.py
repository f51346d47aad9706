"""Large Writes stream past the volatile write cache (hw/nvme/io.py STREAM_BYTES): on the
image at completion, without an fsync unless FUA; cached lines of their blocks superseded;
a power cut cannot lose them."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from qrv.hw.nvme.io import STREAM_BYTES
from tests.hw.nvme.conftest import Rig, file_bytes
from tests.hw.nvme.test_write_cache import LBA, flush, read, up, write

BIG = STREAM_BYTES // LBA  # blocks of the smallest streamed write


def test_a_large_write_is_on_the_image_at_completion_without_fsync(
    ready: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    data = os.urandom(STREAM_BYTES)
    write(ready, 40, data)
    assert file_bytes(ready.image, 40 * LBA, len(data)) == data
    assert not synced
    small = os.urandom(STREAM_BYTES - LBA)  # one block less: cached, not on the image
    write(ready, 40 + BIG, small)
    assert file_bytes(ready.image, (40 + BIG) * LBA, len(small)) != small
    assert read(ready, 40 + BIG, len(small) // LBA) == small
    flush(ready)
    assert synced
    assert file_bytes(ready.image, (40 + BIG) * LBA, len(small)) == small


def test_a_large_write_supersedes_cached_blocks(ready: Rig) -> None:
    cached = b"\x11" * (8 * LBA)
    write(ready, 100, cached)  # in the cache only
    streamed = os.urandom(STREAM_BYTES)
    write(ready, 96, streamed)  # covers the cached blocks
    assert read(ready, 96, BIG) == streamed
    flush(ready)  # the stale cached lines must not come back
    assert file_bytes(ready.image, 96 * LBA, len(streamed)) == streamed


def test_a_power_cut_keeps_streamed_writes(rig_factory: Callable[..., Rig]) -> None:
    r = up(rig_factory())
    small = b"\x22" * (4 * LBA)
    streamed = os.urandom(STREAM_BYTES)
    r.ctrl.power_cut_after(3, seed=1)
    write(r, 0, small)
    write(r, 8, streamed)
    write(r, 8 + BIG, small)
    assert r.ctrl.power_cut is not None
    r.ctrl.close()
    assert file_bytes(r.image, 8 * LBA, len(streamed)) == streamed
    for slba in (0, 8 + BIG):  # the small ones: kept or lost whole per LBA
        for lba in range(4):
            got = file_bytes(r.image, (slba + lba) * LBA, LBA)
            assert got in (small[:LBA], old_bytes(slba + lba))


def old_bytes(lba: int) -> bytes:
    """The image's bytes of `lba` before the test (conftest.make_image's pattern)."""
    return f"LBA{lba:08d}".encode().ljust(LBA, b".")

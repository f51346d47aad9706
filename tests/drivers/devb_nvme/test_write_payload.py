"""A Write's data given as a :class:`Payload` (still where they are, e.g. in the client's
message): each chunk is copied once, straight into its bounce buffer, and all of a
batch's chunks are in place before any SQE is submitted, so a payload that fails (its
client died) leaves nothing submitted, the media as they were and no buffer taken."""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from qrv.hw.nvme import Namespace
from tests.drivers.devb_nvme.test_inflight import rigs, up  # noqa: F401 - the fixture
from tests.hw.nvme.conftest import Rig, file_bytes, make_image

BLOCK = 512


class Source:
    """A payload over `data` that records the ranges asked for and can fail at one."""

    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        self.data, self.fail_at = data, fail_at
        self.asked: list[tuple[int, int]] = []

    def __len__(self) -> int:
        return len(self.data)

    def readinto(self, dest: memoryview, offset: int) -> None:
        if offset == self.fail_at:
            raise OSError(errno.ESRCH, "the client is gone")
        self.asked.append((offset, len(dest)))
        dest[:] = self.data[offset : offset + len(dest)]


def writable_rig(rigs: Callable[..., Rig], tmp_path: Path) -> tuple[Rig, Path]:  # noqa: F811
    image = make_image(tmp_path / "rw.img")
    return rigs(namespaces=[Namespace(image, read_only=False)], mdts=1), image


def test_a_payload_is_copied_chunk_by_chunk_once(
    rigs: Callable[..., Rig],  # noqa: F811
    tmp_path: Path,
) -> None:
    """MDTS 1 (8 KiB per command): 100 blocks are 7 commands, each asking the payload
    for its own range once."""
    rig, image = writable_rig(rigs, tmp_path)
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    data = bytes(range(251)) * 204  # 51204 bytes: cut to 100 blocks below
    src = Source(data[: 100 * BLOCK])
    ctrl.write(ns, 40, src)
    ctrl.flush(ns)
    per_cmd = 16 * BLOCK
    assert sorted(src.asked) == [
        (start, min(per_cmd, 100 * BLOCK - start)) for start in range(0, 100 * BLOCK, per_cmd)
    ]
    assert file_bytes(image, 40 * BLOCK, 100 * BLOCK) == src.data


def test_a_failing_payload_submits_nothing_and_gives_the_buffers_back(
    rigs: Callable[..., Rig],  # noqa: F811
    tmp_path: Path,
) -> None:
    rig, image = writable_rig(rigs, tmp_path)
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    tail = ctrl.io_queues[0].sq_tail
    before = file_bytes(image, 40 * BLOCK, 100 * BLOCK)
    with pytest.raises(OSError) as exc:
        ctrl.write(ns, 40, Source(b"\xaa" * 100 * BLOCK, fail_at=2 * 16 * BLOCK))
    assert exc.value.errno == errno.ESRCH
    assert ctrl.io_queues[0].sq_tail == tail and not ctrl.io_queues[0].outstanding
    pool = ctrl.buffers  # every buffer taken for the batch is back (none lost)
    assert pool.made == 7 and len(pool.free) == pool.made and pool.lost == 0
    ctrl.flush(ns)
    assert file_bytes(image, 40 * BLOCK, 100 * BLOCK) == before
    ctrl.write(ns, 40, Source(b"\xbb" * 100 * BLOCK))  # the driver goes on as before
    ctrl.flush(ns)
    assert file_bytes(image, 40 * BLOCK, 100 * BLOCK) == b"\xbb" * 100 * BLOCK

"""Many commands in flight: the CID table, batches of transfers, several queue pairs,
completions in any order (the model's ``Faults.reorder_seed``), and the bounded waits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qrv.drivers.devb_nvme.buffers import BouncePool
from qrv.drivers.devb_nvme.controller import Controller
from qrv.drivers.devb_nvme.errors import ControllerTimeout
from qrv.drivers.devb_nvme.options import MAX_IO_QUEUES, Options, parse_options
from qrv.errors import NvmeError
from qrv.hw.nvme import Faults, Namespace
from qrv.spec.nvme import Command, NvmOpcode
from tests.drivers.devb_nvme.test_controller import bring_up
from tests.hw.nvme.conftest import Rig, build_rig, file_bytes, make_image


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def factory(**ctrl_args: Any) -> Rig:
        rig = build_rig(make_image(tmp_path / f"img{len(made)}.img"), **ctrl_args)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        rig.ctrl.close()


def up(rig: Rig, queues: int = 1, **kwargs: Any) -> Controller:
    ctrl = bring_up(rig, **kwargs)
    ctrl.identify_controller()
    granted = ctrl.set_queue_count(queues)
    ctrl.create_io_queue_pairs(min(granted, queues))
    return ctrl


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_read_of_many_transfers_completed_out_of_order_is_in_lba_order(
    rigs: Callable[..., Rig], seed: int
) -> None:
    """MDTS 1 (8 KiB per command): 300 blocks are 19 commands, batches of up to 8
    that the model completes in a shuffled order."""
    rig = rigs(mdts=1, faults=Faults(reorder_seed=seed))
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    assert ctrl.read(ns, 7, 300) == file_bytes(rig.image, 7 * 512, 300 * 512)
    qp = ctrl.io_queues[0]
    assert not qp.outstanding and not qp.done and qp.stray == 0


@pytest.mark.parametrize(
    ("skip", "nbytes"),
    [
        (0, None),
        (1, 1),
        (16 * 512 - 1, 2),  # the last byte of one command and the first of the next
        (511, 8 * 16 * 512 + 3),  # past a batch of 8 commands
        (300 * 512 - 5, None),
        (17, 300 * 512 - 17),
    ],
)
def test_a_read_returns_only_the_bytes_asked_for(
    rigs: Callable[..., Rig], skip: int, nbytes: int | None
) -> None:
    """MDTS 1 (16 blocks per command): a window of the 300 blocks, cut out of the bounce
    buffers of the commands and batches it spans, shuffled completions notwithstanding."""
    rig = rigs(mdts=1, faults=Faults(reorder_seed=4))
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    blocks = file_bytes(rig.image, 7 * 512, 300 * 512)
    want = blocks[skip:] if nbytes is None else blocks[skip : skip + nbytes]
    assert ctrl.read(ns, 7, 300, skip, nbytes) == want
    with pytest.raises(NvmeError, match=r"bytes 10\.\.153610 of a 153600-byte read"):
        ctrl.read(ns, 7, 300, 10, 300 * 512)  # past the blocks read: a bug, refused


def test_blocks_read_apart_come_back_in_the_order_asked(rigs: Callable[..., Rig]) -> None:
    """One Read per LBA, eleven of them (two batches), completed in a shuffled order."""
    rig = rigs(faults=Faults(reorder_seed=6))
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    lbas = [900, 3, 41, 40, 7, 512, 2, 1000, 8, 9, 3]
    got = ctrl.read_blocks_at(ns, lbas)
    assert got == b"".join(file_bytes(rig.image, lba * 512, 512) for lba in lbas)
    assert not ctrl.io_queues[0].outstanding


def test_writes_in_a_shuffled_batch_land_where_they_belong(
    rigs: Callable[..., Rig], tmp_path: Path
) -> None:
    image = make_image(tmp_path / "rw.img")
    rig = rigs(
        namespaces=[Namespace(image, read_only=False)], mdts=1, faults=Faults(reorder_seed=5)
    )
    ctrl = up(rig)
    ns = ctrl.identify_namespace(1)
    payload = bytes(range(256)) * 2 * 100  # 100 blocks: 7 commands
    ctrl.write(ns, 40, payload)
    ctrl.flush(ns)
    assert ctrl.read(ns, 40, 100) == payload
    assert file_bytes(image, 40 * 512, len(payload)) == payload


def test_several_queue_pairs_take_requests_in_turn(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = up(rig, queues=4)
    assert [qp.qid for qp in ctrl.io_queues] == [1, 2, 3, 4]
    ns = ctrl.identify_namespace(1)
    for lba in range(8):
        assert ctrl.read(ns, lba, 1)[:11] == f"LBA{lba:08d}".encode()
    assert all(qp.sq_tail == 2 for qp in ctrl.io_queues)  # two commands each


def test_the_controller_may_grant_fewer_queues(rigs: Callable[..., Rig]) -> None:
    rig = rigs(max_ioqpairs=2)
    ctrl = up(rig, queues=8)
    assert [qp.qid for qp in ctrl.io_queues] == [1, 2]


def test_commands_outstanding_up_to_the_queue_depth(rigs: Callable[..., Rig]) -> None:
    """Completions sit in the CQ until someone reaps them; each is filed under its CID."""
    rig = rigs(faults=Faults(reorder_seed=9))
    ctrl = up(rig, io_entries=8)
    ns = ctrl.identify_namespace(1)
    qp = ctrl.io_queues[0]
    bufs = ctrl.buffers.take(qp.capacity)
    cids = {}
    for lba, buf in enumerate(bufs):
        cmd = Command(NvmOpcode.READ, nsid=ns.nsid, prp1=buf.data.paddr, cdw10=lba)
        cids[qp.submit(cmd, f"read {lba}", ring=False)] = (lba, buf)
    assert qp.free_slots == 0
    with pytest.raises(ControllerTimeout, match="full"):
        qp.submit(Command(NvmOpcode.FLUSH, nsid=1), "one too many")
    qp.ring()
    assert qp.reap() == len(cids)
    assert list(qp.done) != list(cids)  # filed in the shuffled order they came
    done = qp.wait_all(reversed(list(cids)), "the batch")
    assert set(done) == set(cids) and qp.free_slots == qp.capacity
    for lba, buf in cids.values():
        assert buf.data.read(0, 11) == f"LBA{lba:08d}".encode()


def test_a_swallowed_batch_times_out_and_its_buffers_are_never_reused(
    rigs: Callable[..., Rig],
) -> None:
    rig = rigs(mdts=1)
    ctrl = up(rig, timeout_s=0.2)
    ns = ctrl.identify_namespace(1)
    rig.ctrl.faults.swallow = True
    with pytest.raises(ControllerTimeout, match=r"no completion within 0\.2 s"):
        ctrl.read(ns, 0, 64)  # 4 commands in one batch
    qp = ctrl.io_queues[0]
    assert len(qp.abandoned) == 4 and ctrl.buffers.lost == 4 and not ctrl.buffers.free


def test_a_late_completion_of_an_abandoned_command_is_dropped(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = up(rig)
    qp = ctrl.io_queues[0]
    cid = qp.submit(Command(NvmOpcode.FLUSH, nsid=1), "flush", ring=False)
    qp.abandon([cid])
    qp.ring()
    assert qp.reap() == 1
    assert not qp.outstanding and not qp.done and not qp.abandoned


def test_a_stray_completion_among_others_lets_the_rest_complete(rigs: Callable[..., Rig]) -> None:
    """A corrupted CID cannot be told apart while other commands are outstanding: it is
    counted, the others complete, and only the command it answered times out."""
    rig = rigs(faults=Faults(), mdts=1)
    ctrl = up(rig, timeout_s=0.2)
    ns = ctrl.identify_namespace(1)
    qp = ctrl.io_queues[0]
    first = qp.submit(Command(NvmOpcode.FLUSH, nsid=ns.nsid), "first")
    rig.ctrl.faults.wrong_cid = 1
    second = qp.submit(Command(NvmOpcode.FLUSH, nsid=ns.nsid), "second")
    assert qp.wait(first, "first").status_field.ok
    with pytest.raises(ControllerTimeout, match="1 completion"):
        qp.wait(second, "second")
    assert qp.stray == 1


def test_an_empty_pool_waits_then_times_out(rigs: Callable[..., Rig]) -> None:
    rig = rigs()
    ctrl = up(rig, timeout_s=0.1, buffers=1)
    ns = ctrl.identify_namespace(1)
    held = ctrl.buffers.take(1)
    with pytest.raises(ControllerTimeout, match="no free bounce buffer"):
        ctrl.read(ns, 0, 1)
    ctrl.buffers.give(held)
    assert ctrl.read(ns, 0, 1)[:11] == b"LBA00000000"


def test_bounce_pool_grows_to_its_limit() -> None:
    made: list[int] = []

    class Mem:
        def __init__(self, size: int) -> None:
            self.paddr, self.length = 0x1000 * (len(made) + 1), size
            made.append(size)

        def read(self, off: int, size: int) -> bytes:
            return bytes(size)

        def write(self, off: int, data: bytes) -> None:
            pass

        def read16(self, off: int) -> int:
            return 0

    pool = BouncePool(Mem, 8192, limit=3)
    got = pool.take(5)
    assert len(got) == 3 and pool.take(1) == []
    pool.give(got[:1])
    assert pool.take(2) == got[:1]


def test_options() -> None:
    opts = parse_options(["devb-nvme", "queues=2", "-o", "poll,threads=4", "depth=8"])
    assert opts == Options(queues=2, threads=4, poll=True, depth=8)
    assert parse_options(["devb-nvme", "-o", "intx"]) == Options(intx=True)
    for bad in (
        ["x", f"queues={MAX_IO_QUEUES + 1}"],
        ["x", "threads=0"],
        ["x", "-o"],
        ["x", "poll=1"],
        ["x", "intx=0"],
    ):
        with pytest.raises(NvmeError):
            parse_options(bad)

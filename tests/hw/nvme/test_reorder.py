"""The model's seeded out-of-order completion (``reorder_seed``): a burst of I/O
commands made available by one doorbell completes in a shuffled order, each
completion still carrying its own command's CID, data and SQ head."""

from __future__ import annotations

from collections.abc import Callable

from qrv.spec.nvme import Command, NvmOpcode
from tests.hw.nvme.conftest import Rig, file_bytes

BURST = 12


def _burst(rig: Rig) -> tuple[list[int], dict[int, int]]:
    """Submit BURST one-block reads (LBA i into buffer i) with one doorbell; the
    CIDs in completion order and each CID's LBA."""
    host = rig.host
    lba_of: dict[int, int] = {}
    bufs: dict[int, int] = {}
    for lba in range(BURST):
        buf = host.buffer(512)
        cmd = Command(NvmOpcode.READ, nsid=1, prp1=buf, cdw10=lba)
        cid = host.submit(1, cmd, ring=False)
        lba_of[cid], bufs[cid] = lba, buf
    host.ring(1)
    order = []
    for _ in range(BURST):
        cqe = host.poll(1)
        assert cqe.status_field.ok and cqe.sqid == 1
        order.append(cqe.cid)
        lba = lba_of[cqe.cid]
        assert rig.space.read(bufs[cqe.cid], 512) == file_bytes(rig.image, lba * 512, 512)
    assert sorted(order) == sorted(lba_of)
    return order, lba_of


def _ready(factory: Callable[..., Rig], **args: object) -> Rig:
    rig = factory(**args)
    rig.host.setup_pci()
    rig.host.enable()
    rig.host.create_io_queues(1, sq_size=32, cq_size=32)
    return rig


def test_without_a_seed_a_burst_completes_in_submission_order(
    rig_factory: Callable[..., Rig],
) -> None:
    order, lba_of = _burst(_ready(rig_factory))
    assert [lba_of[c] for c in order] == list(range(BURST))


def test_a_seed_shuffles_a_burst_and_the_same_seed_shuffles_it_alike(
    rig_factory: Callable[..., Rig],
) -> None:
    first, lba_of = _burst(_ready(rig_factory, reorder_seed=7))
    again, lba_again = _burst(_ready(rig_factory, reorder_seed=7))
    lbas = [lba_of[c] for c in first]
    assert lbas != list(range(BURST))  # 12 items: the identity is one order in 479 million
    assert [lba_again[c] for c in again] == lbas


def test_admin_commands_stay_in_order_with_a_seed(rig_factory: Callable[..., Rig]) -> None:
    rig = _ready(rig_factory, reorder_seed=7)
    host = rig.host
    cids = [host.submit(0, Command(0x06, prp1=host.buffer(4096), cdw10=1), ring=False)]
    cids.append(host.submit(0, Command(0x06, prp1=host.buffer(4096), cdw10=1), ring=False))
    host.ring(0)
    assert [host.poll(0).cid for _ in cids] == cids

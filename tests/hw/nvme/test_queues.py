"""Queue mechanics (NVMe 1.4 §4.1, §4.6): wrap-around, phase inversion, SQHD, a full
completion queue, invalid doorbell writes and the doorbell stride."""

from __future__ import annotations

from collections.abc import Callable

from qrv.spec.nvme import AdminOpcode, Command, FeatureId, NvmOpcode, cq_head_doorbell
from tests.hw.nvme.conftest import Rig
from tests.hw.nvme.test_admin import OK, status
from tests.hw.nvme.test_io import sector


def test_admin_wrap_and_phase(rig: Rig) -> None:
    h = rig.host
    h.enable(entries=4)
    raw = h.bus.read
    phases = []
    for i in range(40):
        cid = h.submit(0, Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES))
        slot = h.queues[0].cq_head
        cqe = h.poll(0)
        assert (cqe.cid, cqe.sqid, cqe.sqhd) == (cid, 0, (i + 1) % 4)
        assert status(cqe) == OK
        phases.append(raw(h.queues[0].cq_base + slot * 16 + 14, 2)[0] & 1)
    # the phase tag is 1 on the first pass through the 4 entries and inverts on each pass
    assert phases[:8] == [1, 1, 1, 1, 0, 0, 0, 0]


def test_io_wrap_many_reads(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(512)
    h.queues.pop(1)
    h.create_io_queues(2, sq_size=3, cq_size=5)
    for i in range(60):
        cqe = h.rw(NvmOpcode.READ, 2, 1, i, 1, buf, 512)
        assert status(cqe) == OK and cqe.sqid == 2 and cqe.sqhd == (i + 1) % 3
        assert h.bus.read(buf, 512) == sector(i)


def test_full_completion_queue_defers_posting(ready: Rig) -> None:
    h = ready.host
    h.create_io_queues(3, sq_size=16, cq_size=4)  # room for 3 completions
    cids = [h.submit(3, Command(NvmOpcode.FLUSH, nsid=1), ring=False) for _ in range(10)]
    h.ring(3)
    got = [h.poll(3, ack=False).cid for _ in range(3)]
    assert h.peek(3) is None  # the CQ is full: nothing overwritten, nothing more posted
    while len(got) < 10:
        h.ack(3)  # each head doorbell frees slots; the controller resumes
        got.append(h.poll(3, ack=False).cid)
    h.ack(3)
    assert got == cids


def test_invalid_doorbells_are_ignored(ready: Rig) -> None:
    h = ready.host
    h.write32(0x1000 + 8 * 40, 1)  # SQ 40 does not exist
    h.write32(0x1000 + 8 * 200, 1)  # beyond the supported queues
    h.write32(0x1000 + 8 * 1, 99)  # beyond SQ 1's size: no command is fetched
    assert h.peek(1) is None
    h.write32(cq_head_doorbell(1, 0), 5)  # releases entries never posted
    h.bus.store(h.bar0 + 0x1002, 2, 1)  # not a 32-bit doorbell write
    # the queues still work afterwards
    buf = h.buffer(512)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 7, 1, buf, 512)) == OK
    assert h.bus.read(buf, 512) == sector(7)


def test_doorbell_stride(rig_factory: Callable[..., Rig]) -> None:
    r = rig_factory(dstrd=2)
    h = r.host
    h.setup_pci()
    assert h.cap.dstrd == 2
    h.enable()
    h.create_io_queues(1)
    buf = h.buffer(512)
    assert status(h.rw(NvmOpcode.READ, 1, 1, 3, 1, buf, 512)) == OK
    assert h.bus.read(buf, 512) == sector(3)

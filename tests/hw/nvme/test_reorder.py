"""Out-of-order completion (``Faults.reorder_seed``, as QEMU completes a fetched burst in
its own order) and a controller that raises no interrupt (``Faults.no_interrupts``)."""

from __future__ import annotations

from collections.abc import Callable

from qrv.hw.nvme.state import Faults
from qrv.spec.nvme import Command, NvmOpcode, Reg
from tests.hw.nvme.conftest import Rig

BURST = 12


def burst(rig: Rig) -> list[tuple[int, bytes]]:
    """BURST one-sector reads of LBAs 0.. rung with one doorbell: (CID, data) as completed."""
    h = rig.host
    h.setup_pci()
    h.enable()
    h.create_io_queues(1, sq_size=32, cq_size=32)
    bufs: dict[int, int] = {}
    for lba in range(BURST):
        buf = h.buffer(4096)
        cid = h.submit(1, Command(NvmOpcode.READ, nsid=1, prp1=buf, cdw10=lba), ring=False)
        bufs[cid] = buf
    h.ring(1)
    out = []
    for _ in range(BURST):
        cqe = h.poll(1)
        assert cqe.status >> 1 == 0
        out.append((cqe.cid, h.bus.read(bufs[cqe.cid], 11)))
    return out


def test_in_order_without_a_seed(rig_factory: Callable[..., Rig]) -> None:
    got = burst(rig_factory())
    assert [cid for cid, _ in got] == sorted(cid for cid, _ in got)


def test_a_seed_completes_the_burst_out_of_order_and_alike_each_time(
    rig_factory: Callable[..., Rig],
) -> None:
    first = burst(rig_factory(faults=Faults(reorder_seed=7)))
    again = burst(rig_factory(faults=Faults(reorder_seed=7)))
    other = burst(rig_factory(faults=Faults(reorder_seed=8)))
    cids = [cid for cid, _ in first]
    assert cids != sorted(cids) and sorted(cids) == list(range(BURST))
    assert first == again and [c for c, _ in other] != cids
    for cid, data in first:  # each CID's buffer holds its own LBA
        assert data == f"LBA{cid:08d}".encode()


def test_no_interrupts_keeps_intx_low(rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(faults=Faults(no_interrupts=True))
    wire: list[bool] = []
    rig.ctrl.intx = wire.append
    rig.host.setup_pci()
    rig.host.enable()
    rig.host.submit(0, Command(0x06, prp1=rig.host.buffer(4096), cdw10=1))
    rig.host.poll(0, ack=False)
    assert not rig.ctrl.intx_asserted and wire == []
    rig.ctrl.faults.no_interrupts = False
    rig.host.write32(Reg.INTMC, 0)  # any register write: the level is computed again
    assert rig.ctrl.intx_asserted and wire == [True]

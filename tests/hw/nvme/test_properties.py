"""Hypothesis: random command streams and register writes never raise out of the model,
and afterwards the controller still completes a valid Identify."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.spec.nvme import AdminOpcode, Cns, Command, IdentifyController, QueueField
from tests.hw.nvme.conftest import RAM_BASE, RAM_SIZE, Rig
from tests.hw.nvme.test_admin import OK, status

SCRATCH = RAM_BASE + RAM_SIZE // 2  # data area away from the host's queues
U32 = st.integers(0, 0xFFFF_FFFF)
PRP = st.sampled_from(
    [0, 0x1000, SCRATCH, SCRATCH + 0x1000, SCRATCH + 0x204, SCRATCH + 3, RAM_BASE + RAM_SIZE]
)
NSID = st.sampled_from([0, 1, 2, 0x100, 0xFFFF_FFFF]) | U32
DELETES = (AdminOpcode.DELETE_IO_SQ, AdminOpcode.DELETE_IO_CQ)


@st.composite
def commands(draw: st.DrawFn) -> tuple[int, Command]:
    qid = draw(st.sampled_from([0, 1]))
    opc = draw(st.integers(0, 0xFF) | st.sampled_from([0, 1, 2, 4, 5, 6, 8, 9, 10]))
    if qid == 0 and opc == AdminOpcode.ASYNC_EVENT_REQUEST:
        opc = AdminOpcode.GET_FEATURES  # an AER would only complete on an event
    cdw10 = draw(U32 | st.integers(0, 0x20))
    if qid == 0 and opc in DELETES and QueueField.QID.get(cdw10) == 1:
        cdw10 += 1  # keep the stream's own I/O queue pair
    prp1, prp2 = draw(PRP), draw(PRP)
    mdts_nlb = st.integers(0, 0x3FF)
    return qid, Command(
        opc,
        flags=draw(st.sampled_from([0, 0, 0, 1, 0x40])),
        nsid=draw(NSID),
        prp1=prp1,
        prp2=prp2,
        cdw10=cdw10,
        cdw11=draw(U32 | st.integers(0, 0x10)),
        cdw12=draw(U32 | mdts_nlb),
        cdw13=draw(U32),
    )


def identify_works(r: Rig) -> None:
    cqe, data = r.host.identify(Cns.CONTROLLER)
    assert status(cqe) == OK
    assert IdentifyController.unpack(data).vid == 0x1B36


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(stream=st.lists(commands(), max_size=25))
def test_random_command_streams(
    rig_factory: Callable[..., Rig], stream: list[tuple[int, Command]]
) -> None:
    r = rig_factory()
    h = r.host
    h.setup_pci()
    h.enable()
    h.create_io_queues(1)
    for qid, cmd in stream:
        h.command(qid, cmd)  # every command completes (the host times out otherwise)
    identify_works(r)
    r.ctrl.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 0x3FFF), st.sampled_from([1, 2, 4, 8]), st.integers(0, 2**64 - 1)),
        max_size=30,
    )
)
def test_random_register_writes(
    rig_factory: Callable[..., Rig], writes: list[tuple[int, int, int]]
) -> None:
    r = rig_factory()
    h = r.host
    h.setup_pci()
    h.enable()
    for offset, width, value in writes:
        aligned = offset - offset % width
        h.bus.store(h.bar0 + aligned, width, value)
        h.bus.load(h.bar0 + aligned, width)
    h.enable()  # a reset recovers whatever the writes did
    identify_works(r)
    r.ctrl.close()

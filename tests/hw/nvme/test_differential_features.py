"""Differential tests: features, SMART / Health and asynchronous events, built-in model
against QEMU 7.2 (fixture `hosts` of test_differential.py).

Each expected value comes from the NVMe Base Specification 1.4 (section cited per test)
and both machines must give it; where QEMU departs from the spec the test is
xfail(strict=True, raises=QemuDeviation) and the model is still held to the spec.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qrv.spec.nvme import (
    AdminOpcode,
    Cns,
    Command,
    Completion,
    FeatureId,
    IdentifyNamespace,
    LogPage,
    NvmOpcode,
    SmartLog,
    async_event_dw0,
    cq_head_doorbell,
    sq_tail_doorbell,
)
from tests.hw.nvme.host import NvmeHost
from tests.hw.nvme.test_differential import Pair, hosts, qemu_machine

__all__ = ["hosts", "qemu_machine"]  # fixtures used here

pytestmark = pytest.mark.qemu

PAGE = 4096
COMPOSITE_K = 323  # both controllers report 50 degrees C
DEFAULT_OVER_K = 343  # WCTEMP on both
UNDER = 1 << 20  # TMPTH THSEL = 01b: the under temperature threshold
TEMPERATURE_AEC = 1 << 1  # Asynchronous Event Configuration: temperature critical warning
SMART_TEMPERATURE_EVENT = 0x0002_0101  # SMART / Health, temperature threshold, log 02h
DULBE = 1 << 16
NSFEAT_DULBE = 1 << 2
RESERVED_HIGH_BITS = 0x0001_0000
BROADCAST = 0xFFFF_FFFF


@pytest.fixture(autouse=True)
def default_features(hosts: Pair) -> Iterator[None]:
    """QEMU keeps feature values across the controller reset each test starts with (a
    deviation, test_differential_deviations.py): put back what these tests change."""
    yield
    for h in (hosts.model, hosts.qemu):
        set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, 0)
        set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, DEFAULT_OVER_K)
        set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, UNDER | 0)
        set_feature(h, FeatureId.ERROR_RECOVERY, 0, nsid=BROADCAST)


def get_feature(h: NvmeHost, fid: int, *, nsid: int = 0, sel: int = 0) -> Completion:
    return h.admin(Command(AdminOpcode.GET_FEATURES, nsid=nsid, cdw10=fid | sel << 8))


def set_feature(h: NvmeHost, fid: int, cdw11: int, *, nsid: int = 0) -> Completion:
    return h.admin(Command(AdminOpcode.SET_FEATURES, nsid=nsid, cdw10=fid, cdw11=cdw11))


def get_log(h: NvmeHost, lid: int, *, rae: bool = False, nsid: int = BROADCAST) -> Command:
    numd = 512 // 4 - 1
    cdw10 = lid | int(rae) << 15 | numd << 16
    return Command(AdminOpcode.GET_LOG_PAGE, nsid=nsid, prp1=h.buffer(PAGE), cdw10=cdw10)


def smart_warning(h: NvmeHost) -> int:
    cmd = get_log(h, LogPage.SMART_HEALTH, rae=True)
    assert h.admin(cmd).status_field.ok
    return SmartLog.unpack(h.bus.read(cmd.prp1, 512)).critical_warning


def completions(h: NvmeHost, count: int) -> dict[int, tuple[int, int]]:
    """The next `count` admin completions by CID: (status, DW0).  The order of an AER's
    completion and the command that raised its event is not specified."""
    out = {}
    for _ in range(count):
        cqe = h.poll(0)
        out[cqe.cid] = (cqe.status_field.encode(), cqe.dw0)
    return out


# -- Error Recovery (NVMe 1.4 Figure 271: mandatory; §5.21.1.5) ----------------------------


def test_error_recovery_get_set(hosts: Pair) -> None:
    """TLER is kept per namespace; FFFFFFFFh sets every namespace; SEL=011b says
    namespace specific and changeable; the default is 0."""

    def scenario(h: NvmeHost) -> list[tuple[int, int]]:
        steps = [
            set_feature(h, FeatureId.ERROR_RECOVERY, 0x33, nsid=1),
            get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1),
            set_feature(h, FeatureId.ERROR_RECOVERY, 0x44, nsid=BROADCAST),
            get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1),
            get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1, sel=1),
            get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1, sel=3),
        ]
        return [(c.status_field.encode(), c.dw0) for c in steps]

    assert hosts.same(scenario) == [(0, 0), (0, 0x33), (0, 0), (0, 0x44), (0, 0), (0, 0b110)]


def test_error_recovery_dulbe_as_the_namespace_allows(hosts: Pair) -> None:
    """DULBE is kept only where the namespace supports it (NSFEAT bit 2, Figure 245):
    QEMU's namespaces do, the model's do not."""

    def scenario(h: NvmeHost) -> bool:
        nsfeat = IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, 1)[1]).nsfeat
        assert set_feature(h, FeatureId.ERROR_RECOVERY, DULBE | 0x55, nsid=1).status_field.ok
        dw0 = get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1).dw0
        assert dw0 & 0xFFFF == 0x55
        return bool(dw0 & DULBE) == bool(nsfeat & NSFEAT_DULBE)

    assert hosts.both(scenario) == (True, True)


# -- SMART / Health temperature warning and event ------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "warning"),
    [(COMPOSITE_K, 2), (COMPOSITE_K + 1, 0), (UNDER | COMPOSITE_K, 2), (UNDER | 322, 0)],
    ids=["over-equal", "over-above", "under-equal", "under-below"],
)
def test_temperature_warning_at_the_threshold(hosts: Pair, threshold: int, warning: int) -> None:
    """Critical Warning bit 1: composite temperature >= the over threshold or <= the
    under threshold (NVMe 1.4 Figure 196)."""

    def scenario(h: NvmeHost) -> int:
        assert set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, threshold).status_field.ok
        return smart_warning(h)

    assert hosts.same(scenario) == warning


def test_temperature_event_completes_an_aer(hosts: Pair) -> None:
    """With AEC bit 1 set, crossing a threshold completes an outstanding AER with
    SMART / Health, temperature threshold, log 02h (§5.2 Figure 147, §5.21.1.11); the
    event type stays masked until the SMART log is read with RAE clear (§5.14.1)."""
    expected = async_event_dw0(1, 1, LogPage.SMART_HEALTH)
    assert expected == SMART_TEMPERATURE_EVENT

    def scenario(h: NvmeHost) -> list[object]:
        assert set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, TEMPERATURE_AEC).status_field.ok
        aer = h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
        idle = h.peek(0) is None
        setf = h.submit(
            0, Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.TEMPERATURE_THRESHOLD, cdw11=323)
        )
        first = completions(h, 2)
        steps: list[object] = [idle, first[aer], first[setf]]
        assert set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, 343).status_field.ok
        aer = h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
        assert set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, 323).status_field.ok
        steps.append(h.peek(0) is None)  # masked: the log has not been read
        assert smart_warning(h) == 2  # RAE set: still masked
        steps.append(h.peek(0) is None)
        log = h.submit(0, get_log(h, LogPage.SMART_HEALTH))
        second = completions(h, 2)
        steps += [second[aer], second[log]]
        return steps

    assert hosts.same(scenario) == [
        True,
        (0, SMART_TEMPERATURE_EVENT),
        (0, 0),
        True,
        True,
        (0, SMART_TEMPERATURE_EVENT),
        (0, 0),
    ]


# -- doorbells (NVMe 1.4 §3.1.24, §3.1.25) ---------------------------------------------------


def test_doorbell_reserved_bits_are_ignored(hosts: Pair) -> None:
    """Bits 31:16 of the SQ tail and CQ head doorbells are reserved: the controller uses
    bits 15:0 and raises no Invalid Doorbell Write Value event."""

    def scenario(h: NvmeHost) -> list[object]:
        aer = h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
        q = h.queues[1]
        h.submit(1, Command(NvmOpcode.FLUSH, nsid=1), ring=False)
        h.write32(sq_tail_doorbell(1, h.dstrd), q.sq_tail | RESERVED_HIGH_BITS)
        flush = h.poll(1, ack=False)
        h.write32(cq_head_doorbell(1, h.dstrd), q.cq_head | RESERVED_HIGH_BITS)
        again = h.command(1, Command(NvmOpcode.FLUSH, nsid=1))
        no_event = h.peek(0) is None
        # retire the AER with a real invalid doorbell write (SQ 9 does not exist)
        h.write32(sq_tail_doorbell(9, h.dstrd), 0)
        event = h.poll(0)
        return [
            flush.status_field.encode(),
            again.status_field.encode(),
            no_event,
            event.cid == aer,
            event.dw0,
        ]

    assert hosts.same(scenario) == [0, 0, True, True, 0x0001_0000]

"""Differential tests: status codes for invalid inputs, built-in model against QEMU 7.2.

Each case is one raw command on the admin queue or I/O queue 1 of a freshly
enabled controller (fixture `hosts` of test_differential.py).  The expected
(SCT, SC) comes from the NVMe Base Specification 1.4 (section cited per case);
model and QEMU must both return it, with the same DNR bit.  Where QEMU itself
departs from the spec the case is marked xfail(strict=True, raises=QemuDeviation)
with the reason, so only QEMU's departure is excused, never the model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from qrv.spec.nvme import (
    DSM_RANGE,
    AdminOpcode,
    Cns,
    Command,
    CommandSpecificStatus,
    DsmField,
    FeatureId,
    GenericStatus,
    NvmOpcode,
    QueueField,
    Sct,
)
from tests.hw.nvme.host import NvmeHost
from tests.hw.nvme.test_differential import NSZE, Pair, hosts, qemu_machine

__all__ = ["hosts", "qemu_machine"]  # fixtures used here

pytestmark = pytest.mark.qemu

PAGE = 4096
LBA = 512
MISSING_QID = 5  # neither model nor QEMU has queue 5 in these tests
BEYOND_MAX_QID = 0x1000  # more queues than either controller supports
UNUSED_CNS = 0x3F  # reserved in NVMe 1.4 Figure 244 and in 2.0
UNUSED_LID = 0x7F  # reserved log identifier (NVMe 1.4 Figure 191)
# Log ids the model does not support: reserved 00h, Device Self-test 06h, Persistent
# Event 0Dh, Reservation Notification 80h, vendor specific C0h
UNSUPPORTED_LIDS = (0x00, 0x06, 0x0D, 0x80, 0xC0)
RESERVED_FID = 0x00  # reserved feature identifier (NVMe 1.4 Figure 271)
INACTIVE_NSID = 2  # 1 < NSID <= NN, no namespace attached
BEYOND_NN = 0x1000  # above NN (256 on both)
BROADCAST = 0xFFFF_FFFF


class QemuDeviation(AssertionError):
    """QEMU's status differs from the spec's (the only failure an xfail may excuse)."""


Builder = Callable[[NvmeHost], Command]
Expect = tuple[int, int]


@dataclass(frozen=True)
class Case:
    qid: int
    build: Builder
    expect: Expect
    spec: str


def generic(sc: GenericStatus) -> Expect:
    return (Sct.GENERIC, int(sc))


def specific(sc: CommandSpecificStatus) -> Expect:
    return (Sct.COMMAND_SPECIFIC, int(sc))


INVALID_OPCODE = generic(GenericStatus.INVALID_OPCODE)
INVALID_FIELD = generic(GenericStatus.INVALID_FIELD)
INVALID_NS = generic(GenericStatus.INVALID_NAMESPACE_OR_FORMAT)
LBA_RANGE = generic(GenericStatus.LBA_OUT_OF_RANGE)
SEQUENCE = generic(GenericStatus.COMMAND_SEQUENCE_ERROR)
PRP_OFFSET = generic(GenericStatus.INVALID_PRP_OFFSET)
CQ_INVALID = specific(CommandSpecificStatus.COMPLETION_QUEUE_INVALID)
BAD_QID = specific(CommandSpecificStatus.INVALID_QUEUE_IDENTIFIER)
BAD_QSIZE = specific(CommandSpecificStatus.INVALID_QUEUE_SIZE)
BAD_VECTOR = specific(CommandSpecificStatus.INVALID_INTERRUPT_VECTOR)
BAD_LOG = specific(CommandSpecificStatus.INVALID_LOG_PAGE)
BAD_DELETION = specific(CommandSpecificStatus.INVALID_QUEUE_DELETION)


# -- command builders ----------------------------------------------------------------------


def raw(opc: int, **dwords: int) -> Builder:
    return lambda h: Command(opc, **dwords)


def identify(cns: int, nsid: int) -> Builder:
    def build(h: NvmeHost) -> Command:
        prp1, prp2 = h.contiguous(h.buffer(PAGE), PAGE)
        return Command(AdminOpcode.IDENTIFY, nsid=nsid, prp1=prp1, prp2=prp2, cdw10=cns)

    return build


def read(slba: int, nlb: int, nsid: int = 1, *, size: int | None = None) -> Builder:
    def build(h: NvmeHost) -> Command:
        length = size if size is not None else nlb * LBA
        prp1, prp2 = h.contiguous(h.buffer(length), length)
        return Command(
            NvmOpcode.READ,
            nsid=nsid,
            prp1=prp1,
            prp2=prp2,
            cdw10=slba & 0xFFFF_FFFF,
            cdw11=slba >> 32,
            cdw12=nlb - 1,
        )

    return build


def read_over_mdts(h: NvmeHost) -> Command:
    """One LBA more than MDTS allows (MDTS in CAP.MPSMIN pages, NVMe 1.4 Figure 247)."""
    ident = _identify_controller(h)
    limit = (1 << ident[77]) * PAGE
    nlb = limit // LBA + 1
    return read(0, nlb)(h)


def _identify_controller(h: NvmeHost) -> bytes:
    cqe, data = h.identify(Cns.CONTROLLER)
    assert cqe.status_field.ok
    return data


def read_bad_prp2(h: NvmeHost) -> Command:
    """Two pages of data with PRP2 not page aligned (NVMe 1.4 4.3: PRP2 offset must be 0)."""
    buf = h.buffer(2 * PAGE)
    return Command(NvmOpcode.READ, nsid=1, prp1=buf, prp2=buf + PAGE + 8, cdw12=2 * PAGE // LBA - 1)


def create_cq(qid: int, qsize: int = 16, *, pc: bool = True, iv: int | None = None) -> Builder:
    def build(h: NvmeHost) -> Command:
        base = h.buffer(max(qsize, 1) * 16)
        cdw11 = QueueField.PC.put(0, int(pc))
        if iv is not None:
            cdw11 = QueueField.IV.put(QueueField.IEN.put(cdw11, 1), iv)
        return Command(
            AdminOpcode.CREATE_IO_CQ,
            prp1=base,
            cdw10=QueueField.QSIZE.put(qid, qsize - 1),
            cdw11=cdw11,
        )

    return build


def create_sq(qid: int, cqid: int, qsize: int = 16, *, pc: bool = True) -> Builder:
    def build(h: NvmeHost) -> Command:
        base = h.buffer(max(qsize, 1) * 64)
        return Command(
            AdminOpcode.CREATE_IO_SQ,
            prp1=base,
            cdw10=QueueField.QSIZE.put(qid, qsize - 1),
            cdw11=QueueField.CQID.put(QueueField.PC.put(0, int(pc)), cqid),
        )

    return build


def get_log(lid: int, nsid: int = BROADCAST) -> Builder:
    def build(h: NvmeHost) -> Command:
        numd = 512 // 4 - 1
        return Command(
            AdminOpcode.GET_LOG_PAGE, nsid=nsid, prp1=h.buffer(PAGE), cdw10=lid | numd << 16
        )

    return build


def dsm_past_the_end(h: NvmeHost) -> Command:
    """Deallocate one range whose last 8 LBAs lie beyond NSZE."""
    ranges = h.buffer(PAGE)
    h.bus.write(ranges, DSM_RANGE.pack(0, 16, NSZE - 8))
    return Command(NvmOpcode.DATASET_MANAGEMENT, nsid=1, prp1=ranges, cdw11=DsmField.AD.mask)


MQES_PLUS_2 = 0x7FF + 2  # a 0's based QSIZE of MQES+1: one entry more than allowed

CASES: dict[str, Case] = {
    # Figure 127 "Invalid Command Opcode": reserved and unsupported vendor-specific opcodes.
    "admin-reserved-opcode": Case(0, raw(0x03), INVALID_OPCODE, "1.4 Fig 139"),
    "admin-vendor-opcode": Case(0, raw(0xC0), INVALID_OPCODE, "1.4 Fig 139"),
    "io-reserved-opcode": Case(1, raw(0x03, nsid=1), INVALID_OPCODE, "1.4 Fig 346"),
    "io-vendor-opcode": Case(1, raw(0x80, nsid=1), INVALID_OPCODE, "1.4 Fig 346"),
    # Identify (5.15)
    "identify-reserved-cns": Case(0, identify(UNUSED_CNS, 0), INVALID_FIELD, "1.4 5.15.1"),
    "identify-ns-nsid-0": Case(0, identify(Cns.NAMESPACE, 0), INVALID_NS, "1.4 6.1.5"),
    "identify-ns-beyond-nn": Case(0, identify(Cns.NAMESPACE, BEYOND_NN), INVALID_NS, "6.1.5"),
    "identify-list-fffffffe": Case(
        0, identify(Cns.ACTIVE_NAMESPACES, 0xFFFF_FFFE), INVALID_NS, "1.4 Fig 244 CNS 02h"
    ),
    "identify-list-broadcast": Case(
        0, identify(Cns.ACTIVE_NAMESPACES, BROADCAST), INVALID_NS, "1.4 Fig 244 CNS 02h"
    ),
    "identify-descriptors-nsid-0": Case(
        0, identify(Cns.NAMESPACE_DESCRIPTORS, 0), INVALID_NS, "1.4 6.1.5"
    ),
    "identify-descriptors-inactive": Case(
        0, identify(Cns.NAMESPACE_DESCRIPTORS, INACTIVE_NSID), INVALID_FIELD, "1.4 6.1.5"
    ),
    # Read (6.9): namespace, range and transfer checks
    "read-past-last-lba": Case(1, read(NSZE, 1), LBA_RANGE, "1.4 6.9 Fig 369"),
    "read-straddling-last-lba": Case(1, read(NSZE - 1, 2), LBA_RANGE, "1.4 6.9"),
    "read-huge-slba": Case(1, read(1 << 63, 1), LBA_RANGE, "1.4 6.9"),
    "read-nsid-0": Case(1, read(0, 1, nsid=0), INVALID_NS, "1.4 6.1.5"),
    "read-inactive-nsid": Case(1, read(0, 1, nsid=INACTIVE_NSID), INVALID_FIELD, "1.4 6.1.5"),
    "read-beyond-nn": Case(1, read(0, 1, nsid=BEYOND_NN), INVALID_NS, "1.4 6.1.5"),
    "read-over-mdts": Case(1, read_over_mdts, INVALID_FIELD, "1.4 Fig 247 MDTS"),
    "read-prp2-offset": Case(1, read_bad_prp2, PRP_OFFSET, "1.4 4.3"),
    # Create I/O Completion Queue (5.3)
    "create-cq-qid-0": Case(0, create_cq(0), BAD_QID, "1.4 5.3 Fig 149"),
    "create-cq-existing": Case(0, create_cq(1), BAD_QID, "1.4 5.3"),
    "create-cq-beyond-max": Case(0, create_cq(BEYOND_MAX_QID), BAD_QID, "1.4 5.3"),
    "create-cq-size-0": Case(0, create_cq(2, qsize=1), BAD_QSIZE, "1.4 5.3 (QSIZE 0)"),
    "create-cq-over-mqes": Case(0, create_cq(2, qsize=MQES_PLUS_2), BAD_QSIZE, "1.4 5.3"),
    "create-cq-not-contiguous": Case(0, create_cq(2, pc=False), INVALID_FIELD, "1.4 5.3 CQR"),
    "create-cq-bad-vector": Case(0, create_cq(2, iv=0x7FF), BAD_VECTOR, "1.4 5.3 Fig 149"),
    # Create I/O Submission Queue (5.4)
    "create-sq-missing-cq": Case(0, create_sq(2, MISSING_QID), CQ_INVALID, "1.4 5.4 Fig 153"),
    "create-sq-admin-cq": Case(0, create_sq(2, 0), CQ_INVALID, "1.4 5.4"),
    "create-sq-qid-0": Case(0, create_sq(0, 1), BAD_QID, "1.4 5.4"),
    "create-sq-existing": Case(0, create_sq(1, 1), BAD_QID, "1.4 5.4"),
    "create-sq-beyond-max": Case(0, create_sq(BEYOND_MAX_QID, 1), BAD_QID, "1.4 5.4"),
    "create-sq-size-0": Case(0, create_sq(2, 1, qsize=1), BAD_QSIZE, "1.4 5.4"),
    "create-sq-over-mqes": Case(0, create_sq(2, 1, qsize=MQES_PLUS_2), BAD_QSIZE, "1.4 5.4"),
    "create-sq-not-contiguous": Case(0, create_sq(2, 1, pc=False), INVALID_FIELD, "1.4 5.4"),
    # Delete I/O queues (5.5, 5.6)
    "delete-sq-missing": Case(
        0, raw(AdminOpcode.DELETE_IO_SQ, cdw10=MISSING_QID), BAD_QID, "1.4 5.6 Fig 157"
    ),
    "delete-sq-admin": Case(0, raw(AdminOpcode.DELETE_IO_SQ, cdw10=0), BAD_QID, "1.4 5.6"),
    "delete-cq-missing": Case(
        0, raw(AdminOpcode.DELETE_IO_CQ, cdw10=MISSING_QID), BAD_QID, "1.4 5.5 Fig 155"
    ),
    "delete-cq-admin": Case(0, raw(AdminOpcode.DELETE_IO_CQ, cdw10=0), BAD_QID, "1.4 5.5"),
    "delete-cq-with-sq": Case(
        0, raw(AdminOpcode.DELETE_IO_CQ, cdw10=1), BAD_DELETION, "1.4 5.5 Fig 155"
    ),
    # Get Log Page (5.14), Features (5.9, 5.21)
    "get-log-reserved-lid": Case(0, get_log(UNUSED_LID), BAD_LOG, "1.4 5.14 Fig 190"),
    **{
        f"get-log-unsupported-{lid:02x}h": Case(0, get_log(lid), BAD_LOG, "1.4 5.14 Fig 190")
        for lid in UNSUPPORTED_LIDS
    },
    "get-features-sel-4": Case(
        0,
        raw(AdminOpcode.GET_FEATURES, cdw10=FeatureId.VOLATILE_WRITE_CACHE | 4 << 8),
        INVALID_FIELD,
        "1.4 Fig 269 (SEL 100b reserved)",
    ),
    "get-temperature-tmpsel-all": Case(
        0,
        raw(AdminOpcode.GET_FEATURES, cdw10=FeatureId.TEMPERATURE_THRESHOLD, cdw11=0xF << 16),
        INVALID_FIELD,
        "1.4 Fig 283 (TMPSEL 1111b: Set only)",
    ),
    "dsm-range-past-end": Case(1, dsm_past_the_end, LBA_RANGE, "1.4 6.7, Fig 128"),
    "get-features-reserved-fid": Case(
        0, raw(AdminOpcode.GET_FEATURES, cdw10=RESERVED_FID), INVALID_FIELD, "1.4 5.9"
    ),
    # Error Recovery is namespace specific (1.4 Figure 271): Get names one active namespace
    "get-error-recovery-nsid-0": Case(
        0, raw(AdminOpcode.GET_FEATURES, cdw10=FeatureId.ERROR_RECOVERY), INVALID_NS, "1.4 5.9"
    ),
    "get-error-recovery-broadcast": Case(
        0,
        raw(AdminOpcode.GET_FEATURES, nsid=BROADCAST, cdw10=FeatureId.ERROR_RECOVERY),
        INVALID_NS,
        "1.4 5.9",
    ),
    "get-error-recovery-inactive": Case(
        0,
        raw(AdminOpcode.GET_FEATURES, nsid=INACTIVE_NSID, cdw10=FeatureId.ERROR_RECOVERY),
        INVALID_FIELD,
        "1.4 6.1.5",
    ),
    "set-error-recovery-nsid-0": Case(
        0, raw(AdminOpcode.SET_FEATURES, cdw10=FeatureId.ERROR_RECOVERY), INVALID_NS, "1.4 5.21"
    ),
    "set-error-recovery-inactive": Case(
        0,
        raw(AdminOpcode.SET_FEATURES, nsid=INACTIVE_NSID, cdw10=FeatureId.ERROR_RECOVERY),
        INVALID_FIELD,
        "1.4 6.1.5",
    ),
    "set-queues-after-creation": Case(
        0,
        raw(AdminOpcode.SET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES, cdw11=0x0001_0001),
        SEQUENCE,
        "1.4 5.21.1.7",
    ),
}

# Cases where QEMU 7.2 itself departs from the spec (reason = what QEMU does and why).
_DEL_CQ = (
    "QEMU 7.2 nvme_del_cq answers an invalid CQ id with Completion Queue Invalid (SCT 1 SC 00h); "
    "NVMe 1.4 5.5 Figure 155 gives Invalid Queue Identifier (01h), also for the admin CQ id"
)
_UNKNOWN_LOG = (
    "QEMU 7.2 nvme_get_log answers an unknown log id with Invalid Field in Command; "
    "NVMe 1.4 5.14 Figure 190 gives Invalid Log Page (SCT 1 SC 09h), also for reserved ids"
)
QEMU_DEVIATIONS: dict[str, str] = {
    "delete-cq-missing": _DEL_CQ,
    "delete-cq-admin": _DEL_CQ,
    "get-log-reserved-lid": _UNKNOWN_LOG,
    **{f"get-log-unsupported-{lid:02x}h": _UNKNOWN_LOG for lid in UNSUPPORTED_LIDS},
    "get-features-sel-4": (
        "QEMU 7.2 answers Get Features with the reserved SEL 100b as if it were 000b "
        "(current); NVMe 1.4 Figure 269 reserves it: Invalid Field in Command"
    ),
    "get-temperature-tmpsel-all": (
        "QEMU 7.2 answers Get Features Temperature Threshold with TMPSEL 1111b (all "
        "sensors) with 0; NVMe 1.4 Figure 283 allows 1111b for Set Features only"
    ),
    "dsm-range-past-end": (
        "QEMU 7.2 nvme_dsm skips a range past NSZE and completes successfully; NVMe 1.4 "
        "Figure 128 LBA Out of Range for a command referencing LBAs past the namespace"
    ),
}

# Inputs where the spec text is not specific enough to call one answer right; model and
# QEMU must still agree.  Read with NSID FFFFFFFFh: both answer Invalid Field in Command
# (QEMU treats the broadcast NSID as a valid, inactive one for commands that reject it).
AGREE_ONLY: dict[str, Case] = {
    "read-broadcast-nsid": Case(1, read(0, 1, nsid=BROADCAST), INVALID_FIELD, "1.4 6.1.5"),
}


def params() -> list[object]:
    out: list[object] = []
    for name in CASES:
        marks = []
        if name in QEMU_DEVIATIONS:
            marks.append(
                pytest.mark.xfail(strict=True, raises=QemuDeviation, reason=QEMU_DEVIATIONS[name])
            )
        out.append(pytest.param(name, id=name, marks=marks))
    return out


def status(h: NvmeHost, case: Case) -> tuple[int, int, bool]:
    cqe = h.command(case.qid, case.build(h))
    s = cqe.status_field
    return s.sct, s.sc, s.dnr


@pytest.mark.parametrize("name", params())
def test_status_for_invalid_input(hosts: Pair, name: str) -> None:
    case = CASES[name]
    model, qemu = hosts.both(lambda h: status(h, case))
    assert model[:2] == case.expect, (
        f"model: (sct, sc) {model[:2]} where NVMe {case.spec} gives {case.expect} "
        f"(QEMU: {qemu[:2]})"
    )
    if qemu[:2] != case.expect:
        raise QemuDeviation(
            f"QEMU: (sct, sc) {qemu[:2]} where NVMe {case.spec} gives {case.expect}"
        )
    assert model[2] == qemu[2], f"DNR: model {model[2]}, QEMU {qemu[2]}"


@pytest.mark.parametrize("name", list(AGREE_ONLY))
def test_status_agrees(hosts: Pair, name: str) -> None:
    case = AGREE_ONLY[name]
    assert hosts.same(lambda h: status(h, case))[:2] == case.expect


# -- successful commands whose results both must agree on ------------------------------------


def test_get_features_number_of_queues(hosts: Pair) -> None:
    """DW0 = NCQA/NSQA, 0's based (NVMe 1.4 5.21.1.7)."""

    def scenario(h: NvmeHost) -> tuple[int, int]:
        cqe = h.admin(Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES))
        return cqe.status_field.encode(), cqe.dw0

    status_code, dw0 = hosts.same(scenario)
    assert status_code == 0
    assert dw0 & 0xFFFF == dw0 >> 16


def test_abort_of_an_unknown_command_is_not_aborted(hosts: Pair) -> None:
    """Abort succeeds; DW0 bit 0 = 1 means the command was not aborted (NVMe 1.4 5.1)."""

    def scenario(h: NvmeHost) -> tuple[int, int]:
        cqe = h.admin(Command(AdminOpcode.ABORT, cdw10=1 | 0xBEEF << 16))
        return cqe.status_field.encode(), cqe.dw0 & 1

    assert hosts.same(scenario) == (0, 1)


@pytest.mark.parametrize("lid", [0x01, 0x02, 0x03])
def test_mandatory_log_pages_succeed(hosts: Pair, lid: int) -> None:
    """Error Information, SMART / Health and Firmware Slot are mandatory (NVMe 1.4 5.14.1)."""

    def scenario(h: NvmeHost) -> int:
        return h.admin(get_log(lid)(h)).status_field.encode()

    assert hosts.same(scenario) == 0


def test_queue_pair_create_and_delete(hosts: Pair) -> None:
    """Create CQ+SQ 2, delete SQ then CQ (NVMe 1.4 7.6.1/7.6.3): all succeed, and
    deleting again reports the queue as invalid."""

    def scenario(h: NvmeHost) -> list[int]:
        steps = [
            create_cq(2)(h),
            create_sq(2, 2)(h),
            Command(AdminOpcode.DELETE_IO_SQ, cdw10=2),
            Command(AdminOpcode.DELETE_IO_CQ, cdw10=2),
            Command(AdminOpcode.DELETE_IO_SQ, cdw10=2),
        ]
        return [h.admin(cmd).status_field.encode() for cmd in steps]

    statuses = hosts.same(scenario)
    assert statuses[:4] == [0, 0, 0, 0]
    assert statuses[4] & 0x7FF == Sct.COMMAND_SPECIFIC << 8 | BAD_QID[1]


ONCS_OPCODES = {  # NVMe 1.4 Figure 247 ONCS bit -> the optional NVM command it announces
    0: NvmOpcode.COMPARE,
    1: NvmOpcode.WRITE_UNCORRECTABLE,
    2: NvmOpcode.DATASET_MANAGEMENT,
    3: NvmOpcode.WRITE_ZEROES,
    7: NvmOpcode.VERIFY,
    8: NvmOpcode.COPY,
}


@pytest.mark.parametrize(
    "machine",
    [
        "model",
        pytest.param(
            "qemu",
            marks=pytest.mark.xfail(
                strict=True,
                raises=QemuDeviation,
                reason="QEMU 7.2 executes Verify (0Ch) but leaves ONCS bit 7 clear, which "
                "announces that Verify is not supported (NVMe 1.4 Figure 247)",
            ),
        ),
    ],
)
def test_oncs_matches_the_optional_commands_accepted(hosts: Pair, machine: str) -> None:
    """A controller accepts exactly the optional NVM commands its ONCS announces (an
    unannounced one is Invalid Command Opcode).  Per machine: which optional commands
    exist is each controller's choice."""
    h = hosts.model if machine == "model" else hosts.qemu
    oncs = int.from_bytes(_identify_controller(h)[520:522], "little")
    buf = h.buffer(PAGE)
    wrong = []
    for bit, opc in ONCS_OPCODES.items():
        s = h.command(1, Command(opc, nsid=1, prp1=buf, cdw10=NSZE - 1)).status_field
        announced, rejected = bool(oncs >> bit & 1), (s.sct, s.sc) == INVALID_OPCODE
        if announced == rejected:
            wrong.append(f"{opc.name}: ONCS bit {bit}={int(announced)}, status {s}")
    if wrong:
        error = QemuDeviation if machine == "qemu" else AssertionError
        raise error(f"{machine}: ONCS and the accepted commands disagree: {wrong}")

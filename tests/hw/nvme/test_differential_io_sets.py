"""Differential tests: SGL data pointers, Timestamp, per-namespace SMART / Health, the
Changed Namespace List and Commands Supported and Effects logs, and Identify CNS
05h-07h/1Ch, built-in model against QEMU 7.2 (fixture `hosts` of test_differential.py).

Expected values come from NVMe 1.4 (NVMe 2.0 for CNS 05h-07h/1Ch); QEMU's departures
are strict xfails raising QemuDeviation, and the model is held to the spec in the same
run.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from qrv.spec.nvme import (
    AdminOpcode,
    Cns,
    Command,
    FeatureId,
    IdentifyController,
    LogPage,
    NvmOpcode,
    SmartLog,
)
from tests.hw.nvme.host import (
    SGL_BIT_BUCKET,
    SGL_DATA_BLOCK,
    SGL_LAST_SEGMENT,
    SGL_SEGMENT,
    NvmeHost,
    sgl_command,
    sgl_descriptor,
)
from tests.hw.nvme.test_differential import Pair, hosts, qemu_machine
from tests.hw.nvme.test_differential_status import QemuDeviation

__all__ = ["hosts", "qemu_machine"]  # fixtures used here

pytestmark = pytest.mark.qemu

PAGE = 4096
LBA = 512
BROADCAST = 0xFFFF_FFFF
OAES_NAMESPACE_ATTRIBUTE = 1 << 8
LPA_SMART_PER_NAMESPACE = 1 << 0
ONCS_TIMESTAMP = 1 << 6
CSUPP, LBCC = 1 << 0, 1 << 1
TIMESTAMP_SET = 0x12_3456_789A
ORIGIN_SET = 0b001 << 1  # byte 6 of the Timestamp: origin 001b, Synch 0
CSI_NVM = 0x00
CSI_KEY_VALUE = 0x01  # an I/O command set neither controller implements


def sector(lba: int) -> bytes:
    return f"LBA{lba:08d}".encode().ljust(LBA, b".")


def identify_controller(h: NvmeHost) -> IdentifyController:
    return IdentifyController.unpack(h.identify(Cns.CONTROLLER)[1])


def get_log(h: NvmeHost, lid: int, size: int, *, nsid: int = BROADCAST) -> tuple[int, bytes]:
    buf = h.buffer(size)
    prp1, prp2 = h.contiguous(buf, size)
    cdw10 = lid | (size // 4 - 1) << 16
    cqe = h.admin(Command(AdminOpcode.GET_LOG_PAGE, nsid=nsid, prp1=prp1, prp2=prp2, cdw10=cdw10))
    return cqe.status_field.encode(), h.bus.read(buf, size)


def deviation(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=QemuDeviation, reason=reason)


# -- SGLs (NVMe 1.4 4.4) ---------------------------------------------------------------------


def test_both_announce_sgls(hosts: Pair) -> None:
    """SGLS bits 1:0 = 01b: SGLs supported, no alignment (Figure 247)."""
    assert hosts.same(lambda h: identify_controller(h).sgls & 0b11) == 1


def test_sgl_reads(hosts: Pair) -> None:
    """A Data Block in the SQE, a Last Segment, a Segment chained to a Last Segment: the
    same image bytes land at the same unaligned addresses."""

    def scenario(h: NvmeHost) -> list[object]:
        out: list[object] = []
        buf = h.buffer(2 * PAGE) + 12
        c = h.command(
            1, sgl_command(NvmOpcode.READ, sgl_descriptor(buf, 2 * LBA, 0), slba=3, nlb=2)
        )
        out += [c.status_field.encode(), h.bus.read(buf, 2 * LBA) == sector(3) + sector(4)]
        b1, b2, seg, last = (h.buffer(PAGE) for _ in range(4))
        h.bus.write(
            seg, sgl_descriptor(b1 + 7, LBA, 0) + sgl_descriptor(last, 16, SGL_LAST_SEGMENT)
        )
        h.bus.write(last, sgl_descriptor(b2 + 300, LBA, SGL_DATA_BLOCK))
        first = sgl_descriptor(seg, 32, SGL_SEGMENT)
        c = h.command(1, sgl_command(NvmOpcode.READ, first, slba=20, nlb=2))
        got = h.bus.read(b1 + 7, LBA) + h.bus.read(b2 + 300, LBA)
        out += [c.status_field.encode(), got == sector(20) + sector(21)]
        return out

    assert hosts.same(scenario) == [0, True, 0, True]


SGL_CASES: dict[str, tuple[Callable[[NvmeHost], bytes], tuple[int, int]]] = {}


def _case(name: str, expected: tuple[int, int]) -> Callable[..., Callable[[NvmeHost], bytes]]:
    def register(build: Callable[[NvmeHost], bytes]) -> Callable[[NvmeHost], bytes]:
        SGL_CASES[name] = (build, expected)
        return build

    return register


@_case("data-block-too-short", (0, 0x0F))
def _too_short(h: NvmeHost) -> bytes:
    return sgl_descriptor(h.buffer(PAGE), LBA - 16, SGL_DATA_BLOCK)


@_case("data-block-too-long", (0, 0x0F))
def _too_long(h: NvmeHost) -> bytes:
    return sgl_descriptor(h.buffer(PAGE), LBA + 16, SGL_DATA_BLOCK)


@_case("segment-length-not-16", (0, 0x0D))
def _segment_24(h: NvmeHost) -> bytes:
    return sgl_descriptor(h.buffer(PAGE), 24, SGL_LAST_SEGMENT)


@_case("segment-in-last-segment", (0, 0x0D))
def _segment_in_last(h: NvmeHost) -> bytes:
    seg, b = h.buffer(PAGE), h.buffer(PAGE)
    h.bus.write(seg, sgl_descriptor(b, LBA, 0) + sgl_descriptor(b, 16, SGL_SEGMENT))
    return sgl_descriptor(seg, 32, SGL_LAST_SEGMENT)


@_case("segment-not-last", (0, 0x0E))
def _segment_not_last(h: NvmeHost) -> bytes:
    seg, b = h.buffer(PAGE), h.buffer(PAGE)
    h.bus.write(seg, sgl_descriptor(b, 16, SGL_SEGMENT) + sgl_descriptor(b, LBA, 0))
    return sgl_descriptor(seg, 32, SGL_SEGMENT)


@_case("bit-bucket-unannounced", (0, 0x11))
def _bit_bucket(h: NvmeHost) -> bytes:
    return sgl_descriptor(h.buffer(PAGE), LBA, SGL_BIT_BUCKET)


@_case("reserved-type", (0, 0x11))
def _reserved_type(h: NvmeHost) -> bytes:
    return sgl_descriptor(h.buffer(PAGE), LBA, 0x6)


_TYPE = (
    "QEMU 7.2 answers a descriptor type it does not support (Bit Bucket with SGLS bit 16 "
    "clear, a reserved type) with Invalid SGL Segment Descriptor (0Dh); NVMe 1.4 Figure "
    "128 gives SGL Descriptor Type Invalid (11h)"
)
SGL_DEVIATIONS = {
    "data-block-too-long": (
        "QEMU 7.2 takes a Data Block longer than the transfer although SGLS bit 18 (SGLs "
        "longer than the data) is clear; NVMe 1.4 Figure 128: Data SGL Length Invalid (0Fh)"
    ),
    "bit-bucket-unannounced": _TYPE,
    "reserved-type": _TYPE,
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=[deviation(SGL_DEVIATIONS[n])] if n in SGL_DEVIATIONS else [])
        for n in SGL_CASES
    ],
)
def test_invalid_sgl(hosts: Pair, name: str) -> None:
    build, expected = SGL_CASES[name]

    def scenario(h: NvmeHost) -> tuple[int, int]:
        s = h.command(1, sgl_command(NvmOpcode.READ, build(h), slba=0, nlb=1)).status_field
        return s.sct, s.sc

    model, qemu = hosts.both(scenario)
    assert model == expected, f"model {model}, NVMe 1.4 Figure 128 gives {expected}"
    if qemu != expected:
        raise QemuDeviation(f"QEMU {qemu}, NVMe 1.4 Figure 128 gives {expected}")


# -- Timestamp (NVMe 1.4 5.21.1.14) --------------------------------------------------------------


def test_timestamp(hosts: Pair) -> None:
    """ONCS bit 6; a set timestamp reads back counting on from the value set, origin 001b,
    Synch 0; SEL=011b: changeable."""

    def scenario(h: NvmeHost) -> list[object]:
        data = h.buffer(PAGE)
        h.bus.write(data, struct.pack("<Q", TIMESTAMP_SET))
        set_ = h.admin(Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.TIMESTAMP, prp1=data))
        back = h.buffer(PAGE)
        get = h.admin(Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.TIMESTAMP, prp1=back))
        raw = h.bus.read(back, 8)
        value = int.from_bytes(raw[:6], "little")
        caps = h.admin(Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.TIMESTAMP | 3 << 8))
        return [
            bool(identify_controller(h).oncs & ONCS_TIMESTAMP),
            set_.status_field.encode(),
            get.status_field.encode(),
            TIMESTAMP_SET <= value < TIMESTAMP_SET + 60_000,
            raw[6],
            caps.dw0,
        ]

    assert hosts.same(scenario) == [True, 0, 0, True, ORIGIN_SET, 0b100]


# -- per-namespace SMART / Health (LPA bit 0) ---------------------------------------------------


def test_smart_per_namespace(hosts: Pair) -> None:
    """LPA bit 0: the log with NSID 1 counts that namespace's reads (Figure 196: Data
    Units Read, Host Read Commands), as the controller-wide log does."""

    def scenario(h: NvmeHost) -> list[object]:
        before = [SmartLog.unpack(get_log(h, 2, 512, nsid=n)[1]) for n in (1, BROADCAST)]
        buf = h.buffer(8 * LBA)
        for _ in range(3):
            assert h.rw(NvmOpcode.READ, 1, 1, 0, 8, buf, 8 * LBA).status_field.ok
        status, raw = get_log(h, LogPage.SMART_HEALTH, 512, nsid=1)
        after = [SmartLog.unpack(raw), SmartLog.unpack(get_log(h, 2, 512)[1])]
        lpa = identify_controller(h).lpa
        return [
            bool(lpa & LPA_SMART_PER_NAMESPACE),
            status,
            *[
                a.host_read_commands - b.host_read_commands
                for a, b in zip(after, before, strict=True)
            ],
        ]

    assert hosts.same(scenario) == [True, 0, 3, 3]


# -- Changed Namespace List (NVMe 1.4 5.14.1.4) and namespace attribute notices ------------------


def test_changed_namespace_list_and_notices(hosts: Pair) -> None:
    """OAES bit 8 announces namespace attribute notices, AEC bit 8 enables them, and the
    Changed Namespace List log reads (empty: nothing changed)."""

    def scenario(h: NvmeHost) -> list[object]:
        set_ = h.admin(
            Command(
                AdminOpcode.SET_FEATURES,
                cdw10=FeatureId.ASYNC_EVENT_CONFIG,
                cdw11=OAES_NAMESPACE_ATTRIBUTE,
            )
        )
        get = h.admin(Command(AdminOpcode.GET_FEATURES, cdw10=FeatureId.ASYNC_EVENT_CONFIG))
        h.admin(Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.ASYNC_EVENT_CONFIG))
        status, page = get_log(h, LogPage.CHANGED_NAMESPACES, PAGE)
        return [
            bool(identify_controller(h).oaes & OAES_NAMESPACE_ATTRIBUTE),
            set_.status_field.encode(),
            get.dw0,
            status,
            page == bytes(PAGE),
        ]

    assert hosts.same(scenario) == [True, 0, OAES_NAMESPACE_ATTRIBUTE, 0, True]


# -- Commands Supported and Effects (NVMe 1.4 5.14.1.5) ------------------------------------------


def effects(h: NvmeHost) -> tuple[list[int], list[int]]:
    status, raw = get_log(h, LogPage.COMMAND_EFFECTS, PAGE)
    assert status == 0
    return list(struct.unpack_from("<256I", raw)), list(struct.unpack_from("<256I", raw, 1024))


def test_effects_of_the_common_io_commands(hosts: Pair) -> None:
    """Read and Compare only read; Flush, Write, Write Zeroes and Dataset Management change
    logical block content (LBCC: Flush writes the volatile cache to the medium)."""

    def scenario(h: NvmeHost) -> dict[str, int]:
        _, iocs = effects(h)
        return {
            op.name: iocs[op] & (CSUPP | LBCC)
            for op in NvmOpcode
            if op
            in (
                NvmOpcode.FLUSH,
                NvmOpcode.WRITE,
                NvmOpcode.READ,
                NvmOpcode.COMPARE,
                NvmOpcode.WRITE_ZEROES,
                NvmOpcode.DATASET_MANAGEMENT,
            )
        }

    assert hosts.same(scenario) == {
        "FLUSH": CSUPP | LBCC,
        "WRITE": CSUPP | LBCC,
        "READ": CSUPP,
        "COMPARE": CSUPP,
        "WRITE_ZEROES": CSUPP | LBCC,
        "DATASET_MANAGEMENT": CSUPP | LBCC,
    }


@pytest.mark.parametrize("machine", ["model", "qemu"])
def test_unsupported_opcodes_are_not_claimed(hosts: Pair, machine: str) -> None:
    """Every opcode the effects log leaves without CSUPP is Invalid Command Opcode.  (Only
    those are sent: a claimed admin command such as Format NVM must not run here.)"""
    h = hosts.model if machine == "model" else hosts.qemu
    acs, iocs = effects(h)
    wrong = []
    for qid, table in ((0, acs), (1, iocs)):
        for opc in range(256):
            if table[opc] & CSUPP or (qid == 0 and opc == AdminOpcode.ASYNC_EVENT_REQUEST):
                continue
            s = h.command(qid, Command(opc, nsid=1)).status_field
            if (s.sct, s.sc) != (0, 0x01):
                wrong.append(f"q{qid} {opc:#04x}: {s}")
    assert wrong == []


# -- Identify CNS 05h-07h, 1Ch (NVMe 2.0 Figure 273) ---------------------------------------------


def identify_csi(h: NvmeHost, cns: int, csi: int, nsid: int = 0) -> tuple[int, bytes]:
    buf = h.buffer(PAGE)
    cmd = Command(AdminOpcode.IDENTIFY, nsid=nsid, prp1=buf, cdw10=cns, cdw11=csi << 24)
    return h.admin(cmd).status_field.encode(), h.bus.read(buf, PAGE)


def test_identify_io_command_set_structures(hosts: Pair) -> None:
    """CNS 05h (NVM namespace: no PI, zeros), 06h (NVM controller), 07h (active NSIDs of
    the NVM set = CNS 02h's), 1Ch (bit 0 of combination 0: NVM); another CSI's
    namespace structure is Invalid Field."""

    def scenario(h: NvmeHost) -> list[object]:
        ns_status, ns = identify_csi(h, Cns.CSI_NAMESPACE, CSI_NVM, nsid=1)
        ctrl_status, _ = identify_csi(h, Cns.CSI_CONTROLLER, CSI_NVM)
        list_status, ids = identify_csi(h, Cns.CSI_ACTIVE_NAMESPACES, CSI_NVM)
        sets_status, sets = identify_csi(h, Cns.IO_COMMAND_SETS, CSI_NVM)
        other = identify_csi(h, Cns.CSI_NAMESPACE, CSI_KEY_VALUE, nsid=1)[0]
        return [
            ns_status,
            ns == bytes(PAGE),
            ctrl_status,
            list_status,
            ids[:8],
            sets_status,
            sets[0] & 1,
            other & 0xFF,
        ]

    one = (1).to_bytes(4, "little") + bytes(4)
    assert hosts.same(scenario) == [0, True, 0, 0, one, 0, 1, 0x02]

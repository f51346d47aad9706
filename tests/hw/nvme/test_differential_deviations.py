"""Differential tests where QEMU 7.2 departs from the NVMe Base Specification 1.4.

Each test runs one scenario on both machines.  The model must give what the spec says
(AssertionError otherwise); QEMU's different answer raises QemuDeviation, which is the
only failure the strict xfail excuses.  docs/qemu.md lists the same cases.
(Status codes of single invalid commands: the QEMU_DEVIATIONS of
test_differential_status.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from qrv.hw.nvme import Namespace
from qrv.hw.qemu import QemuMachine
from qrv.spec.nvme import (
    AdminOpcode,
    Cns,
    Command,
    FeatureId,
    IdentifyController,
    IdentifyNamespace,
    LogPage,
    Reg,
    sq_tail_doorbell,
)
from tests.hw.nvme.conftest import Rig
from tests.hw.nvme.host import NvmeHost
from tests.hw.nvme.test_differential import Pair, hosts, qemu_host, qemu_machine
from tests.hw.nvme.test_differential_status import QemuDeviation

__all__ = ["hosts", "qemu_machine"]  # fixtures used here

pytestmark = pytest.mark.qemu

T = TypeVar("T")
PAGE = 4096
BROADCAST = 0xFFFF_FFFF
DEFAULT_OVER_K = 343  # WCTEMP on both
VWC_ENABLED = 1
INVALID_DOORBELL_REGISTER_EVENT = 0x0001_0000  # Error, Invalid Doorbell Register, log 01h


def deviation(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, raises=QemuDeviation, reason=reason)


def spec_check(hosts: Pair, scenario: Callable[[NvmeHost], T], expected: T, spec: str) -> None:
    """The model gives `expected` (NVMe `spec`); QEMU giving something else is a
    QemuDeviation."""
    model, qemu = hosts.both(scenario)
    assert model == expected, f"model: {model!r} where NVMe {spec} gives {expected!r}"
    if qemu != expected:
        raise QemuDeviation(f"QEMU: {qemu!r} where NVMe {spec} gives {expected!r}")


def get_feature(h: NvmeHost, fid: int, *, nsid: int = 0, sel: int = 0) -> tuple[int, int]:
    cqe = h.admin(Command(AdminOpcode.GET_FEATURES, nsid=nsid, cdw10=fid | sel << 8))
    return cqe.status_field.encode(), cqe.dw0


def set_feature(h: NvmeHost, fid: int, cdw11: int, *, nsid: int = 0) -> None:
    cqe = h.admin(Command(AdminOpcode.SET_FEATURES, nsid=nsid, cdw10=fid, cdw11=cdw11))
    assert cqe.status_field.ok, f"set features {fid:#x}: {cqe.status_field}"


def get_log(h: NvmeHost, lid: int, *, nsid: int = BROADCAST) -> tuple[int, bytes]:
    buf = h.buffer(PAGE)
    cdw10 = lid | (512 // 4 - 1) << 16
    cqe = h.admin(Command(AdminOpcode.GET_LOG_PAGE, nsid=nsid, prp1=buf, cdw10=cdw10))
    return cqe.status_field.encode(), h.bus.read(buf, 512)


@deviation(
    "QEMU 7.2 keeps feature values across a controller reset (CC.EN 1 -> 0); NVMe 1.4 "
    "Figure 271 marks them not persistent across a reset, and 7.3.2 returns them to defaults"
)
def test_features_return_to_defaults_on_reset(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> list[tuple[int, int]]:
        set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, 350)
        set_feature(h, FeatureId.ERROR_RECOVERY, 0x22, nsid=1)
        set_feature(h, FeatureId.VOLATILE_WRITE_CACHE, 0)
        set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, 0x2)
        h.enable()
        h.create_io_queues(1)
        values = [
            get_feature(h, FeatureId.TEMPERATURE_THRESHOLD),
            get_feature(h, FeatureId.ERROR_RECOVERY, nsid=1),
            get_feature(h, FeatureId.VOLATILE_WRITE_CACHE),
            get_feature(h, FeatureId.ASYNC_EVENT_CONFIG),
        ]
        # the next test's controller (QEMU's is the same device) starts from the defaults
        set_feature(h, FeatureId.TEMPERATURE_THRESHOLD, DEFAULT_OVER_K)
        set_feature(h, FeatureId.ERROR_RECOVERY, 0, nsid=1)
        set_feature(h, FeatureId.VOLATILE_WRITE_CACHE, VWC_ENABLED)
        set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, 0)
        return values

    expected = [(0, DEFAULT_OVER_K), (0, 0), (0, VWC_ENABLED), (0, 0)]
    spec_check(hosts, scenario, expected, "1.4 Figure 271, 7.3.2")


@deviation(
    "QEMU 7.2 answers Get Features VWC with SEL=001b (default) and 010b (saved) as 0 while "
    "the cache is enabled out of reset; NVMe 1.4 5.9.1: the default is the value after "
    "reset, and a feature that is not saveable has its default as its saved value"
)
def test_volatile_write_cache_default_and_saved(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> list[tuple[int, int]]:
        return [get_feature(h, FeatureId.VOLATILE_WRITE_CACHE, sel=sel) for sel in (0, 1, 2)]

    spec_check(hosts, scenario, [(0, VWC_ENABLED)] * 3, "1.4 5.9.1 Figure 269")


@deviation(
    "QEMU 7.2 stores reserved bits: Asynchronous Event Configuration bits 31:15, CC bits "
    "31:24 and 3:1 and AQA bits 31:28 and 15:12 read back as written; NVMe 1.4 1.5 "
    "(reserved fields read as 0), Figures 78, 83 and 294"
)
def test_reserved_bits_read_as_zero(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> list[int]:
        set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, 0xFFFF_FFFF)
        aec = get_feature(h, FeatureId.ASYNC_EVENT_CONFIG)[1]
        set_feature(h, FeatureId.ASYNC_EVENT_CONFIG, 0)
        h.disable()
        h.write32(Reg.AQA, 0xFFFF_FFFF)
        h.write32(Reg.CC, 0xFFFF_FFFE)  # everything but EN
        cc, aqa = h.read32(Reg.CC), h.read32(Reg.AQA)
        h.write32(Reg.CC, 0)
        h.enable()
        h.create_io_queues(1)
        return [aec & 0xFFFF_8000, cc & 0xFF00_000E, aqa & 0xF000_F000]

    spec_check(hosts, scenario, [0, 0, 0], "1.4 1.5, Figures 78, 83, 294")


@deviation(
    "QEMU 7.2 rejects the SMART / Health log with NSID 0 as Invalid Namespace or Format; "
    "NVMe 1.4 5.14.1.2: NSID 0h (or FFFFFFFFh) asks for the controller-wide log"
)
def test_smart_log_with_nsid_0(hosts: Pair) -> None:
    spec_check(hosts, lambda h: get_log(h, LogPage.SMART_HEALTH, nsid=0)[0], 0, "1.4 5.14.1.2")


@deviation(
    "QEMU 7.2's firmware slot log reports FRS1 = '1.0' while Identify Controller FR is "
    "its version; NVMe 1.4 5.14.1.3: FRS of the active slot is the revision FR reports"
)
def test_firmware_slot_log_matches_identify_fr(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> bool:
        status, page = get_log(h, LogPage.FIRMWARE_SLOT)
        afi = page[0] & 0x7
        frs = page[8 * afi : 8 * afi + 8].decode("ascii").rstrip()
        fr = IdentifyController.unpack(h.identify(Cns.CONTROLLER)[1]).fr
        return status == 0 and frs == fr

    spec_check(hosts, scenario, True, "1.4 5.14.1.3 Figure 199")


@deviation(
    "QEMU 7.2 drops an invalid doorbell write's error event when no Asynchronous Event "
    "Request is outstanding; NVMe 1.4 5.2: events wait for the next AER"
)
def test_invalid_doorbell_event_waits_for_an_aer(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> int | None:
        h.write32(sq_tail_doorbell(9, h.dstrd), 0)  # SQ 9 does not exist
        h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
        try:
            return h.poll(0, timeout=0.5).dw0
        except AssertionError:
            return None

    spec_check(hosts, scenario, INVALID_DOORBELL_REGISTER_EVENT, "1.4 5.2")


@deviation(
    "QEMU 7.2 leaves NSATTR bit 0 clear for a read-only drive (readonly=on), whose writes "
    "it refuses; NVMe 1.4 Figure 245: bit 0 set means the namespace is write protected"
)
def test_read_only_namespace_reports_write_protection(
    rig_factory: Callable[..., Rig], qemu_machine: QemuMachine, image: Path
) -> None:
    rig = rig_factory(namespaces=[Namespace(image, read_only=True)])
    pair = Pair(rig.host, qemu_host(qemu_machine), rig.image)
    for host in (pair.model, pair.qemu):
        host.setup_pci()
        host.enable()

    def scenario(h: NvmeHost) -> int:
        return IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, 1)[1]).nsattr & 1

    spec_check(pair, scenario, 1, "1.4 Figure 245 NSATTR")

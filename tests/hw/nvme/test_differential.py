"""Differential tests: the built-in NVMe model against QEMU 7.2's NVMe device.

The same raw command sequences go through the same bus-only test host
(tests/hw/nvme/host.py) to both controllers, over the same image contents,
and what comes back must agree.  QEMU is the reference implementation here;
where a value is fixed by the NVMe Base Specification it is also checked
against the spec, so that a deviation by QEMU itself shows up as an xfail
with its reason rather than being copied into the model.

This module: registers, PCI identity, Identify data, data path.  Status codes
for invalid inputs: test_differential_status.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import pytest

from qrv.hw.qemu import QemuMachine
from qrv.spec.nvme import (
    IDENTIFY_DATA_SIZE,
    NID_LENGTH,
    AdminOpcode,
    Cap,
    CapCss,
    Cns,
    Command,
    Csts,
    IdentifyController,
    IdentifyNamespace,
    NidType,
    NvmOpcode,
    Reg,
    parse_ns_descriptors,
)
from tests.conftest import require_tool
from tests.hw.nvme.conftest import IMAGE_SIZE, Rig, file_bytes, make_image
from tests.hw.nvme.host import NvmeHost

pytestmark = pytest.mark.qemu

T = TypeVar("T")
MiB = 1 << 20
QEMU_ECAM = 0x3000_0000
QEMU_RAM = 0x8000_0000
DMA_SIZE = 8 * MiB
LBA = 512
NSZE = IMAGE_SIZE // LBA
SQES_REQUIRED = 0x66  # NVMe 1.4 Figure 247: SQES max=min=6 (64-byte SQE) for NVM
CQES_REQUIRED = 0x44  # CQES max=min=4 (16-byte CQE)


@pytest.fixture(scope="module")
def qemu_machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QemuMachine]:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = make_image(tmp_path_factory.mktemp("differential") / "nvme.img")
    with QemuMachine(image) as m:
        yield m


@dataclass
class Pair:
    """The same host code over the built-in model and over QEMU, image and state alike."""

    model: NvmeHost
    qemu: NvmeHost
    image: Path

    def both(self, scenario: Callable[[NvmeHost], T]) -> tuple[T, T]:
        return scenario(self.model), scenario(self.qemu)

    def same(self, scenario: Callable[[NvmeHost], T]) -> T:
        """Run `scenario` on both; they must agree.  Returns the common result."""
        model, qemu = self.both(scenario)
        assert model == qemu, f"model and QEMU differ:\n  model: {model!r}\n  qemu:  {qemu!r}"
        return model


def qemu_host(machine: QemuMachine) -> NvmeHost:
    return NvmeHost(machine.bus, ecam_base=QEMU_ECAM, dma_base=QEMU_RAM, dma_size=DMA_SIZE)


@pytest.fixture
def hosts(rig_factory: Callable[..., Rig], qemu_machine: QemuMachine) -> Pair:
    """Both controllers enabled (16-entry admin queues) with I/O queue pair 1."""
    rig = rig_factory()
    pair = Pair(rig.host, qemu_host(qemu_machine), rig.image)
    for host in (pair.model, pair.qemu):
        host.setup_pci()
        host.enable()
        host.create_io_queues(1)
    return pair


def identify(host: NvmeHost, cns: int, nsid: int = 0) -> bytes:
    cqe, data = host.identify(cns, nsid)
    status = cqe.status_field
    assert status.ok, f"Identify CNS {cns:#x} NSID {nsid:#x}: {status}"
    return data


def differing(a: Any, b: Any, names: list[str]) -> dict[str, tuple[Any, Any]]:
    return {n: (getattr(a, n), getattr(b, n)) for n in names if getattr(a, n) != getattr(b, n)}


# -- PCI identity and registers ------------------------------------------------------------


def test_pci_identity_and_bar0(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> tuple[int, ...]:
        ids = h.cfg_read(0x00)
        class_rev = h.cfg_read(0x08) >> 8
        header = h.cfg_read(0x0E, 1) & 0x7F
        return ids, class_rev, header

    assert hosts.same(scenario) == (0x0010_1B36, 0x01_0802, 0)


def test_capability_list(hosts: Pair) -> None:
    """The set of PCI capability IDs (their order is not fixed).  PCIe Base 4.0 7.5.2:
    every PCIe function implements Power Management (01h); plus PCIe (10h), MSI-X (11h)."""

    def scenario(h: NvmeHost) -> list[int]:
        ids: list[int] = []
        ptr = h.cfg_read(0x34, 1) & 0xFC
        while ptr and len(ids) < 48:
            ids.append(h.cfg_read(ptr, 1))
            ptr = h.cfg_read(ptr + 1, 1) & 0xFC
        return sorted(ids)

    assert {0x01, 0x10, 0x11} <= set(hosts.same(scenario))


def test_cap_fields(hosts: Pair) -> None:
    """Every CAP field but CSS is equal; CSS is compared for the NVM bit only (QEMU 7.2
    also sets bits 6 and 7, I/O Command Set and admin-only support, NVMe 2.0 3.1.3.1)."""
    caps = hosts.both(lambda h: h.cap)
    names = [f.name for f in fields(Cap) if f.name != "css"]
    assert differing(*caps, names) == {}
    assert [bool(c.css & CapCss.NVM) for c in caps] == [True, True]
    cap = caps[1]
    assert cap.mqes >= 1, "MQES is 0's based and at least 1 (NVMe 1.4 3.1.1)"
    assert cap.cqr, "QEMU requires contiguous queues"
    assert cap.mpsmin <= cap.mpsmax


def test_version_register(hosts: Pair) -> None:
    assert hosts.same(lambda h: h.read32(Reg.VS)) == 0x0001_0400


def test_enabled_status(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> int:
        return int(h.csts())

    assert hosts.same(scenario) == int(Csts.RDY)


def test_disable_clears_cc_and_ready(hosts: Pair) -> None:
    """CC.EN=0 resets the controller: CSTS.RDY and CC read 0 (NVMe 1.4 3.1.5, 7.3.2)."""

    def scenario(h: NvmeHost) -> tuple[int, int]:
        h.disable()
        return int(h.csts()), h.read32(Reg.CC)

    assert hosts.same(scenario) == (0, 0)


# -- Identify ------------------------------------------------------------------------------

# Fields compared for equality.  Allowed to differ (optional features, vendor data):
# MN, FR, SUBNQN, OAES, CTRATT, OACS, LPA, ELPE, ONCS, SGLS and power-state latencies.
CONTROLLER_FIELDS = [
    "vid",
    "ssvid",
    "sn",
    "rab",
    "ieee",
    "cmic",
    "mdts",
    "ver",
    "cntrltype",
    "acl",
    "aerl",
    "frmw",
    "npss",
    "wctemp",
    "cctemp",
    "sqes",
    "cqes",
    "maxcmd",
    "nn",
    "fuses",
    "fna",
    "vwc",
    "awun",
    "awupf",
]


def test_identify_controller_fields(hosts: Pair) -> None:
    model, qemu = (
        IdentifyController.unpack(d) for d in hosts.both(lambda h: identify(h, Cns.CONTROLLER))
    )
    assert differing(model, qemu, CONTROLLER_FIELDS) == {}
    assert qemu.sqes == SQES_REQUIRED and qemu.cqes == CQES_REQUIRED
    assert qemu.mdts != 0, "both limit the transfer size"
    assert qemu.ver == 0x0001_0400
    assert qemu.sn == "qrv-test"
    assert qemu.nn >= 1


def test_identify_controller_strings_are_space_padded_ascii(hosts: Pair) -> None:
    """SN, MN, FR: ASCII padded with spaces, no NULs (NVMe 1.4 Figure 247, 1.5 'ASCII')."""

    def scenario(h: NvmeHost) -> list[bool]:
        data = identify(h, Cns.CONTROLLER)
        return [
            all(0x20 <= b <= 0x7E for b in data[start:end])
            for start, end in ((4, 24), (24, 64), (64, 72))
        ]

    assert hosts.same(scenario) == [True, True, True]


def test_identify_controller_model_strings(hosts: Pair) -> None:
    """Different by design: QEMU says it is QEMU, the model says it is qrv's."""
    model, qemu = (
        IdentifyController.unpack(d) for d in hosts.both(lambda h: identify(h, Cns.CONTROLLER))
    )
    assert qemu.mn == "QEMU NVMe Ctrl"
    assert "qrv" in model.mn.lower()


# Compared for equality.  Allowed to differ: NSFEAT, NLBAF and the LBA format list (QEMU
# offers 8 formats incl. metadata ones), MC, DPC (QEMU supports metadata and PI), NVMCAP
# (optional), NGUID/EUI64 (QEMU 7.2 leaves them zero unless configured).
NAMESPACE_FIELDS = [
    "nsze",
    "ncap",
    "nuse",
    "flbas",
    "dps",
    "nmic",
    "rescap",
    "fpi",
    "dlfeat",
    "nawun",
    "nawupf",
    "nsattr",
]


def formats(ns: IdentifyNamespace) -> set[int]:
    return set(ns.lbaf[: ns.nlbaf + 1])


def test_identify_namespace_fields(hosts: Pair) -> None:
    model, qemu = (
        IdentifyNamespace.unpack(d) for d in hosts.both(lambda h: identify(h, Cns.NAMESPACE, 1))
    )
    assert differing(model, qemu, NAMESPACE_FIELDS) == {}
    assert qemu.nsze == qemu.ncap == NSZE
    assert qemu.lba_size == LBA
    assert formats(model) <= formats(qemu), "the model offers a format QEMU does not"


def test_identify_namespace_in_use_format(hosts: Pair) -> None:
    """The format the image is used with: 512-byte LBAs, no metadata (Figure 248)."""

    def scenario(h: NvmeHost) -> tuple[int, int]:
        ns = IdentifyNamespace.unpack(identify(h, Cns.NAMESPACE, 1))
        lbaf = ns.lbaf[ns.flbas & 0xF]
        return (lbaf >> 16) & 0xFF, lbaf & 0xFFFF

    assert hosts.same(scenario) == (9, 0)


def test_identify_inactive_namespace_is_zero_filled(hosts: Pair) -> None:
    """NVMe 1.4 5.15.2.1: an inactive NSID returns a zero-filled structure."""
    assert hosts.same(lambda h: identify(h, Cns.NAMESPACE, 2)) == bytes(IDENTIFY_DATA_SIZE)


@pytest.mark.parametrize("start", [0, 1])
def test_active_namespace_list(hosts: Pair, start: int) -> None:
    def scenario(h: NvmeHost) -> list[int]:
        data = identify(h, Cns.ACTIVE_NAMESPACES, start)
        ids = [int.from_bytes(data[i : i + 4], "little") for i in range(0, len(data), 4)]
        return [i for i in ids if i]

    assert hosts.same(scenario) == ([1] if start == 0 else [])


def test_namespace_descriptors(hosts: Pair) -> None:
    """CNS 03h (NVMe 1.4 Figure 249): well-formed descriptors, one per type; the
    Command Set Identifier descriptor says NVM (0) on both.  Which identifiers
    (EUI64, NGUID, UUID) a namespace has is the controller's choice."""

    def scenario(h: NvmeHost) -> tuple[bool, dict[int, bytes]]:
        found = parse_ns_descriptors(identify(h, Cns.NAMESPACE_DESCRIPTORS, 1))
        lengths_ok = all(NID_LENGTH[NidType(t)] == len(v) for t, v in found)
        unique = len({t for t, _ in found}) == len(found)
        csi = {t: v for t, v in found if t == NidType.CSI}
        return lengths_ok and unique, csi

    assert hosts.same(scenario) == (True, {NidType.CSI: b"\0"})


def test_identify_with_an_offset_prp1(hosts: Pair) -> None:
    """PRP1 may carry an offset; the data then spans into PRP2's page (NVMe 1.4 4.3)."""

    def scenario(h: NvmeHost) -> tuple[int, bool]:
        aligned = identify(h, Cns.NAMESPACE, 1)
        buf = h.buffer(3 * 4096) + 0x100
        prp1, prp2 = h.contiguous(buf, IDENTIFY_DATA_SIZE)
        cqe = h.admin(
            Command(AdminOpcode.IDENTIFY, nsid=1, prp1=prp1, prp2=prp2, cdw10=Cns.NAMESPACE)
        )
        return cqe.status_field.encode(), h.bus.read(buf, IDENTIFY_DATA_SIZE) == aligned

    assert hosts.same(scenario) == (0, True)


# -- the data path -------------------------------------------------------------------------


@pytest.mark.parametrize(("slba", "nlb"), [(0, 1), (7, 9), (NSZE - 16, 16)])
def test_read_returns_the_image_bytes(hosts: Pair, slba: int, nlb: int) -> None:
    def scenario(h: NvmeHost) -> tuple[int, int, int, bytes]:
        buf = h.buffer(nlb * LBA)
        cqe = h.rw(NvmOpcode.READ, 1, 1, slba, nlb, buf, nlb * LBA)
        return cqe.status_field.encode(), cqe.sqid, cqe.dw0, h.bus.read(buf, nlb * LBA)

    status, sqid, dw0, data = hosts.same(scenario)
    assert (status, sqid, dw0) == (0, 1, 0)
    assert data == file_bytes(hosts.image, slba * LBA, nlb * LBA)


def test_completions_echo_cid_and_track_sq_head(hosts: Pair) -> None:
    def scenario(h: NvmeHost) -> list[tuple[int, int, int]]:
        out = []
        for _ in range(3):
            cqe = h.command(1, Command(NvmOpcode.FLUSH, nsid=1))
            out.append((cqe.cid, cqe.sqhd, cqe.sqid))
        return out

    assert hosts.same(scenario) == [(0, 1, 1), (1, 2, 1), (2, 3, 1)]

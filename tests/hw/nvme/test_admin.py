"""Admin commands through the bus: valid and invalid forms, exact status and DNR
(NVMe 1.4 §5; codes from Figures 127/128, cross-checked with QEMU 7.2 where it agrees)."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from qrv.hw.nvme import Namespace
from qrv.spec.nvme import (
    AdminOpcode,
    Cns,
    Command,
    Completion,
    ErrorLogEntry,
    FeatureId,
    IdentifyController,
    IdentifyNamespace,
    LogPage,
    NidType,
    QueueField,
    SmartLog,
    parse_ns_descriptors,
)
from tests.hw.nvme.conftest import IMAGE_SIZE, Rig

OK = (0, 0x00, False)
INVALID_OPCODE = (0, 0x01, True)
INVALID_FIELD = (0, 0x02, True)
CID_CONFLICT = (0, 0x03, False)
INVALID_NS = (0, 0x0B, True)
SEQUENCE_ERROR = (0, 0x0C, True)
INVALID_PRP_OFFSET = (0, 0x13, True)
CQ_INVALID = (1, 0x00, True)
INVALID_QID = (1, 0x01, True)
INVALID_QSIZE = (1, 0x02, True)
AER_LIMIT = (1, 0x05, False)
INVALID_VECTOR = (1, 0x08, True)
INVALID_LOG_PAGE = (1, 0x09, True)
INVALID_DELETION = (1, 0x0C, False)
NOT_SAVEABLE = (1, 0x0D, True)
NOT_NS_SPECIFIC = (1, 0x0F, True)


def status(cqe: Completion) -> tuple[int, int, bool]:
    """(SCT, SC, DNR) straight from CQE DW3 bits 27:25, 24:17 and 31 (NVMe 1.4 Figure 126)."""
    dw3_hi = cqe.status
    return (dw3_hi >> 9) & 7, (dw3_hi >> 1) & 0xFF, bool(dw3_hi >> 15)


def admin(r: Rig, opc: int, **fields: int) -> Completion:
    return r.host.admin(Command(opc, **fields))


def test_identify_controller(ready: Rig) -> None:
    cqe, data = ready.host.identify(Cns.CONTROLLER)
    assert status(cqe) == OK and cqe.sqid == 0
    idc = IdentifyController.unpack(data)
    assert idc.vid == 0x1B36
    assert data[4:24] == b"qrv-test".ljust(20, b" ")  # space padded (NVMe 1.4 Figure 247)
    assert "qrv" in idc.mn and "QEMU" not in idc.mn
    assert idc.ver == 0x00010400
    assert (idc.sqes, idc.cqes) == (0x66, 0x44)
    assert idc.mdts == 7 and idc.nn == 256


def test_identify_namespace(ready: Rig) -> None:
    cqe, data = ready.host.identify(Cns.NAMESPACE, nsid=1)
    assert status(cqe) == OK
    ns = IdentifyNamespace.unpack(data)
    assert ns.nsze == ns.ncap == ns.nuse == IMAGE_SIZE // 512
    assert ns.lba_size == 512
    cqe, data = ready.host.identify(Cns.NAMESPACE, nsid=2)  # inactive: zero filled
    assert status(cqe) == OK and data == bytes(4096)
    for nsid in (0, 257, 0xFFFF_FFFF):
        assert status(ready.host.identify(Cns.NAMESPACE, nsid=nsid)[0]) == INVALID_NS


def test_identify_4k_namespaces_and_lists(
    rig_factory: Callable[..., Rig], tmp_path: object
) -> None:
    first = rig_factory()
    img = first.image
    half = IMAGE_SIZE // 2
    r = rig_factory(
        namespaces=[
            Namespace(img, lba_size=4096, size=half),
            Namespace(img, offset=half, read_only=True),
        ]
    )
    h = r.host
    h.setup_pci()
    h.enable()
    ns1 = IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, nsid=1)[1])
    assert ns1.lba_size == 4096 and ns1.nsze == half // 4096
    ns2 = IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, nsid=2)[1])
    assert ns2.lba_size == 512 and ns2.nsze == half // 512 and ns2.nsattr & 1
    cqe, data = h.identify(Cns.ACTIVE_NAMESPACES, nsid=0)
    assert status(cqe) == OK and struct.unpack_from("<3I", data) == (1, 2, 0)
    cqe, data = h.identify(Cns.ACTIVE_NAMESPACES, nsid=1)
    assert struct.unpack_from("<2I", data) == (2, 0)
    assert status(h.identify(Cns.ACTIVE_NAMESPACES, nsid=0xFFFF_FFFE)[0]) == INVALID_NS


def test_namespace_descriptors(ready: Rig) -> None:
    h = ready.host
    ns = IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, nsid=1)[1])
    cqe, data = h.identify(Cns.NAMESPACE_DESCRIPTORS, nsid=1)
    assert status(cqe) == OK
    descs = dict(parse_ns_descriptors(data))
    assert descs[NidType.EUI64] == ns.eui64 and descs[NidType.NGUID] == ns.nguid
    assert descs[NidType.CSI] == b"\0" and len(descs[NidType.UUID]) == 16
    assert status(h.identify(Cns.NAMESPACE_DESCRIPTORS, nsid=2)[0]) == INVALID_FIELD
    assert status(h.identify(Cns.NAMESPACE_DESCRIPTORS, nsid=0)[0]) == INVALID_NS
    assert status(h.identify(0x10)[0]) == INVALID_FIELD  # unsupported CNS


@pytest.mark.parametrize("opc", [0x03, 0x07, 0x0B, 0x80, 0xC0, 0xFF])
def test_unsupported_admin_opcode(ready: Rig, opc: int) -> None:
    assert status(admin(ready, opc)) == INVALID_OPCODE


def test_fused_and_sgl_rejected(ready: Rig) -> None:
    assert status(admin(ready, AdminOpcode.IDENTIFY, flags=1, cdw10=1))[:2] == (0, 0x02)
    assert status(admin(ready, AdminOpcode.IDENTIFY, flags=0x40, cdw10=1)) == INVALID_FIELD


def _cq(qid: int, size: int, prp1: int, cdw11: int = QueueField.PC.mask) -> dict[str, int]:
    return {"prp1": prp1, "cdw10": QueueField.QSIZE.put(qid, size - 1), "cdw11": cdw11}


def test_create_io_cq_checks(ready: Rig) -> None:
    r, buf = ready, ready.host.buffer(0x10000)
    create = AdminOpcode.CREATE_IO_CQ
    assert status(admin(r, create, **_cq(0, 4, buf))) == INVALID_QID
    assert status(admin(r, create, **_cq(65, 4, buf))) == INVALID_QID
    assert status(admin(r, create, **_cq(1, 4, buf))) == INVALID_QID  # exists (fixture)
    assert status(admin(r, create, **_cq(2, 1, buf))) == INVALID_QSIZE
    assert status(admin(r, create, **_cq(2, 0x801, buf))) == INVALID_QSIZE  # > MQES+1
    assert status(admin(r, create, **_cq(2, 4, buf + 0x10))) == INVALID_PRP_OFFSET
    iv1 = QueueField.IV.put(QueueField.PC.mask, 1)
    assert status(admin(r, create, **_cq(2, 4, buf, iv1))) == INVALID_VECTOR  # no MSI-X
    assert status(admin(r, create, **_cq(2, 4, buf, 0))) == INVALID_FIELD  # PC=0
    assert status(admin(r, create, **_cq(2, 0x800, buf))) == OK


def test_create_io_sq_checks(ready: Rig) -> None:
    r, buf = ready, ready.host.buffer(0x4000)
    sq = AdminOpcode.CREATE_IO_SQ

    def args(qid: int, size: int, cqid: int, prp1: int = buf, pc: int = 1) -> dict[str, int]:
        cdw11 = QueueField.CQID.put(pc, cqid)
        return {"prp1": prp1, "cdw10": QueueField.QSIZE.put(qid, size - 1), "cdw11": cdw11}

    assert status(admin(r, sq, **args(2, 4, 0))) == CQ_INVALID
    assert status(admin(r, sq, **args(2, 4, 9))) == CQ_INVALID
    assert status(admin(r, sq, **args(1, 4, 1))) == INVALID_QID
    assert status(admin(r, sq, **args(0, 4, 1))) == INVALID_QID
    assert status(admin(r, sq, **args(65, 4, 1))) == INVALID_QID
    assert status(admin(r, sq, **args(2, 1, 1))) == INVALID_QSIZE
    assert status(admin(r, sq, **args(2, 4, 1, buf + 8))) == INVALID_PRP_OFFSET
    assert status(admin(r, sq, **args(2, 4, 1, pc=0))) == INVALID_FIELD
    assert status(admin(r, sq, **args(2, 4, 1))) == OK  # two SQs may share CQ 1


def test_delete_queues(ready: Rig) -> None:
    r = ready
    assert status(admin(r, AdminOpcode.DELETE_IO_SQ, cdw10=0)) == INVALID_QID
    assert status(admin(r, AdminOpcode.DELETE_IO_SQ, cdw10=7)) == INVALID_QID
    assert status(admin(r, AdminOpcode.DELETE_IO_CQ, cdw10=0)) == INVALID_QID
    assert status(admin(r, AdminOpcode.DELETE_IO_CQ, cdw10=1)) == INVALID_DELETION
    assert status(admin(r, AdminOpcode.DELETE_IO_SQ, cdw10=1)) == OK
    assert status(admin(r, AdminOpcode.DELETE_IO_SQ, cdw10=1)) == INVALID_QID
    assert status(admin(r, AdminOpcode.DELETE_IO_CQ, cdw10=1)) == OK
    assert status(admin(r, AdminOpcode.DELETE_IO_CQ, cdw10=1)) == INVALID_QID


def _log(
    r: Rig, lid: int, size: int, *, offset: int = 0, nsid: int = 0, rae: bool = False
) -> tuple[Completion, bytes]:
    buf = r.host.buffer(size)
    prp1, prp2 = r.host.contiguous(buf, size)
    numd = size // 4 - 1
    cdw10 = lid | (int(rae) << 15) | ((numd & 0xFFFF) << 16)
    cqe = admin(
        r,
        AdminOpcode.GET_LOG_PAGE,
        nsid=nsid,
        prp1=prp1,
        prp2=prp2,
        cdw10=cdw10,
        cdw11=numd >> 16,
        cdw12=offset & 0xFFFF_FFFF,
        cdw13=offset >> 32,
    )
    return cqe, r.host.bus.read(buf, size)


def test_error_log_records_failed_commands(ready: Rig) -> None:
    cqe = admin(ready, 0xC1)
    cqe, data = _log(ready, LogPage.ERROR_INFORMATION, 4096)
    assert status(cqe) == OK
    entry = ErrorLogEntry.unpack(data)
    assert entry.error_count >= 1 and entry.sqid == 0 and entry.cid == cqe.cid - 1
    assert entry.status >> 1 == 0x4001  # Invalid Opcode with DNR (status field in 15:1)


def test_smart_log_counts_io(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(0x10000)
    for _ in range(3):
        assert status(h.rw(2, 1, 1, 0, 128, buf, 0x10000)) == OK  # Read, 64 KiB
    assert status(h.rw(1, 1, 1, 0, 1, buf, 512)) == OK  # Write, 512 B
    cqe, data = _log(ready, LogPage.SMART_HEALTH, 512, nsid=0xFFFF_FFFF)
    assert status(cqe) == OK
    smart = SmartLog.unpack(data)
    assert smart.host_read_commands == 3 and smart.host_write_commands == 1
    assert smart.data_units_read == 1  # 384 units of 512 B, in thousands rounded up
    assert smart.data_units_written == 1
    assert 273 < smart.composite_temperature < 373


def test_log_page_errors(ready: Rig) -> None:
    assert status(_log(ready, 0x7F, 512)[0]) == INVALID_LOG_PAGE
    assert status(_log(ready, LogPage.SMART_HEALTH, 512, offset=2)[0]) == INVALID_FIELD
    assert status(_log(ready, LogPage.SMART_HEALTH, 512, offset=512)[0]) == INVALID_FIELD
    assert status(_log(ready, LogPage.SMART_HEALTH, 512, nsid=2)[0]) == INVALID_NS  # inactive
    cqe, data = _log(ready, LogPage.FIRMWARE_SLOT, 512)
    assert status(cqe) == OK and data[0] == 1 and data[8:16].rstrip() == b"0.24.0"
    cqe, data = _log(ready, LogPage.COMMAND_EFFECTS, 4096)
    acs = struct.unpack_from("<256I", data)
    iocs = struct.unpack_from("<256I", data, 1024)
    assert acs[AdminOpcode.IDENTIFY] & 1 and not acs[0x80] & 1
    assert iocs[2] & 1 and iocs[1] & 3 == 3  # Read supported; Write changes LBA content
    assert iocs[0] & 3 == 3  # Flush writes the cache to the medium: LBCC too


def _getf(r: Rig, fid: int, sel: int = 0, cdw11: int = 0) -> Completion:
    return admin(r, AdminOpcode.GET_FEATURES, cdw10=fid | (sel << 8), cdw11=cdw11)


def _setf(r: Rig, fid: int, cdw11: int, *, sv: bool = False, nsid: int = 0) -> Completion:
    return admin(r, AdminOpcode.SET_FEATURES, nsid=nsid, cdw10=fid | (sv << 31), cdw11=cdw11)


def test_number_of_queues(rig: Rig) -> None:
    rig.host.enable()
    assert status(_setf(rig, FeatureId.NUMBER_OF_QUEUES, 0xFFFF)) == INVALID_FIELD
    cqe = _setf(rig, FeatureId.NUMBER_OF_QUEUES, 3 | 3 << 16)
    assert status(cqe) == OK and cqe.dw0 & 0xFFFF >= 3 and cqe.dw0 >> 16 >= 3
    assert _getf(rig, FeatureId.NUMBER_OF_QUEUES).dw0 == cqe.dw0
    rig.host.create_io_queues(1)
    assert status(_setf(rig, FeatureId.NUMBER_OF_QUEUES, 0)) == SEQUENCE_ERROR


def test_features_get_set(ready: Rig) -> None:
    r = ready
    assert _getf(r, FeatureId.VOLATILE_WRITE_CACHE).dw0 == 1
    assert status(_setf(r, FeatureId.VOLATILE_WRITE_CACHE, 0)) == OK
    assert _getf(r, FeatureId.VOLATILE_WRITE_CACHE).dw0 == 0
    assert _getf(r, FeatureId.VOLATILE_WRITE_CACHE, sel=1).dw0 == 1  # default
    assert _getf(r, FeatureId.VOLATILE_WRITE_CACHE, sel=2).dw0 == 1  # saved = default
    assert _getf(r, FeatureId.VOLATILE_WRITE_CACHE, sel=3).dw0 == 0b100  # changeable only
    assert status(_getf(r, FeatureId.VOLATILE_WRITE_CACHE, sel=4)) == INVALID_FIELD
    assert status(_setf(r, FeatureId.ARBITRATION, 0x0302_0103)) == OK
    assert _getf(r, FeatureId.ARBITRATION).dw0 == 0x0302_0103
    assert status(_setf(r, FeatureId.POWER_MANAGEMENT, 1)) == INVALID_FIELD  # NPSS = 0
    assert status(_setf(r, FeatureId.POWER_MANAGEMENT, 0)) == OK
    assert status(_setf(r, FeatureId.TEMPERATURE_THRESHOLD, 350)) == OK
    assert _getf(r, FeatureId.TEMPERATURE_THRESHOLD).dw0 == 350
    assert status(_setf(r, FeatureId.TEMPERATURE_THRESHOLD, 1 << 16 | 350)) == INVALID_FIELD
    assert status(_setf(r, FeatureId.TEMPERATURE_THRESHOLD, 0xF << 16 | 351)) == OK  # all
    assert _getf(r, FeatureId.TEMPERATURE_THRESHOLD).dw0 == 351
    assert status(_getf(r, FeatureId.TEMPERATURE_THRESHOLD, cdw11=0xF << 16)) == INVALID_FIELD
    assert status(_setf(r, FeatureId.TEMPERATURE_THRESHOLD, 2 << 20 | 350)) == INVALID_FIELD
    assert status(_setf(r, FeatureId.INTERRUPT_VECTOR_CONFIG, 1 << 16 | 65)) == INVALID_FIELD
    assert status(_setf(r, FeatureId.INTERRUPT_VECTOR_CONFIG, 1 << 16 | 3)) == OK
    assert _getf(r, FeatureId.INTERRUPT_VECTOR_CONFIG, cdw11=3).dw0 == 1 << 16 | 3
    assert status(_setf(r, FeatureId.ARBITRATION, 0, sv=True)) == NOT_SAVEABLE
    assert status(_setf(r, FeatureId.ARBITRATION, 0, nsid=1)) == NOT_NS_SPECIFIC
    assert status(_setf(r, 0x7F, 0)) == INVALID_FIELD
    assert status(_getf(r, 0x0C)) == INVALID_FIELD  # Autonomous Power State Transition


def test_error_recovery_is_namespace_specific(ready: Rig) -> None:
    """Error Recovery (mandatory, NVMe 1.4 Figure 271): per namespace, TLER kept, DULBE
    dropped (NSFEAT bit 2 is 0), back to 0 after a controller reset (not persistent)."""
    r = ready
    assert status(_setf(r, FeatureId.ERROR_RECOVERY, 0x1_0033, nsid=1)) == OK
    assert admin(r, AdminOpcode.GET_FEATURES, nsid=1, cdw10=FeatureId.ERROR_RECOVERY).dw0 == 0x33
    assert status(_setf(r, FeatureId.ERROR_RECOVERY, 1, nsid=0)) == INVALID_NS
    assert status(_setf(r, FeatureId.ERROR_RECOVERY, 1, nsid=2)) == INVALID_FIELD
    for nsid in (0, 0x1000, 0xFFFF_FFFF):
        cqe = admin(r, AdminOpcode.GET_FEATURES, nsid=nsid, cdw10=FeatureId.ERROR_RECOVERY)
        assert status(cqe) == INVALID_NS
    r.host.enable()
    assert admin(r, AdminOpcode.GET_FEATURES, nsid=1, cdw10=FeatureId.ERROR_RECOVERY).dw0 == 0


def test_temperature_threshold_raises_smart_warning(ready: Rig) -> None:
    assert status(_setf(ready, FeatureId.TEMPERATURE_THRESHOLD, 300)) == OK  # below 323 K
    assert SmartLog.unpack(_log(ready, LogPage.SMART_HEALTH, 512)[1]).critical_warning & 2


@pytest.mark.parametrize(
    ("threshold", "warning"),
    [(323, 2), (324, 0), (1 << 20 | 323, 2), (1 << 20 | 322, 0)],
    ids=["over-equal", "over-above", "under-equal", "under-below"],
)
def test_temperature_warning_at_the_threshold(ready: Rig, threshold: int, warning: int) -> None:
    """Bit 1 is set at >= the over and <= the under threshold (NVMe 1.4 Figure 196)."""
    assert status(_setf(ready, FeatureId.TEMPERATURE_THRESHOLD, threshold)) == OK
    assert SmartLog.unpack(_log(ready, LogPage.SMART_HEALTH, 512)[1]).critical_warning == warning


def test_abort(ready: Rig) -> None:
    cqe = admin(ready, AdminOpcode.ABORT, cdw10=1 | 5 << 16)
    assert status(cqe) == OK and cqe.dw0 & 1  # not aborted: nothing was outstanding
    assert status(admin(ready, AdminOpcode.ABORT, cdw10=9)) == INVALID_FIELD


def test_async_event_on_invalid_doorbell(ready: Rig) -> None:
    h = ready.host
    aer_cid = h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
    assert h.peek(0) is None  # nothing to report yet
    # Command ID conflict with the outstanding AER (NVMe 1.4 §4.2)
    h.queues[0].next_cid = aer_cid
    assert status(h.admin(Command(AdminOpcode.GET_FEATURES, cdw10=7))) == CID_CONFLICT
    h.write32(0x1000 + 8 * 9, 0)  # SQ 9 tail doorbell: no such queue
    cqe = h.poll(0)
    assert cqe.cid == aer_cid and status(cqe) == OK
    assert cqe.dw0 == 0x01_00_00  # type Error, info Invalid Doorbell Register, log page 01h
    h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
    h.write32(0x1000 + 8 * 1, 16)  # SQ 1 tail = 16 = its size: invalid value
    assert h.peek(0) is None  # masked until the error log is read
    cqe, _ = _log(ready, LogPage.ERROR_INFORMATION, 64)
    event = h.poll(0)
    assert event.dw0 == 0x01_01_00  # Invalid Doorbell Write Value


def test_aer_limit(ready: Rig) -> None:
    h = ready.host
    for _ in range(4):  # AERL = 3: four may be outstanding
        h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
    assert h.peek(0) is None
    assert status(h.admin(Command(AdminOpcode.ASYNC_EVENT_REQUEST))) == AER_LIMIT


def test_log_page_transfer_is_bounded_by_the_log_with_no_mdts(
    rig_factory: Callable[..., Rig],
) -> None:
    # MDTS = 0 (no limit) and NUMD = 2**32 dwords (16 GiB): as QEMU's nvme_get_log, the
    # controller moves min(requested, log size - offset) bytes, the rest of the host's
    # buffer is left alone, and no 16 GiB of anything is built.
    r = rig_factory(mdts=0)
    r.host.setup_pci()
    r.host.enable()
    buf = r.host.buffer(2 * 4096)
    r.host.bus.write(buf, b"\xaa" * 8192)
    numd_max = {"cdw10": 0xFFFF << 16, "cdw11": 0xFFFF}
    smart = numd_max | {"cdw10": LogPage.SMART_HEALTH | 0xFFFF << 16}
    cqe = admin(r, AdminOpcode.GET_LOG_PAGE, nsid=0xFFFF_FFFF, prp1=buf, **smart)
    assert status(cqe) == OK
    errors = numd_max | {"cdw10": LogPage.ERROR_INFORMATION | 0xFFFF << 16, "cdw12": 4000}
    cqe = admin(r, AdminOpcode.GET_LOG_PAGE, prp1=buf + 4096, **errors)
    assert status(cqe) == OK
    data = r.host.bus.read(buf, 8192)
    assert SmartLog.unpack(data).available_spare == 100
    assert data[512:4096] == b"\xaa" * (4096 - 512)
    assert data[4096 : 4096 + 96] == bytes(96)  # the error log's last 96 bytes (no errors)
    assert data[4096 + 96 :] == b"\xaa" * (4096 - 96)


def test_write_protection_change_is_a_namespace_attribute_notice(ready: Rig) -> None:
    """NSATTR changes: the NSID joins the Changed Namespace List (cleared by reading it)
    and, with AEC bit 8, a Notice / Namespace Attribute Changed / log 04h event completes
    an AER (NVMe 1.4 5.2 Figure 148, 5.14.1.4); writes are then refused."""
    h, ctrl = ready.host, ready.ctrl
    assert status(_setf(ready, FeatureId.ASYNC_EVENT_CONFIG, 1 << 8)) == OK
    aer = h.submit(0, Command(AdminOpcode.ASYNC_EVENT_REQUEST))
    ctrl.set_write_protected(1, True)
    event = h.poll(0)
    assert (event.cid, status(event), event.dw0) == (aer, OK, 0x04_00_02)
    assert IdentifyNamespace.unpack(h.identify(Cns.NAMESPACE, 1)[1]).nsattr == 1
    buf = h.buffer(512)
    assert status(h.rw(0x01, 1, 1, 0, 1, buf, 512)) == (0, 0x20, True)
    cqe, page = _log(ready, LogPage.CHANGED_NAMESPACES, 4096)
    assert status(cqe) == OK and page[:8] == (1).to_bytes(4, "little") + bytes(4)
    assert _log(ready, LogPage.CHANGED_NAMESPACES, 4096)[1] == bytes(4096)
    ctrl.set_write_protected(1, False)
    assert status(h.rw(0x01, 1, 1, 0, 1, buf, 512)) == OK
    with pytest.raises(ValueError, match="no namespace 7"):
        ctrl.set_write_protected(7, True)


def test_read_only_image_cannot_be_unprotected(rig_factory: Callable[..., Rig]) -> None:
    probe = rig_factory()
    r = rig_factory(namespaces=[Namespace(probe.image, read_only=True)])
    with pytest.raises(ValueError, match="open read-only"):
        r.ctrl.set_write_protected(1, False)


def test_timestamp_counts_from_reset_then_from_the_value_set(ready: Rig) -> None:
    """Origin 000b until the host sets it, 001b after; back to 000b after a controller
    reset (NVMe 1.4 5.21.1.14)."""
    h = ready.host
    out = h.buffer(8)

    def get() -> bytes:
        cqe = admin(ready, AdminOpcode.GET_FEATURES, cdw10=FeatureId.TIMESTAMP, prp1=out)
        assert status(cqe) == OK
        return h.bus.read(out, 8)

    assert get()[6] == 0
    h.bus.write(out, (5000).to_bytes(8, "little"))
    assert status(admin(ready, AdminOpcode.SET_FEATURES, cdw10=FeatureId.TIMESTAMP, prp1=out)) == OK
    raw = get()
    assert raw[6] == 0b010 and int.from_bytes(raw[:6], "little") >= 5000
    h.enable()
    assert get()[6] == 0

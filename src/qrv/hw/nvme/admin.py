"""Admin command set (NVMe 1.4 §5): one handler per opcode, one dispatch table.

Guard clauses come first, in the order QEMU's device checks them where the spec gives no
order, each rejection logged with its reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from qrv.hw.nvme import features
from qrv.hw.nvme.logs import HealthCounters
from qrv.hw.nvme.pci import IDENTITY
from qrv.hw.nvme.prp import prp_segments, scatter
from qrv.hw.nvme.queues import CompletionQueue, SubmissionQueue
from qrv.hw.nvme.state import ControllerState, Handler, Request, log
from qrv.spec.nvme import (
    ABORT_NOT_ABORTED,
    ACTIVE_NS_LIST_MAX,
    CNTRLTYPE_IO,
    CQES_LOG2,
    CSI_NVM,
    IDENTIFY_DATA_SIZE,
    IO_COMMAND_SET_NVM,
    NSID_BROADCAST,
    NVME_VERSION_1_4,
    OAES_NAMESPACE_ATTRIBUTE,
    SGLS_SUPPORTED,
    SQES_LOG2,
    SUCCESS,
    AbortField,
    AdminOpcode,
    AsyncEventType,
    Cns,
    CommandEffect,
    CommandEffectsLog,
    CommandSpecificStatus,
    FirmwareSlotLog,
    GenericStatus,
    IdentifyController,
    IdentifyField,
    LogField,
    LogPage,
    Lpa,
    NvmOpcode,
    Oncs,
    QueueField,
    Status,
    Vwc,
    generic,
    pack_ns_descriptors,
    specific,
)

INVALID_FIELD = generic(GenericStatus.INVALID_FIELD, dnr=True)
INVALID_NAMESPACE = generic(GenericStatus.INVALID_NAMESPACE_OR_FORMAT, dnr=True)
INVALID_QID = specific(CommandSpecificStatus.INVALID_QUEUE_IDENTIFIER, dnr=True)
INVALID_CQ = specific(CommandSpecificStatus.COMPLETION_QUEUE_INVALID, dnr=True)
INVALID_QSIZE = specific(CommandSpecificStatus.INVALID_QUEUE_SIZE, dnr=True)
INVALID_PRP_OFFSET = generic(GenericStatus.INVALID_PRP_OFFSET, dnr=True)
INVALID_VECTOR = specific(CommandSpecificStatus.INVALID_INTERRUPT_VECTOR, dnr=True)

ABORT_LIMIT = 3  # Identify ACL (0's based)
AER_LIMIT = 3  # Identify AERL (0's based)
ERROR_LOG_ENTRIES_0BASED = 63
IEEE_OUI = bytes((0x00, 0x54, 0x52))  # as QEMU's device reports it
FRMW_ONE_READ_ONLY_SLOT = 0b0011  # slot 1 read-only, one slot (NVMe 1.4 Figure 247)
ACTIVE_FIRMWARE_SLOT_1 = 1
RAB = 6
POWER_STATE_0_MP = 2500  # 25 W in 0.01 W units
WCTEMP_K = 343
CCTEMP_K = 373
ATOMIC_ONE_LBA = 0  # AWUN/AWUPF are 0's based: one LBA is the atomic unit (§6.4)


class AdminCommands:
    """Admin command handlers over a controller's state."""

    def __init__(self, state: ControllerState, deliver_events: Callable[[], None]) -> None:
        self.s = state
        self.deliver_events = deliver_events
        self.table: dict[int, Handler] = {
            AdminOpcode.DELETE_IO_SQ: self.delete_io_sq,
            AdminOpcode.CREATE_IO_SQ: self.create_io_sq,
            AdminOpcode.GET_LOG_PAGE: self.get_log_page,
            AdminOpcode.DELETE_IO_CQ: self.delete_io_cq,
            AdminOpcode.CREATE_IO_CQ: self.create_io_cq,
            AdminOpcode.IDENTIFY: self.identify,
            AdminOpcode.ABORT: self.abort,
            AdminOpcode.SET_FEATURES: lambda req: features.set_features(self.s, req),
            AdminOpcode.GET_FEATURES: lambda req: features.get_features(self.s, req),
            AdminOpcode.ASYNC_EVENT_REQUEST: self.async_event_request,
        }
        self.io_opcodes: tuple[int, ...] = ()  # filled by the controller (Command Effects)

    # -- helpers ------------------------------------------------------------------------

    def _to_host(self, req: Request, data: bytes) -> Status:
        cmd = req.cmd
        segs = prp_segments(self.s.dma_read, cmd.prp1, cmd.prp2, len(data), self.s.page_size)
        if isinstance(segs, Status):
            return segs
        return scatter(self.s.dma_write, segs, data) or SUCCESS

    def _reject(self, req: Request, why: str, status: Status) -> Status:
        log.debug("admin %#04x cid %d rejected: %s -> %s", req.cmd.opc, req.cmd.cid, why, status)
        return status

    # -- Identify (NVMe 1.4 §5.15) -----------------------------------------------------------

    def identify(self, req: Request) -> Status:
        cmd = req.cmd
        cns = IdentifyField.CNS.get(cmd.cdw10)
        nn = self.s.config.max_namespaces
        if cns == Cns.CONTROLLER:
            return self._to_host(req, self.identify_controller().pack())
        csi = IdentifyField.CSI.get(cmd.cdw11)
        csi_specific = (Cns.CSI_NAMESPACE, Cns.CSI_CONTROLLER, Cns.CSI_ACTIVE_NAMESPACES)
        if cns in csi_specific and csi != CSI_NVM:  # the only I/O command set (CNS 1Ch)
            return self._reject(req, f"CNS {cns:#x}: command set {csi:#x}", INVALID_FIELD)
        if cns in (Cns.NAMESPACE, Cns.CSI_NAMESPACE):
            if cmd.nsid == 0 or cmd.nsid > nn:  # includes FFFFFFFFh: no NS management
                return self._reject(req, f"identify ns: bad nsid {cmd.nsid:#x}", INVALID_NAMESPACE)
            ns = self.s.namespaces.get(cmd.nsid)
            # CNS 05h, NVM: no protection information, no extended LBA formats, all zero
            # (NVMe 2.0 NVM Command Set Figure 114); an inactive NSID gives zeros too
            if ns is None or cns == Cns.CSI_NAMESPACE:
                return self._to_host(req, bytes(IDENTIFY_DATA_SIZE))
            return self._to_host(req, ns.identify().pack())
        if cns == Cns.CSI_CONTROLLER:
            # NVM Command Set Identify Controller (NVMe 2.0 NVM Command Set Figure 112):
            # VSL, WZSL, WUSL, DMRL, DMRSL, DMSL all 0, no limit reported
            return self._to_host(req, bytes(IDENTIFY_DATA_SIZE))
        if cns in (Cns.ACTIVE_NAMESPACES, Cns.CSI_ACTIVE_NAMESPACES):
            if cmd.nsid >= NSID_BROADCAST - 1:
                return self._reject(req, f"active list after {cmd.nsid:#x}", INVALID_NAMESPACE)
            ids = [n for n in sorted(self.s.namespaces) if n > cmd.nsid][:ACTIVE_NS_LIST_MAX]
            data = b"".join(n.to_bytes(4, "little") for n in ids)
            return self._to_host(req, data.ljust(IDENTIFY_DATA_SIZE, b"\0"))
        if cns == Cns.IO_COMMAND_SETS:
            # one combination, index 0: the NVM Command Set alone (NVMe 2.0 Figure 290)
            vector = IO_COMMAND_SET_NVM.to_bytes(8, "little")
            return self._to_host(req, vector.ljust(IDENTIFY_DATA_SIZE, b"\0"))
        if cns == Cns.NAMESPACE_DESCRIPTORS:
            if cmd.nsid == 0 or cmd.nsid > nn:
                return self._reject(req, f"descriptors: bad nsid {cmd.nsid:#x}", INVALID_NAMESPACE)
            ns = self.s.namespaces.get(cmd.nsid)
            if ns is None:
                return self._reject(req, f"descriptors: inactive nsid {cmd.nsid}", INVALID_FIELD)
            return self._to_host(req, pack_ns_descriptors(ns.descriptors()))
        return self._reject(req, f"unsupported CNS {cns:#x}", INVALID_FIELD)

    def identify_controller(self) -> IdentifyController:
        cfg = self.s.config
        return IdentifyController(
            vid=IDENTITY.vendor_id,
            ssvid=IDENTITY.subsystem_vendor_id,
            sn=cfg.serial,
            mn=cfg.model,
            fr=cfg.firmware,
            rab=RAB,
            ieee=IEEE_OUI,
            mdts=cfg.mdts,
            ver=NVME_VERSION_1_4,
            cntrltype=CNTRLTYPE_IO,
            acl=ABORT_LIMIT,
            aerl=AER_LIMIT,
            frmw=FRMW_ONE_READ_ONLY_SLOT,
            oaes=OAES_NAMESPACE_ATTRIBUTE,
            lpa=Lpa.SMART_PER_NAMESPACE | Lpa.COMMAND_EFFECTS,
            elpe=ERROR_LOG_ENTRIES_0BASED,
            wctemp=WCTEMP_K,
            cctemp=CCTEMP_K,
            sqes=(SQES_LOG2 << 4) | SQES_LOG2,
            cqes=(CQES_LOG2 << 4) | CQES_LOG2,
            nn=cfg.max_namespaces,
            oncs=(
                Oncs.COMPARE
                | Oncs.DATASET_MANAGEMENT
                | Oncs.WRITE_ZEROES
                | Oncs.SAVE_SELECT
                | Oncs.TIMESTAMP
            ),
            vwc=Vwc.PRESENT | Vwc.FLUSH_BROADCAST,
            awun=ATOMIC_ONE_LBA,
            awupf=ATOMIC_ONE_LBA,
            sgls=SGLS_SUPPORTED,
            subnqn=f"nqn.2024-04.dev.qrv:nvme:{cfg.serial}",
            psd0_mp=POWER_STATE_0_MP,
        )

    # -- queues (NVMe 1.4 §5.3-5.6) ------------------------------------------------------------

    def create_io_cq(self, req: Request) -> Status:
        cmd, s = req.cmd, self.s
        qid = QueueField.QID.get(cmd.cdw10)
        qsize = QueueField.QSIZE.get(cmd.cdw10)
        iv = QueueField.IV.get(cmd.cdw11)
        if qid == 0 or qid > s.config.max_ioqpairs or qid in s.cqs:
            return self._reject(req, f"create cq {qid}: bad or used id", INVALID_QID)
        if qsize == 0 or qsize > s.cap.mqes:
            return self._reject(req, f"create cq {qid}: size {qsize + 1}", INVALID_QSIZE)
        if cmd.prp1 % s.page_size:
            return self._reject(req, f"create cq {qid}: base {cmd.prp1:#x}", INVALID_PRP_OFFSET)
        if iv >= s.config.msix_vectors or (iv and not s.msix_enabled()):
            return self._reject(req, f"create cq {qid}: vector {iv}", INVALID_VECTOR)
        if not QueueField.PC.get(cmd.cdw11):  # CAP.CQR = 1
            return self._reject(req, f"create cq {qid}: not contiguous", INVALID_FIELD)
        ien = bool(QueueField.IEN.get(cmd.cdw11))
        s.cqs[qid] = CompletionQueue(qid, cmd.prp1, qsize + 1, ien=ien, iv=iv)
        s.io_queues_created = True
        return SUCCESS

    def create_io_sq(self, req: Request) -> Status:
        cmd, s = req.cmd, self.s
        qid = QueueField.QID.get(cmd.cdw10)
        qsize = QueueField.QSIZE.get(cmd.cdw10)
        cqid = QueueField.CQID.get(cmd.cdw11)
        if cqid == 0 or cqid not in s.cqs:
            return self._reject(req, f"create sq {qid}: no cq {cqid}", INVALID_CQ)
        if qid == 0 or qid > s.config.max_ioqpairs or qid in s.sqs:
            return self._reject(req, f"create sq {qid}: bad or used id", INVALID_QID)
        if qsize == 0 or qsize > s.cap.mqes:
            return self._reject(req, f"create sq {qid}: size {qsize + 1}", INVALID_QSIZE)
        if cmd.prp1 % s.page_size:
            return self._reject(req, f"create sq {qid}: base {cmd.prp1:#x}", INVALID_PRP_OFFSET)
        if not QueueField.PC.get(cmd.cdw11):
            return self._reject(req, f"create sq {qid}: not contiguous", INVALID_FIELD)
        s.sqs[qid] = SubmissionQueue(qid, cmd.prp1, qsize + 1, cqid)
        s.cqs[cqid].sqids.add(qid)
        s.io_queues_created = True
        return SUCCESS

    def delete_io_sq(self, req: Request) -> Status:
        qid = QueueField.QID.get(req.cmd.cdw10)
        sq = self.s.sqs.get(qid) if qid else None
        if sq is None:
            return self._reject(req, f"delete sq {qid}: no such queue", INVALID_QID)
        cq = self.s.cqs[sq.cqid]
        cq.sqids.discard(qid)
        # Completions of that SQ still waiting for CQ space are dropped with it (§5.6).
        cq.backlog = type(cq.backlog)(e for e in cq.backlog if e[1] != qid)
        del self.s.sqs[qid]
        return SUCCESS

    def delete_io_cq(self, req: Request) -> Status:
        qid = QueueField.QID.get(req.cmd.cdw10)
        cq = self.s.cqs.get(qid) if qid else None
        if cq is None:
            return self._reject(req, f"delete cq {qid}: no such queue", INVALID_QID)
        if cq.sqids:
            status = specific(CommandSpecificStatus.INVALID_QUEUE_DELETION)
            return self._reject(req, f"delete cq {qid}: sqs {sorted(cq.sqids)} attached", status)
        del self.s.cqs[qid]
        return SUCCESS

    # -- Get Log Page (NVMe 1.4 §5.14) ---------------------------------------------------------

    def get_log_page(self, req: Request) -> Status:
        cmd, s = req.cmd, self.s
        lid = LogField.LID.get(cmd.cdw10)
        numd = ((LogField.NUMDU.get(cmd.cdw11) << 16) | LogField.NUMDL.get(cmd.cdw10)) + 1
        length = numd * 4
        offset = cmd.cdw12 | (cmd.cdw13 << 32)
        rae = bool(LogField.RAE.get(cmd.cdw10))
        if offset % 4:
            return self._reject(
                req, f"log {lid:#x}: offset {offset} not dword aligned", INVALID_FIELD
            )
        limit = s.config.max_transfer
        if limit is not None and length > limit:
            return self._reject(req, f"log {lid:#x}: {length} bytes > MDTS", INVALID_FIELD)
        if lid == LogPage.ERROR_INFORMATION:
            page = s.errors.page()
            event = AsyncEventType.ERROR
        elif lid == LogPage.SMART_HEALTH:
            health = self._health(cmd.nsid)
            if isinstance(health, Status):
                return self._reject(req, f"smart: nsid {cmd.nsid:#x}", health)
            page = health.page(s.errors, s.features.temp_over, s.features.temp_under)
            event = AsyncEventType.SMART_HEALTH
        elif lid == LogPage.CHANGED_NAMESPACES:
            page = s.changed_namespaces.page()
            event = AsyncEventType.NOTICE
        elif lid == LogPage.FIRMWARE_SLOT:
            page = FirmwareSlotLog(afi=ACTIVE_FIRMWARE_SLOT_1, frs1=s.config.firmware).pack()
            event = None
        elif lid == LogPage.COMMAND_EFFECTS:
            page = self.command_effects().pack()
            event = None
        else:
            status = specific(CommandSpecificStatus.INVALID_LOG_PAGE, dnr=True)
            return self._reject(req, f"log page {lid:#x} not supported", status)
        if offset >= len(page):
            return self._reject(req, f"log {lid:#x}: offset {offset} beyond page", INVALID_FIELD)
        # As QEMU's nvme_get_log (trans_len = MIN(log size - offset, NUMD bytes)): what moves
        # is bounded by the log's real size, whatever NUMD asks (up to 16 GiB with MDTS = 0);
        # PRPs are resolved for those bytes only and the rest of the buffer is left alone.
        status = self._to_host(req, page[offset : offset + length])
        if status.ok and lid == LogPage.CHANGED_NAMESPACES:
            s.changed_namespaces.clear()  # the list holds the changes since the last read
        if status.ok and event is not None and not rae:
            # Reading the log re-arms that event type (§5.2); the controller delivers any
            # waiting event after this command's completion.
            s.events.masked.discard(event)
        return status

    def _health(self, nsid: int) -> HealthCounters | Status:
        """The SMART / Health counters NSID asks for: the controller's (0h, FFFFFFFFh) or
        one namespace's (LPA bit 0); an NSID naming no active namespace is Invalid
        Namespace or Format, as QEMU answers."""
        s = self.s
        if nsid in (0, NSID_BROADCAST):
            return s.health
        if nsid not in s.namespaces:
            return INVALID_NAMESPACE
        counters = s.ns_health.get(nsid, HealthCounters())
        return dataclasses.replace(counters, power_cycles=s.health.power_cycles)

    def command_effects(self) -> CommandEffectsLog:
        acs = [0] * 256
        for opc in self.table:
            acs[opc] = CommandEffect.CSUPP
        iocs = [0] * 256
        for opc in self.io_opcodes:
            iocs[opc] = CommandEffect.CSUPP
        changes_media = (
            NvmOpcode.FLUSH,  # the write cache's contents reach the medium
            NvmOpcode.WRITE,
            NvmOpcode.WRITE_ZEROES,
            NvmOpcode.DATASET_MANAGEMENT,
        )
        for opc in changes_media:
            if opc in self.io_opcodes:
                iocs[opc] |= CommandEffect.LBCC
        return CommandEffectsLog(acs=tuple(acs), iocs=tuple(iocs))

    # -- Abort and AER (NVMe 1.4 §5.1, §5.2) -----------------------------------------------------

    def abort(self, req: Request) -> Status:
        sqid = AbortField.SQID.get(req.cmd.cdw10)
        if sqid not in self.s.sqs:
            return self._reject(req, f"abort: no sq {sqid}", INVALID_FIELD)
        req.dw0 = ABORT_NOT_ABORTED  # commands complete synchronously: nothing is in flight
        return SUCCESS

    def async_event_request(self, req: Request) -> Status | None:
        events = self.s.events
        if len(events.outstanding) > AER_LIMIT:
            status = specific(CommandSpecificStatus.ASYNC_EVENT_REQUEST_LIMIT_EXCEEDED)
            return self._reject(req, "too many outstanding AERs", status)
        events.outstanding.append(req.cmd.cid)
        self.deliver_events()
        return None

"""The NVMe controller as a PCI Express function (NVMe 1.4 §3, §4, §7).

All register side effects sit in :meth:`NvmeController.bar_write`: CC edges (enable,
reset, shutdown) and doorbells.  A doorbell write processes the commands it makes
available at once, in the writer's thread; completions go to the CQ by DMA with the phase
tag, and wait in the CQ's backlog while the CQ is full (the SQ stops being fetched until
the host's head doorbell frees a slot).  One lock serialises every access.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence

from qrv.hw.clock import Clock, HostClock
from qrv.hw.nvme import pci
from qrv.hw.nvme.admin import AdminCommands
from qrv.hw.nvme.cache import DEFAULT_CACHE_BYTES, WriteCache
from qrv.hw.nvme.io import NvmCommands
from qrv.hw.nvme.irq import NvmeInterrupts
from qrv.hw.nvme.namespace import Namespace
from qrv.hw.nvme.queues import CompletionQueue, SubmissionQueue
from qrv.hw.nvme.registers import DWORD, DWORD_MASK, RegisterFile, enable_problem
from qrv.hw.nvme.state import ControllerState, Faults, NvmeConfig, PowerCut, Request, log
from qrv.hw.pcidev import DmaError, PciFunction
from qrv.hw.regbank import RegBank
from qrv.spec.nvme import (
    ADMIN_QID,
    DOORBELL_BASE,
    DOORBELL_SIZE,
    DOORBELL_VALUE_MASK,
    REGISTER_FILE_SIZE,
    SQE_SIZE,
    SUCCESS,
    AsyncErrorInfo,
    AsyncEventType,
    AsyncNoticeInfo,
    Cap,
    CapCss,
    Cc,
    CcField,
    Command,
    Completion,
    Csts,
    GenericStatus,
    LogPage,
    Reg,
    Shst,
    Status,
    async_event_dw0,
    generic,
)
from qrv.spec.pci import MSIX_ENABLE, MSIX_FUNCTION_MASK, CapId

QWORD = 8
NO_ID = 0xFFFF
PSDT_RESERVED = 0b11
AEC_NAMESPACE_ATTRIBUTE = 1 << 8  # Asynchronous Event Configuration: namespace notices
CID_CORRUPTION = 0xFFFF  # XORed into the CID by Faults.wrong_cid


class NvmeController(PciFunction):
    """An NVMe 1.4 controller (1b36:0010, class 010802) over image-file namespaces."""

    def __init__(
        self,
        namespaces: Sequence[Namespace],
        *,
        serial: str = "qrv-test",
        model: str = "QRV NVMe model (qrv)",
        firmware: str = "0.24.0",
        mqes: int = 0x7FF,
        mdts: int = 7,
        ready_delay: float = 0.0,
        dstrd: int = 0,
        max_ioqpairs: int = 64,
        timeout: int = 0x0F,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        faults: Faults | None = None,
        clock: Clock | None = None,
    ) -> None:
        cfg = NvmeConfig(
            serial=serial,
            model=model,
            firmware=firmware,
            mqes=mqes,
            mdts=mdts,
            timeout=timeout,
            dstrd=dstrd,
            max_ioqpairs=max_ioqpairs,
            ready_delay=ready_delay,
            cache_bytes=cache_bytes,
        )
        _validate(cfg, len(namespaces))
        super().__init__(
            pci.IDENTITY,
            [pci.BAR0],
            pci.capabilities(cfg.msix_vectors),
        )
        cap = Cap(
            mqes=cfg.mqes,
            cqr=True,
            ams=0,
            to=cfg.timeout,
            dstrd=cfg.dstrd,
            nssrs=False,
            css=CapCss.NVM,
            bps=False,
            mpsmin=cfg.mpsmin,
            mpsmax=cfg.mpsmax,
        )
        self.params = cfg
        self.faults = faults if faults is not None else Faults()
        self.clock: Clock = clock if clock is not None else HostClock()
        """What CSTS.RDY's delay is measured on (the board's clock when plugged in one)."""
        self._lock = threading.Lock()
        self.regs = RegisterFile(cap=cap.encode())
        msix = self.capability(CapId.MSIX)
        assert msix is not None
        self._msix_control_at = msix.offset + pci.MSIX_CONTROL_OFFSET
        """Where Message Control is (the capability list is fixed once built)."""
        for nsid, ns in enumerate(namespaces, start=1):
            ns.nsid, ns.serial = nsid, serial
        self.state = ControllerState(
            config=cfg,
            cap=cap,
            namespaces={ns.nsid: ns for ns in namespaces},
            dma_read=self.dma_read,
            dma_write=self.dma_write,
            msix_enabled=self._msix_enabled,
            faults=self.faults,
            cache=WriteCache(cfg.cache_bytes),
            clock_ms=lambda: int(self.clock.now() * 1000),
            dma_view=self.dma_view,
        )
        self.state.reset_ms = self.state.clock_ms()
        self.admin = AdminCommands(self.state, self._deliver_events)
        self.io = NvmCommands(self.state)
        self.admin.io_opcodes = tuple(self.io.table)
        self.msix_table = RegBank(pci.initial_msix_table(cfg.msix_vectors))
        self.irq = NvmeInterrupts(
            self.msix_table,
            cfg.msix_vectors,
            msix_enabled=self._msix_enabled,
            function_masked=self._msix_function_masked,
            set_intx=self.set_intx,
            send=self._msi_send,
            silent=lambda: self.faults.no_interrupts,
        )
        self._pba_size = pci.msix_pba_size(cfg.msix_vectors)
        self._doorbell_stride = DOORBELL_SIZE << dstrd
        self._doorbell_end = DOORBELL_BASE + 2 * (cfg.max_ioqpairs + 1) * self._doorbell_stride
        self._ready = False
        self._ready_at: float | None = None
        self._reorder: random.Random | None = None
        self._cfs = False
        self._shst = Shst.NORMAL
        self._cut_after: int | None = None
        self._cut_seed = 0
        self._on_cut: Callable[[PowerCut], None] | None = None
        self.power_cut: PowerCut | None = None
        """Set once the power is cut: the device is gone from then on."""

    # -- power loss -----------------------------------------------------------------------

    def power_cut_after(
        self, writes: int, *, seed: int = 0, on_cut: Callable[[PowerCut], None] | None = None
    ) -> None:
        """Cut the power right after the `writes`-th successfully completed write command
        (Write, Write Zeroes, Deallocate; counted from power-on).  Every flushed or FUA
        write is on the image then; of the writes still in the volatile write cache an
        arbitrary subset drawn from `seed` is lost, whole LBAs at a time.  From then on
        the function is gone (BAR reads all ones, writes ignored) and `on_cut` is called
        with the :class:`PowerCut` (in the thread that rang the doorbell)."""
        if writes < 1:
            raise ValueError(f"power cut after {writes} writes: need at least 1")
        with self._lock:
            self._cut_after, self._cut_seed, self._on_cut = writes, seed, on_cut

    def cut_power(self, *, seed: int = 0) -> PowerCut:
        """Cut the power now (as :meth:`power_cut_after` does when its count is reached);
        the :class:`PowerCut`.  Idempotent."""
        with self._lock:
            self._cut_seed = seed
            return self._cut()

    def _maybe_cut(self) -> None:
        if self._cut_after is not None and self.state.writes >= self._cut_after:
            cut = self._cut()
            if self._on_cut is not None:
                self._on_cut(cut)

    def _cut(self) -> PowerCut:
        if self.power_cut is not None:
            return self.power_cut
        try:
            lost = self.state.cache.power_loss(random.Random(self._cut_seed))
        except OSError as e:
            log.warning("power cut: writing the surviving cache lines failed: %s", e)
            lost = self.state.cache.unflushed_writes
        self.power_cut = PowerCut(self.state.writes, lost)
        self.set_intx(False)  # the function is gone: its pin floats back high (deasserted)
        self._cut_after = None
        log.info("%s", self.power_cut.message)
        return self.power_cut

    # -- namespace attributes ---------------------------------------------------------------

    def set_write_protected(self, nsid: int, protected: bool) -> None:
        """Write-protect namespace `nsid` or lift its protection (NSATTR bit 0 changes):
        the NSID joins the Changed Namespace List log and, with Asynchronous Event
        Configuration bit 8 set, a Namespace Attribute Changed notice waits for an AER
        (NVMe 1.4 §5.2 Figure 148, §5.14.1.4).  ValueError for an NSID that names no
        namespace, or to unprotect one whose image is open read-only."""
        with self._lock:
            ns = self.state.namespaces.get(nsid)
            if ns is None:
                raise ValueError(f"no namespace {nsid}")
            if not protected and not ns.writable:
                raise ValueError(f"namespace {nsid}: {ns.path} is open read-only")
            if ns.read_only == protected:
                return
            ns.read_only = protected
            s = self.state
            s.changed_namespaces.add(nsid)
            if s.features.async_event_config & AEC_NAMESPACE_ATTRIBUTE:
                event = (
                    AsyncEventType.NOTICE,
                    AsyncNoticeInfo.NAMESPACE_ATTRIBUTE_CHANGED,
                    LogPage.CHANGED_NAMESPACES,
                )
                if event not in s.events.pending:
                    s.events.pending.append(event)
                self._deliver_events()

    # -- PCI face ---------------------------------------------------------------------------

    def _msix_control(self) -> int:
        return self.cfg16(self._msix_control_at)

    def _msix_enabled(self) -> bool:
        return bool(self._msix_control() & MSIX_ENABLE)

    def _msix_function_masked(self) -> bool:
        return bool(self._msix_control() & MSIX_FUNCTION_MASK)

    def _msi_send(self, addr: int, data: int) -> None:
        try:
            self.msi_write(addr, data)
        except DmaError as e:
            log.debug("MSI-X message to %#x lost: %s", addr, e)

    def _irq_update(self) -> None:
        self.irq.update(self.state.cqs.values(), self.regs.intms)

    def on_config_write(self, offset: int, width: int, old_command: int) -> None:
        """MSI-X enable or function mask may have changed: INTx and pending messages."""
        with self._lock:
            if self.power_cut is None:
                self._irq_update()

    def bar_read(self, bar: int, offset: int, width: int) -> int:
        with self._lock:
            if self.power_cut is not None:
                return (1 << (8 * width)) - 1  # no device answers
            if offset < REGISTER_FILE_SIZE:
                return self._reg_read(offset, width)
            if pci.MSIX_PBA_OFFSET <= offset < pci.MSIX_PBA_OFFSET + self._pba_size:
                return self.irq.pba_read(offset - pci.MSIX_PBA_OFFSET, width)
            value = self.msix_table.load(offset - pci.MSIX_TABLE_OFFSET, width)
            # doorbells, unused space and accesses straddling the table's end read as zero
            return 0 if value is None else value

    def bar_write(self, bar: int, offset: int, width: int, value: int) -> None:
        with self._lock:
            if self.power_cut is not None:
                return
            if offset < REGISTER_FILE_SIZE:
                if width == QWORD and offset % QWORD == 0:
                    self._reg_write(offset, value & DWORD_MASK)
                    self._reg_write(offset + DWORD, value >> 32)
                elif width == DWORD and offset % DWORD == 0:
                    self._reg_write(offset, value)
                else:
                    log.debug("register write of width %d at %#x ignored", width, offset)
            elif offset < self._doorbell_end:
                if width == DWORD and offset % DWORD == 0:
                    self._doorbell(offset, value)
                else:
                    log.debug("doorbell write of width %d at %#x ignored", width, offset)
            elif not self.msix_table.store(offset - pci.MSIX_TABLE_OFFSET, width, value):
                log.debug(
                    "BAR0 write of width %d at %#x outside the MSI-X table dropped", width, offset
                )
            if self.power_cut is None:
                self._irq_update()

    def reset(self) -> None:
        """Function level reset: the controller returns to its power-on state."""
        with self._lock:
            if self.power_cut is not None:
                return
            self._controller_reset()
            self.regs = RegisterFile(cap=self.regs.cap)
            self.msix_table.reset(pci.initial_msix_table(self.params.msix_vectors))
            self.irq.reset()
            self._irq_update()

    def close(self) -> None:
        """Flush the write cache (unless the power was cut) and close every namespace's
        image.  Idempotent."""
        with self._lock:
            if self.power_cut is None:
                self.state.flush_all()
            for ns in self.state.namespaces.values():
                ns.close()

    # -- registers ----------------------------------------------------------------------------

    def _csts(self) -> int:
        if self._ready_at is not None and self.clock.now() >= self._ready_at:
            self._ready, self._ready_at = True, None
        csts = Csts.RDY if self._ready else Csts(0)
        if self._cfs or self.faults.fatal:
            csts |= Csts.CFS
        return int(csts) | (self._shst << 2)

    def _reg_read(self, offset: int, width: int) -> int:
        base = offset & ~(DWORD - 1)
        value = self._dword(base)
        if width == QWORD:
            value |= self._dword(base + DWORD) << 32
        shift = 8 * (offset - base)
        return (value >> shift) & ((1 << (8 * width)) - 1)

    def _dword(self, offset: int) -> int:
        value = self.regs.load_dword(offset)
        return self._csts() if value is None else value

    def _reg_write(self, offset: int, value: int) -> None:
        if offset == Reg.CC:
            self._write_cc(value)
        elif offset in (Reg.CSTS, Reg.NSSR):
            log.debug("write to %s ignored (NSSR not supported)", Reg(offset).name)
        else:
            self.regs.store_dword(offset, value, msix_enabled=self._msix_enabled())

    def _write_cc(self, value: int) -> None:
        """CC.EN and CC.SHN edges (NVMe 1.4 §3.1.5, §7.6)."""
        old, new = self.regs.cc, self.regs.cc_value(value)
        self.regs.cc = new
        was_on, now_on = CcField.EN.get(old), CcField.EN.get(new)
        if now_on and not was_on:
            self._enable()
        elif was_on and not now_on:
            self._controller_reset()
        old_shn, new_shn = CcField.SHN.get(old), CcField.SHN.get(new)
        if new_shn and not old_shn:
            self.state.flush_all()
            self._shst = Shst.COMPLETE
        elif old_shn and not new_shn:
            self._shst = Shst.NORMAL

    def _enable(self) -> None:
        problem = enable_problem(self.regs)
        if problem is not None:
            log.info("CC.EN=1 refused, controller fatal status: %s", problem)
            self._cfs = True
            return
        s = self.state
        s.cc = Cc.decode(self.regs.cc)
        s.cqs[ADMIN_QID] = CompletionQueue(ADMIN_QID, self.regs.acq, self.regs.acqs, ien=True)
        s.sqs[ADMIN_QID] = SubmissionQueue(ADMIN_QID, self.regs.asq, self.regs.asqs, ADMIN_QID)
        s.cqs[ADMIN_QID].sqids.add(ADMIN_QID)
        if self.faults.never_ready:
            return
        if self.params.ready_delay <= 0:
            self._ready = True
        else:
            self._ready_at = self.clock.now() + self.params.ready_delay

    def _controller_reset(self) -> None:
        """Controller Level Reset (NVMe 1.4 §7.3.2): queues deleted, state back to defaults."""
        s = self.state
        s.flush_all()
        s.sqs.clear()
        s.cqs.clear()
        s.events.clear()
        s.io_queues_created = False
        s.features = type(s.features)()
        s.reset_ms = s.clock_ms()
        s.cc = Cc()
        self.regs.reset()
        self._ready, self._ready_at, self._cfs = False, None, False
        self._shst = Shst.NORMAL

    # -- doorbells and queue processing --------------------------------------------------------

    def _doorbell(self, offset: int, value: int) -> None:
        stride = self._doorbell_stride
        rel = offset - DOORBELL_BASE
        if rel % stride:
            return  # between doorbells: reserved
        qid, is_cq = divmod(rel // stride, 2)
        value &= DOORBELL_VALUE_MASK  # bits 31:16 are reserved (NVMe 1.4 §3.1.24, §3.1.25)
        if self._ready_at is not None:
            self._csts()  # let a pending ready delay expire
        if not self._ready or self._cfs or self.faults.fatal or self._shst != Shst.NORMAL:
            log.debug("doorbell %#x written while not operational; ignored", offset)
            return
        queue = (self.state.cqs if is_cq else self.state.sqs).get(qid)
        if queue is None:
            self._doorbell_error(AsyncErrorInfo.INVALID_DOORBELL_REGISTER, qid, offset)
            return
        if isinstance(queue, CompletionQueue):
            if not queue.head_valid(value):
                self._doorbell_error(AsyncErrorInfo.INVALID_DOORBELL_VALUE, qid, offset)
                return
            queue.head = value
            self._drain(queue)
            for sqid in sorted(queue.sqids):
                self._process(self.state.sqs[sqid])
            return
        if not queue.tail_valid(value):
            self._doorbell_error(AsyncErrorInfo.INVALID_DOORBELL_VALUE, qid, offset)
            return
        queue.tail = value
        self._process(queue)

    def _doorbell_error(self, info: AsyncErrorInfo, qid: int, offset: int) -> None:
        """An invalid doorbell write: an Error asynchronous event (NVMe 1.4 §5.2, Figure 146)."""
        log.debug("invalid doorbell write at %#x (queue %d): %s", offset, qid, info.name)
        s = self.state
        s.errors.add(NO_ID, NO_ID, 0)
        s.events.pending.append((AsyncEventType.ERROR, info, LogPage.ERROR_INFORMATION))
        self._deliver_events()

    def _deliver_events(self) -> None:
        cq = self.state.cqs.get(ADMIN_QID)
        while cq is not None and (item := self.state.events.next_deliverable()) is not None:
            cid, (etype, info, lid) = item
            cq.backlog.append((async_event_dw0(etype, info, lid), ADMIN_QID, cid, 0))
            self._drain(cq)

    def _process(self, sq: SubmissionQueue) -> None:
        if self.faults.reorder_seed is None:
            self._fetch(sq, None)
            return
        if self._reorder is None:
            self._reorder = random.Random(self.faults.reorder_seed)
        done: list[tuple[Request, Status]] = []
        self._fetch(sq, done)
        self._reorder.shuffle(done)
        cq = self.state.cqs.get(sq.cqid)
        if cq is not None and self.power_cut is None:
            for req, status in done:
                self._complete(cq, req, status)

    def _fetch(self, sq: SubmissionQueue, deferred: list[tuple[Request, Status]] | None) -> None:
        """Fetch and execute what `sq` holds; completions go to its CQ, or to `deferred`."""
        s = self.state
        cq = s.cqs[sq.cqid]
        faults, events = self.faults, s.events
        while not sq.empty and sq.qid in s.sqs:
            if self._cfs or faults.fatal or (deferred is None and (cq.full or cq.backlog)):
                return  # a full CQ stalls fetching until its head doorbell moves
            try:
                raw = self.dma_read(sq.entry_addr(sq.head), SQE_SIZE)
            except DmaError as e:
                self._fatal(f"SQ {sq.qid} entry fetch failed: {e}")
                return
            sq.head = (sq.head + 1) % sq.size
            if faults.swallow:
                continue
            req = Request(sq.qid, Command.unpack(raw))
            writes = s.writes
            status = self._execute(req)
            if status is not None:
                if deferred is None:
                    self._complete(cq, req, status)
                else:
                    deferred.append((req, status))
            if s.writes != writes:
                self._maybe_cut()
                if self.power_cut is not None:
                    return
            if events.pending and events.outstanding:
                self._deliver_events()

    def _execute(self, req: Request) -> Status | None:
        cmd = req.cmd
        if cmd.flags and cmd.fuse:  # (flags 0, the usual case, has neither FUSE nor PSDT)
            log.debug("sq %d cid %d: fused operations not supported", req.sqid, cmd.cid)
            return generic(GenericStatus.INVALID_FIELD)
        if cmd.flags and cmd.psdt and (req.sqid == ADMIN_QID or cmd.psdt == PSDT_RESERVED):
            # admin commands use PRPs (NVMe 1.4 §4.2, Figure 105); PSDT 11b is reserved
            log.debug("sq %d cid %d: PSDT %d refused", req.sqid, cmd.cid, cmd.psdt)
            return generic(GenericStatus.INVALID_FIELD, dnr=True)
        if req.sqid != ADMIN_QID:
            return self.io.execute(req)
        if cmd.cid in self.state.events.outstanding:
            log.debug("admin cid %d still in use by an outstanding AER", cmd.cid)
            return generic(GenericStatus.CID_CONFLICT)
        handler = self.admin.table.get(cmd.opc)
        if handler is None:
            log.debug("admin opcode %#04x not supported", cmd.opc)
            return generic(GenericStatus.INVALID_OPCODE, dnr=True)
        return handler(req)

    def _complete(self, cq: CompletionQueue, req: Request, status: Status) -> None:
        cid = req.cmd.cid
        if status is not SUCCESS and not status.ok:
            self.state.errors.add(req.sqid, cid, status.encode(), nsid=req.cmd.nsid, lba=req.lba)
        if self.faults.wrong_cid > 0:
            self.faults.wrong_cid -= 1
            cid ^= CID_CORRUPTION
        cq.backlog.append((req.dw0, req.sqid, cid, status.encode()))
        self._drain(cq)

    def _drain(self, cq: CompletionQueue) -> None:
        """Post waiting completions while the CQ has room (NVMe 1.4 §4.6); with MSI-X the
        CQ's vector fires once for what was posted."""
        tail = cq.tail
        self._post(cq)
        if cq.tail != tail:
            self.irq.posted(cq)

    def _post(self, cq: CompletionQueue) -> None:
        while cq.backlog and not cq.full:
            dw0, sqid, cid, sf = cq.backlog[0]
            sq = self.state.sqs.get(sqid)
            entry = Completion(dw0, 0, sq.head if sq else 0, sqid, cid, (sf << 1) | cq.phase)
            try:
                self.dma_write(cq.entry_addr(cq.tail), entry.pack())
            except DmaError as e:
                self._fatal(f"CQ {cq.qid} entry post failed: {e}")
                return
            cq.backlog.popleft()
            cq.advance()

    def _fatal(self, why: str) -> None:
        log.warning("controller fatal status: %s", why)
        self._cfs = True


def _validate(cfg: NvmeConfig, count: int) -> None:
    """Reject parameters the register layout or the spec cannot express."""
    if count > cfg.max_namespaces:
        raise ValueError(f"{count} namespaces, at most {cfg.max_namespaces}")
    if not 1 <= cfg.mqes <= 0xFFFF:
        raise ValueError(f"MQES {cfg.mqes} outside 1..65535 (NVMe 1.4 §3.1.1)")
    if not 0 <= cfg.mdts <= 0xFF:
        raise ValueError(f"MDTS {cfg.mdts} does not fit a byte")
    if not 1 <= cfg.timeout <= 0xFF:
        raise ValueError(f"CAP.TO {cfg.timeout} outside 1..255")
    if not 0 <= cfg.ready_delay < cfg.timeout * 0.5:
        raise ValueError(f"ready delay {cfg.ready_delay} s not within CAP.TO")
    if not 1 <= cfg.max_ioqpairs <= 0xFFFF:
        raise ValueError(f"{cfg.max_ioqpairs} I/O queue pairs")
    end = DOORBELL_BASE + 2 * (cfg.max_ioqpairs + 1) * (DOORBELL_SIZE << cfg.dstrd)
    if cfg.dstrd < 0 or end > pci.MSIX_TABLE_OFFSET:
        raise ValueError(f"doorbells up to {end:#x} overlap the MSI-X table")
    if pci.MSIX_TABLE_OFFSET + pci.msix_table_size(cfg.msix_vectors) > pci.MSIX_PBA_OFFSET:
        raise ValueError(f"{cfg.msix_vectors} MSI-X vectors do not fit BAR0")

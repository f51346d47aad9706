"""Controller bring-up and commands, in the order NVMe 1.4 §7.6.1 gives.

Each step is a small method; constructors do no hardware work (STYLE.md 6).
DMA memory comes from an allocator the caller supplies (in the driver:
``mmap_anon``), so this module never touches the kernel or the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from qrv.drivers.devb_nvme.buffers import DEFAULT_BUFFERS, Bounce, BouncePool
from qrv.drivers.devb_nvme.errors import CommandFailed, ControllerTimeout
from qrv.drivers.devb_nvme.prp import HOST_PAGE
from qrv.drivers.devb_nvme.queues import DmaMemory, Idle, QueuePair, poll_idle
from qrv.drivers.devb_nvme.regs import ControllerRegs, Mmio
from qrv.errors import NvmeError
from qrv.lib.c.proc import ClockTime, delay
from qrv.spec.nvme import (
    CQE_SIZE,
    CQES_LOG2,
    CSTS_SHST,
    DSM_RANGE,
    IDENTIFY_DATA_SIZE,
    SQE_SIZE,
    SQES_LOG2,
    AdminOpcode,
    AqaField,
    Cc,
    CcCss,
    Cns,
    Command,
    Completion,
    Csts,
    DsmField,
    FeatureId,
    IdentifyController,
    IdentifyNamespace,
    NumQueuesField,
    NvmField,
    NvmOpcode,
    QueueField,
    Reg,
    Shn,
    Shst,
)

ADMIN_ENTRIES = 32
DEFAULT_IO_ENTRIES = 64
DEFAULT_MAX_TRANSFER = 1 << 20  # cap when MDTS is 0 (no limit) or larger
SHUTDOWN_POLL_S = 0.001
COMMAND_TIMEOUT_S = 5.0  # documented bound for one command (Linux uses 30-60 s)
FUA_BIT = NvmField.FUA.mask
MAX_NLB = 1 << 16  # CDW12 NLB is 16 bits, 0's based
MAX_DSM_NLB = 0xFFFF_FFFF  # a DSM range's length in LBAs is 32 bits
MAX_BATCH = 8  # data commands one request keeps in flight at once
BUFFER_WAIT_S = 0.0005  # between looks for a free bounce buffer


@dataclass(frozen=True)
class Namespace:
    nsid: int
    nlba: int
    lba_size: int

    @property
    def size_bytes(self) -> int:
        return self.nlba * self.lba_size


Allocator = Callable[[int], DmaMemory]
Chunk = tuple[int, int, int]  # (first LBA, count, where its bytes start in the transfer)


class Payload(Protocol):
    """A Write's data where they are (e.g. still in the client's message), copied once,
    chunk by chunk, into the bounce buffers."""

    def __len__(self) -> int: ...

    def readinto(self, dest: memoryview, offset: int) -> None:
        """Copy bytes [offset, offset + len(dest)) of the data into `dest`."""


@dataclass(frozen=True)
class Transfer:
    """A Read or Write of blocks (a Write's data in `payload`; of what a Read reads, the
    bytes [skip, skip + length) are wanted)."""

    opc: NvmOpcode
    ns: Namespace
    payload: memoryview | Payload | None = None
    fua: bool = False
    skip: int = 0
    length: int = 0

    def what(self, lba: int, count: int) -> str:
        """How a log line names the command for `count` blocks at `lba`."""
        name = "Read" if self.opc == NvmOpcode.READ else "Write" + (" FUA" if self.fua else "")
        return f"{name} nsid={self.ns.nsid} LBA={lba} count={count}"


def _fill(buf: Bounce, payload: memoryview | Payload, start: int, nbytes: int) -> None:
    """Bytes [start, start + nbytes) of a Write's data into its bounce buffer, one copy:
    in place where RAM is plain memory, else through the bus."""
    if isinstance(payload, memoryview):
        buf.data.write(0, payload[start : start + nbytes])  # a view: one copy
        return
    view = buf.data.view(0, nbytes)
    if view is not None:
        payload.readinto(view, start)
        return
    chunk = bytearray(nbytes)
    payload.readinto(memoryview(chunk), start)
    buf.data.write(0, memoryview(chunk))


class Controller:
    """An NVMe controller behind a mapped BAR0."""

    def __init__(
        self,
        bar0: Mmio,
        alloc: Allocator,
        *,
        io_entries: int = DEFAULT_IO_ENTRIES,
        timeout_s: float = COMMAND_TIMEOUT_S,
        buffers: int = DEFAULT_BUFFERS,
        idle: Idle = poll_idle,
    ) -> None:
        self.bar0 = bar0
        self.alloc = alloc
        self.io_entries = io_entries
        self.timeout_s = timeout_s
        self.idle = idle
        """How a thread waits for a completion: polling, or the interrupt thread's wake-up."""
        self.regs: ControllerRegs | None = None
        self.admin: QueuePair | None = None
        self.io: QueuePair | None = None
        """The first I/O queue pair (all of them: :attr:`io_queues`)."""
        self.io_queues: list[QueuePair] = []
        self.cq_interrupts = False
        """Create I/O CQs with interrupts enabled (IEN, vector 0: INTx or MSI-X 0)."""
        self._turn = 0
        self.max_transfer = DEFAULT_MAX_TRANSFER
        self._buffer_limit = buffers
        self._buffers: BouncePool | None = None
        self._identify: DmaMemory | None = None

    # -- bring-up (NVMe 1.4 §7.6.1) ----------------------------------------------------

    def read_cap(self) -> ControllerRegs:
        """Phase A: read CAP (MQES, DSTRD, TO, MPSMIN).  Only 4 KiB host pages are supported."""
        self.regs = ControllerRegs(self.bar0)
        cap = self.regs.cap
        if cap.min_page_size > HOST_PAGE or cap.max_page_size < HOST_PAGE:
            raise NvmeError(
                f"controller pages {cap.min_page_size}..{cap.max_page_size} B exclude "
                f"the driver's {HOST_PAGE} B pages"
            )
        return self.regs

    @property
    def r(self) -> ControllerRegs:
        if self.regs is None:
            raise NvmeError("controller registers not read yet (call read_cap first)")
        return self.regs

    def disable(self) -> None:
        """CC.EN = 0, then wait for CSTS.RDY = 0 (NVMe 1.4 §3.1.5, §7.3.2)."""
        cc = self.r.read32(Reg.CC)
        if cc & 1:
            self.r.write32(Reg.CC, cc & ~1)
        self.r.wait_ready(False, allow_fatal=True)

    def setup_admin_queues(self, entries: int = ADMIN_ENTRIES) -> QueuePair:
        """Allocate the admin SQ/CQ and program AQA, ASQ, ACQ (NVMe 1.4 §3.1.8-3.1.10)."""
        entries = min(entries, self.r.cap.max_queue_entries)
        sq = self.alloc(entries * SQE_SIZE)
        cq = self.alloc(entries * CQE_SIZE)
        aqa = AqaField.ASQS.put(0, entries - 1)
        self.r.write32(Reg.AQA, AqaField.ACQS.put(aqa, entries - 1))
        self.r.write64(Reg.ASQ, sq.paddr)
        self.r.write64(Reg.ACQ, cq.paddr)
        self.admin = QueuePair(self.r, 0, entries, sq, cq, timeout_s=self.timeout_s, idle=self.idle)
        return self.admin

    def enable(self) -> None:
        """CC = EN | CSS=NVM | MPS (4 KiB) | IOSQES=6 | IOCQES=4; wait CSTS.RDY = 1."""
        mps = HOST_PAGE.bit_length() - 1 - 12
        cc = Cc(en=True, css=CcCss.NVM, mps=mps, iosqes=SQES_LOG2, iocqes=CQES_LOG2)
        self.r.write32(Reg.CC, cc.encode())
        self.r.wait_ready(True)

    # -- admin commands -------------------------------------------------------------------

    def _admin(self, cmd: Command, what: str) -> Completion:
        if self.admin is None:
            raise NvmeError("admin queues are not set up")
        cqe = self.admin.execute(cmd, what)
        if not cqe.status_field.ok:
            raise CommandFailed(what, cqe.status_field)
        return cqe

    def _identify_buffer(self) -> DmaMemory:
        """The one persistent Identify buffer (the seed's fix: never unmapped, zeroed each use)."""
        if self._identify is None:
            self._identify = self.alloc(IDENTIFY_DATA_SIZE)
        self._identify.write(0, bytes(IDENTIFY_DATA_SIZE))
        return self._identify

    def identify(self, cns: Cns, nsid: int = 0) -> bytes:
        buf = self._identify_buffer()
        cmd = Command(AdminOpcode.IDENTIFY, nsid=nsid, prp1=buf.paddr, cdw10=int(cns))
        self._admin(cmd, f"Identify CNS {int(cns):02x}h nsid {nsid}")
        return buf.read(0, IDENTIFY_DATA_SIZE)

    def identify_controller(self) -> IdentifyController:
        ident = IdentifyController.unpack(self.identify(Cns.CONTROLLER))
        if ident.mdts:
            limit = (1 << ident.mdts) * self.r.cap.min_page_size
            self.max_transfer = min(limit, DEFAULT_MAX_TRANSFER)
        return ident

    def active_namespaces(self) -> list[int]:
        raw = self.identify(Cns.ACTIVE_NAMESPACES)
        ids = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]
        return [n for n in ids[: ids.index(0)] if n] if 0 in ids else ids

    def identify_namespace(self, nsid: int) -> Namespace:
        ns = IdentifyNamespace.unpack(self.identify(Cns.NAMESPACE, nsid))
        return Namespace(nsid, ns.nsze, ns.lba_size)

    def set_queue_count(self, wanted: int = 1) -> int:
        """Set Features / Number of Queues (NVMe 1.4 §5.21.1.7); returns the I/O queue
        pairs allocated (the smaller of the SQs and CQs; it may differ from `wanted`)."""
        dw11 = NumQueuesField.NCQR.put(NumQueuesField.NSQR.put(0, wanted - 1), wanted - 1)
        cmd = Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES, cdw11=dw11)
        cqe = self._admin(cmd, "Set Features (Number of Queues)")
        return min(NumQueuesField.NSQR.get(cqe.dw0), NumQueuesField.NCQR.get(cqe.dw0)) + 1

    def create_io_queues(self, qid: int = 1) -> QueuePair:
        """Create I/O CQ then I/O SQ `qid` (NVMe 1.4 §5.3, §5.4): physically contiguous."""
        entries = min(self.io_entries, self.r.cap.max_queue_entries)
        sq = self.alloc(entries * SQE_SIZE)
        cq = self.alloc(entries * CQE_SIZE)
        size = QueueField.QSIZE.put(QueueField.QID.put(0, qid), entries - 1)
        cq_dw11 = QueueField.PC.mask | (QueueField.IEN.mask if self.cq_interrupts else 0)
        self._admin(
            Command(AdminOpcode.CREATE_IO_CQ, prp1=cq.paddr, cdw10=size, cdw11=cq_dw11),
            f"Create I/O CQ {qid}",
        )
        sq_dw11 = QueueField.CQID.put(QueueField.PC.mask, qid)
        self._admin(
            Command(AdminOpcode.CREATE_IO_SQ, prp1=sq.paddr, cdw10=size, cdw11=sq_dw11),
            f"Create I/O SQ {qid}",
        )
        qp = QueuePair(self.r, qid, entries, sq, cq, timeout_s=self.timeout_s, idle=self.idle)
        qp.polled = self.idle is poll_idle
        self.io_queues.append(qp)
        if self.io is None:
            self.io = qp
        return qp

    def create_io_queue_pairs(self, count: int) -> list[QueuePair]:
        """I/O queue pairs 1..`count` (requests go to them in turn)."""
        return [self.create_io_queues(qid) for qid in range(1, count + 1)]

    def shutdown(self) -> bool:
        """Normal shutdown notification, bounded by CAP.TO (NVMe 1.4 §7.6.2).  True if complete."""
        cc = Cc.decode(self.r.read32(Reg.CC))
        self.r.write32(Reg.CC, replace(cc, shn=Shn.NORMAL).encode())
        deadline = ClockTime() + self.r.ready_timeout_s
        while ClockTime() < deadline:
            if CSTS_SHST.get(self.r.read32(Reg.CSTS)) == Shst.COMPLETE:
                return True
            delay(SHUTDOWN_POLL_S)
        return False

    @property
    def buffers(self) -> BouncePool:
        """The bounce buffers, sized to `max_transfer` (known after Identify Controller)."""
        if self._buffers is None:
            self._buffers = BouncePool(self.alloc, self.max_transfer, self._buffer_limit)
        return self._buffers

    # -- I/O -------------------------------------------------------------------------------

    def _pick_queue(self) -> QueuePair:
        """The next I/O queue pair in turn that has a free slot (else the next in turn:
        its submitter waits for a slot)."""
        if not self.io_queues:
            raise NvmeError("I/O queues are not set up")
        count = len(self.io_queues)
        for step in range(count):
            qp = self.io_queues[(self._turn + step) % count]
            if qp.free_slots > 0:
                break
        else:
            qp = self.io_queues[self._turn % count]
        self._turn = (self.io_queues.index(qp) + 1) % count
        return qp

    def _take_buffers(self, wanted: int, what: str) -> list[Bounce]:
        """At least one bounce buffer (up to `wanted`), waiting while all are in use."""
        bufs = self.buffers.take(wanted)
        if bufs:  # the usual case: no wait, so no deadline either
            return bufs
        deadline = ClockTime() + self.timeout_s
        while not (bufs := self.buffers.take(wanted)):
            if ClockTime() >= deadline:
                raise ControllerTimeout(
                    f"{what}: no free bounce buffer within {self.timeout_s:g} s "
                    f"({self.buffers.lost} lost to commands that never completed)"
                )
            delay(BUFFER_WAIT_S)
        return bufs

    def _io(self, cmd: Command, what: str) -> Completion:
        """One I/O command without data (or with data already placed), on the next queue."""
        qp = self._pick_queue()
        cqe = qp.execute(cmd, what)
        if not cqe.status_field.ok:
            raise CommandFailed(what, cqe.status_field)
        return cqe

    def _chunks(self, ns: Namespace, slba: int, nlb: int) -> list[Chunk]:
        """`nlb` blocks from `slba` as commands of at most `max_transfer`."""
        per_cmd = self.max_transfer // ns.lba_size
        return [(slba + i, min(per_cmd, nlb - i), i * ns.lba_size) for i in range(0, nlb, per_cmd)]

    def _transfers(self, t: Transfer, chunks: list[Chunk]) -> list[bytes]:
        """`t`'s commands, up to :data:`MAX_BATCH` of them in flight at once (one
        doorbell per batch); they may complete in any order.  Returns the Reads' wanted
        bytes, one piece per batch (joined straight out of the bounce buffers: one
        copy), in the chunks' order."""
        results: list[bytes] = []
        done = 0
        while done < len(chunks):
            lba, count, _ = chunks[done]
            what = t.what(lba, count)
            bufs = self._take_buffers(min(len(chunks) - done, MAX_BATCH), what)
            qp = self._pick_queue()
            room = qp.wait_slots(what, len(bufs))
            self.buffers.give(bufs[room:])
            batch = chunks[done : done + room]
            results += self._batch(qp, t, list(zip(bufs[:room], batch, strict=True)))
            done += room
        return results

    def _batch(self, qp: QueuePair, t: Transfer, work: list[tuple[Bounce, Chunk]]) -> list[bytes]:
        cids: dict[int, tuple[Bounce, int, int, str]] = {}
        if t.payload is not None:  # all of a Write's data in place before any SQE
            try:
                for buf, (_, count, start) in work:
                    _fill(buf, t.payload, start, count * t.ns.lba_size)
            except BaseException:  # e.g. the client went away: nothing was submitted
                self.buffers.give([buf for buf, _ in work])
                raise
        for buf, (lba, count, start) in work:
            nbytes = count * t.ns.lba_size
            prp1, prp2 = buf.prps(nbytes)
            cmd = Command(
                t.opc,
                nsid=t.ns.nsid,
                prp1=prp1,
                prp2=prp2,
                cdw10=lba & 0xFFFF_FFFF,
                cdw11=lba >> 32,
                cdw12=(count - 1) | (FUA_BIT if t.fua else 0),
            )
            what = t.what(lba, count)
            cids[qp.submit(cmd, what, ring=False)] = (buf, start, nbytes, what)
        qp.ring()
        bufs = [buf for buf, _ in work]
        try:
            done = qp.wait_all(cids, next(iter(cids.values()))[3])
        except NvmeError:
            self.buffers.lose(bufs)  # the controller may still move data through them
            raise
        try:
            parts: list[bytes | memoryview] = []
            for cid, (buf, start, nbytes, what) in cids.items():  # submission order: LBA order
                status = done[cid].status_field
                if not status.ok:
                    raise CommandFailed(what, status)
                # of a Read's buffer, only the bytes wanted
                lo, hi = max(t.skip - start, 0), min(t.skip + t.length - start, nbytes)
                if t.payload is None and lo < hi:
                    view = buf.data.view(lo, hi - lo)  # in place where RAM is plain memory
                    parts.append(buf.data.read(lo, hi - lo) if view is None else view)
            # one copy out of the buffers for the whole batch, before they go back
            return [b"".join(parts)] if parts else []
        finally:
            self.buffers.give(bufs)

    def read(
        self, ns: Namespace, slba: int, nlb: int, skip: int = 0, nbytes: int | None = None
    ) -> bytes:
        """Read `nlb` blocks at `slba`, split into transfers of at most `max_transfer`;
        of them, the `nbytes` bytes (default: to the end) from byte `skip` (copied out of
        the bounce buffers alone, not cut from the blocks afterwards: one copy)."""
        total = nlb * ns.lba_size
        length = total - skip if nbytes is None else nbytes
        if skip < 0 or length < 0 or skip + length > total:
            raise NvmeError(f"bytes {skip}..{skip + length} of a {total}-byte read")
        t = Transfer(NvmOpcode.READ, ns, skip=skip, length=length)
        return b"".join(self._transfers(t, self._chunks(ns, slba, nlb)))

    def read_blocks_at(self, ns: Namespace, lbas: list[int]) -> bytes:
        """One block at each of `lbas`, in that order: one Read each, in flight together
        (a batch), e.g. the two edges of a write not aligned to blocks."""
        size = ns.lba_size
        t = Transfer(NvmOpcode.READ, ns, length=len(lbas) * size)
        return b"".join(self._transfers(t, [(lba, 1, i * size) for i, lba in enumerate(lbas)]))

    def write(
        self, ns: Namespace, slba: int, payload: bytes | memoryview | Payload, *, fua: bool = False
    ) -> None:
        """Write whole blocks at `slba`, split into transfers of at most `max_transfer`;
        `fua` sets Force Unit Access on each (NVMe 1.4 §6.15).  A :class:`Payload` is
        copied straight into the bounce buffers (e.g. from the client's message)."""
        if len(payload) % ns.lba_size:
            raise NvmeError(f"write of {len(payload)} bytes is not whole {ns.lba_size}-byte LBAs")
        nlb = len(payload) // ns.lba_size
        data = memoryview(payload) if isinstance(payload, bytes | memoryview) else payload
        t = Transfer(NvmOpcode.WRITE, ns, data, fua)
        self._transfers(t, self._chunks(ns, slba, nlb))

    def flush(self, ns: Namespace) -> None:
        """Flush (NVMe 1.4 §6.8): the namespace's volatile write cache to the medium."""
        self._io(Command(NvmOpcode.FLUSH, nsid=ns.nsid), f"Flush nsid={ns.nsid}")

    def write_zeroes(self, ns: Namespace, slba: int, nlb: int) -> None:
        """Write Zeroes (NVMe 1.4 §6.16), at most 65536 blocks per command."""
        while nlb > 0:
            count = min(nlb, MAX_NLB)
            cmd = Command(
                NvmOpcode.WRITE_ZEROES,
                nsid=ns.nsid,
                cdw10=slba & 0xFFFF_FFFF,
                cdw11=slba >> 32,
                cdw12=count - 1,
            )
            self._io(cmd, f"Write Zeroes nsid={ns.nsid} LBA={slba} count={count}")
            slba += count
            nlb -= count

    def deallocate(self, ns: Namespace, slba: int, nlb: int) -> None:
        """Dataset Management with Deallocate (NVMe 1.4 §6.7), one range per command."""
        while nlb > 0:
            count = min(nlb, MAX_DSM_NLB)
            what = f"Deallocate nsid={ns.nsid} LBA={slba} count={count}"
            [buf] = self._take_buffers(1, what)
            buf.data.write(0, DSM_RANGE.pack(0, count, slba))
            cmd = Command(
                NvmOpcode.DATASET_MANAGEMENT,
                nsid=ns.nsid,
                prp1=buf.data.paddr,
                cdw10=0,  # one range (0's based)
                cdw11=DsmField.AD.mask,
            )
            try:
                self._io(cmd, what)
            except CommandFailed:
                self.buffers.give([buf])
                raise
            except NvmeError:
                self.buffers.lose([buf])
                raise
            self.buffers.give([buf])
            slba += count
            nlb -= count

    def use_interrupts(self, idle: Idle) -> None:
        """From now on the interrupt service thread drains every CQ; waiters sleep
        in `idle` (queues made later too)."""
        self.idle = idle
        for qp in [self.admin, *self.io_queues]:
            if qp is not None:
                qp.idle, qp.polled = idle, False

    def fatal(self) -> bool:
        return bool(self.r.csts & Csts.CFS)

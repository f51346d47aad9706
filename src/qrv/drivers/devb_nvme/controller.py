"""Controller bring-up and commands, in the order NVMe 1.4 §7.6.1 gives.

Each step is a small method; constructors do no hardware work (STYLE.md 6).
DMA memory comes from an allocator the caller supplies (in the driver:
``mmap_anon``), so this module never touches the kernel or the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from qrv.drivers.devb_nvme.errors import CommandFailed
from qrv.drivers.devb_nvme.prp import HOST_PAGE, prps, transfer_buffer
from qrv.drivers.devb_nvme.queues import DmaMemory, QueuePair
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


@dataclass(frozen=True)
class Namespace:
    nsid: int
    nlba: int
    lba_size: int

    @property
    def size_bytes(self) -> int:
        return self.nlba * self.lba_size


Allocator = Callable[[int], DmaMemory]


class Controller:
    """An NVMe controller behind a mapped BAR0."""

    def __init__(
        self,
        bar0: Mmio,
        alloc: Allocator,
        *,
        io_entries: int = DEFAULT_IO_ENTRIES,
        timeout_s: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self.bar0 = bar0
        self.alloc = alloc
        self.io_entries = io_entries
        self.timeout_s = timeout_s
        self.regs: ControllerRegs | None = None
        self.admin: QueuePair | None = None
        self.io: QueuePair | None = None
        self.max_transfer = DEFAULT_MAX_TRANSFER
        self._identify: DmaMemory | None = None
        self._data: DmaMemory | None = None
        self._prp_list: DmaMemory | None = None

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
        self.admin = QueuePair(self.r, 0, entries, sq, cq, timeout_s=self.timeout_s)
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
        """Set Features / Number of Queues (NVMe 1.4 §5.21.1.7); returns SQs allocated."""
        dw11 = NumQueuesField.NCQR.put(NumQueuesField.NSQR.put(0, wanted - 1), wanted - 1)
        cmd = Command(AdminOpcode.SET_FEATURES, cdw10=FeatureId.NUMBER_OF_QUEUES, cdw11=dw11)
        cqe = self._admin(cmd, "Set Features (Number of Queues)")
        return NumQueuesField.NSQR.get(cqe.dw0) + 1

    def create_io_queues(self, qid: int = 1) -> QueuePair:
        """Create I/O CQ then I/O SQ (NVMe 1.4 §5.3, §5.4): physically contiguous, polled."""
        entries = min(self.io_entries, self.r.cap.max_queue_entries)
        sq = self.alloc(entries * SQE_SIZE)
        cq = self.alloc(entries * CQE_SIZE)
        size = QueueField.QSIZE.put(QueueField.QID.put(0, qid), entries - 1)
        self._admin(
            Command(AdminOpcode.CREATE_IO_CQ, prp1=cq.paddr, cdw10=size, cdw11=QueueField.PC.mask),
            f"Create I/O CQ {qid}",
        )
        sq_dw11 = QueueField.CQID.put(QueueField.PC.mask, qid)
        self._admin(
            Command(AdminOpcode.CREATE_IO_SQ, prp1=sq.paddr, cdw10=size, cdw11=sq_dw11),
            f"Create I/O SQ {qid}",
        )
        self.io = QueuePair(self.r, qid, entries, sq, cq, timeout_s=self.timeout_s)
        return self.io

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

    # -- I/O -------------------------------------------------------------------------------

    def _data_buffers(self) -> tuple[DmaMemory, DmaMemory]:
        """A bounce buffer of `max_transfer` bytes and its PRP list (prp.py)."""
        if self._data is None or self._prp_list is None:
            self._data, self._prp_list = transfer_buffer(self.alloc, self.max_transfer)
        return self._data, self._prp_list

    def _io(self, cmd: Command, what: str) -> Completion:
        if self.io is None:
            raise NvmeError("I/O queues are not set up")
        cqe = self.io.execute(cmd, what)
        if not cqe.status_field.ok:
            raise CommandFailed(what, cqe.status_field)
        return cqe

    def _data_command(
        self, opc: NvmOpcode, ns: Namespace, slba: int, count: int, *, fua: bool = False
    ) -> None:
        """One Read or Write of `count` blocks through the bounce buffer (PRP1, PRP2 or
        the PRP list, NVMe 1.4 §4.3)."""
        prp1, prp2 = prps(*self._data_buffers(), count * ns.lba_size)
        cmd = Command(
            opc,
            nsid=ns.nsid,
            prp1=prp1,
            prp2=prp2,
            cdw10=slba & 0xFFFF_FFFF,
            cdw11=slba >> 32,
            cdw12=(count - 1) | (FUA_BIT if fua else 0),
        )
        name = "Read" if opc == NvmOpcode.READ else "Write" + (" FUA" if fua else "")
        self._io(cmd, f"{name} nsid={ns.nsid} LBA={slba} count={count}")

    def read(self, ns: Namespace, slba: int, nlb: int) -> bytes:
        """Read `nlb` blocks at `slba`, split into transfers of at most `max_transfer`."""
        data, _ = self._data_buffers()
        per_cmd = self.max_transfer // ns.lba_size
        chunks: list[bytes] = []
        while nlb > 0:
            count = min(nlb, per_cmd)
            self._data_command(NvmOpcode.READ, ns, slba, count)
            chunks.append(data.read(0, count * ns.lba_size))
            slba += count
            nlb -= count
        return b"".join(chunks)  # one transfer (and none): join copies nothing

    def write(self, ns: Namespace, slba: int, payload: bytes, *, fua: bool = False) -> None:
        """Write whole blocks at `slba`, split into transfers of at most `max_transfer`;
        `fua` sets Force Unit Access on each (NVMe 1.4 §6.15)."""
        if len(payload) % ns.lba_size:
            raise NvmeError(f"write of {len(payload)} bytes is not whole {ns.lba_size}-byte LBAs")
        data, _ = self._data_buffers()
        view = memoryview(payload)
        step = self.max_transfer - self.max_transfer % ns.lba_size
        for pos in range(0, len(payload), step):
            chunk = view[pos : pos + step]
            data.write(0, bytes(chunk))
            count = len(chunk) // ns.lba_size
            self._data_command(NvmOpcode.WRITE, ns, slba + pos // ns.lba_size, count, fua=fua)

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
        data, _ = self._data_buffers()
        while nlb > 0:
            count = min(nlb, MAX_DSM_NLB)
            data.write(0, DSM_RANGE.pack(0, count, slba))
            cmd = Command(
                NvmOpcode.DATASET_MANAGEMENT,
                nsid=ns.nsid,
                prp1=data.paddr,
                cdw10=0,  # one range (0's based)
                cdw11=DsmField.AD.mask,
            )
            self._io(cmd, f"Deallocate nsid={ns.nsid} LBA={slba} count={count}")
            slba += count
            nlb -= count

    def fatal(self) -> bool:
        return bool(self.r.csts & Csts.CFS)

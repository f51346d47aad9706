"""A small host-side NVMe driver for tests, reaching the controller only through a bus.

It uses nothing but a :class:`qrv.hw.bus.PhysicalBus`: config space through ECAM, BAR0
registers by loads and stores, and guest RAM (a region the caller names) for queues, PRP
lists and data buffers.  It never looks inside the device model, so the same code drives
QEMU's NVMe device over qtest for differential tests.  Commands go in as raw SQEs and
come back as raw CQEs, so tests see exact status codes, DNR and phase bits.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from qrv.hw.bus import PhysicalBus
from qrv.spec.nvme import (
    CQE_SIZE,
    CQES_LOG2,
    IDENTIFY_DATA_SIZE,
    SQE_SIZE,
    SQES_LOG2,
    AdminOpcode,
    AqaField,
    Cap,
    Cc,
    Command,
    Completion,
    Csts,
    QueueField,
    Reg,
    Status,
    cq_head_doorbell,
    sq_tail_doorbell,
)
from qrv.spec.pci import (
    BAR_MEM_TYPE_64,
    BAR_MEM_TYPE_MASK,
    Cfg,
    ecam_offset,
)
from qrv.spec.pci import (
    Command as PciCommand,
)

PAGE = 4096
POLL_TIMEOUT_S = 5.0


class HostError(AssertionError):
    """The controller did not do what the test host expected (timeout, CFS)."""


class DmaArena:
    """A bump allocator over a guest RAM range: buffers for queues, lists and data."""

    def __init__(self, base: int, size: int) -> None:
        self.base, self.size, self.next = base, size, base

    def alloc(self, size: int, align: int = PAGE) -> int:
        addr = -(-self.next // align) * align
        if addr + size > self.base + self.size:
            raise HostError(f"DMA arena exhausted ({size} bytes wanted)")
        self.next = addr + size
        return addr


@dataclass
class HostQueue:
    """A host's view of an SQ/CQ pair with the same id."""

    qid: int
    sq_base: int
    sq_size: int
    cq_base: int
    cq_size: int
    sq_tail: int = 0
    cq_head: int = 0
    phase: int = 1
    next_cid: int = 0


class NvmeHost:
    """Drive an NVMe function at `bdf` behind an ECAM window, with BAR0 at `bar0`."""

    def __init__(
        self,
        bus: PhysicalBus,
        *,
        ecam_base: int,
        dma_base: int,
        dma_size: int,
        bar0: int = 0x4000_0000,
        bdf: tuple[int, int, int] = (0, 2, 0),
    ) -> None:
        self.bus = bus
        self.cfg_base = ecam_base + ecam_offset(*bdf)
        self.bar0 = bar0
        self.dma = DmaArena(dma_base, dma_size)
        self.queues: dict[int, HostQueue] = {}
        self.mps = 0
        self._identify_buf: int | None = None
        self._dstrd: int | None = None

    # -- config space and BAR0 --------------------------------------------------------------

    def cfg_read(self, off: int, width: int = 4) -> int:
        return self.bus.load(self.cfg_base + off, width)

    def cfg_write(self, off: int, value: int, width: int = 4) -> None:
        self.bus.store(self.cfg_base + off, width, value)

    def setup_pci(self, *, bus_master: bool = True) -> None:
        """Place BAR0 and enable memory decode (and bus mastering)."""
        low = self.cfg_read(Cfg.BAR0)
        self.cfg_write(Cfg.BAR0, self.bar0 & 0xFFFF_FFFF)
        if low & BAR_MEM_TYPE_MASK == BAR_MEM_TYPE_64:
            self.cfg_write(Cfg.BAR0 + 4, self.bar0 >> 32)
        cmd = PciCommand.MEMORY_SPACE | (PciCommand.BUS_MASTER if bus_master else 0)
        self.cfg_write(Cfg.COMMAND, int(cmd), 2)

    def read32(self, off: int) -> int:
        return self.bus.load(self.bar0 + off, 4)

    def write32(self, off: int, value: int) -> None:
        self.bus.store(self.bar0 + off, 4, value)

    def read64(self, off: int) -> int:
        return self.bus.load(self.bar0 + off, 8)

    def write64(self, off: int, value: int) -> None:
        self.bus.store(self.bar0 + off, 8, value)

    @property
    def cap(self) -> Cap:
        return Cap.decode(self.read64(Reg.CAP))

    def csts(self) -> Csts:
        return Csts(self.read32(Reg.CSTS))

    def wait_csts(self, mask: Csts, value: Csts, timeout: float | None = None) -> Csts:
        """Poll CSTS until (CSTS & mask) == value, at most CAP.TO (or `timeout`) seconds."""
        limit = self.cap.timeout_ms / 1000 if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            csts = self.csts()
            if csts & mask == value:
                return csts
            if csts & Csts.CFS and not value & Csts.CFS:
                raise HostError(f"controller fatal status (CSTS {int(csts):#x})")
            if time.monotonic() > deadline:
                raise HostError(f"CSTS {int(csts):#x}: wanted {int(value):#x} under {int(mask):#x}")
            time.sleep(0.001)

    # -- bring-up ----------------------------------------------------------------------------

    def disable(self) -> None:
        self.write32(Reg.CC, 0)
        self.wait_csts(Csts.RDY, Csts(0))
        self.queues.clear()

    def configure(self, entries: int = 16, cc: Cc | None = None) -> Cc:
        """Allocate and program the admin queues; returns the CC to enable with."""
        cc = cc or Cc(en=True, mps=self.mps, iosqes=SQES_LOG2, iocqes=CQES_LOG2)
        page = max(PAGE, cc.page_size)
        sq = self.dma.alloc(entries * SQE_SIZE, page)
        cq = self.dma.alloc(entries * CQE_SIZE, page)
        self.bus.write(cq, bytes(entries * CQE_SIZE))
        aqa = AqaField.ACQS.put(AqaField.ASQS.put(0, entries - 1), entries - 1)
        self.write32(Reg.AQA, aqa)
        self.write64(Reg.ASQ, sq)
        self.write64(Reg.ACQ, cq)
        self.queues[0] = HostQueue(0, sq, entries, cq, entries)
        return cc

    def enable(self, entries: int = 16, *, cc: Cc | None = None, wait: bool = True) -> Csts:
        """Reset, set up the admin queues and enable (NVMe 1.4 §7.6.1)."""
        self.disable()
        cc = self.configure(entries, cc)
        self.write32(Reg.CC, cc.encode())
        if not wait:
            return self.csts()
        csts = self.wait_csts(Csts.RDY | Csts.CFS, Csts.RDY)
        self.mps = cc.mps
        return csts

    # -- queues ----------------------------------------------------------------------------------

    @property
    def dstrd(self) -> int:
        """CAP.DSTRD, read once (doorbells are on the hot path)."""
        if self._dstrd is None:
            self._dstrd = self.cap.dstrd
        return self._dstrd

    def submit(self, qid: int, cmd: Command | bytes, *, ring: bool = True) -> int:
        """Place an SQE (a Command gets the next CID) and optionally ring the tail doorbell."""
        q = self.queues[qid]
        if isinstance(cmd, Command):
            cmd = cmd._replace(cid=q.next_cid)
            q.next_cid = (q.next_cid + 1) & 0xFFFF
            raw = cmd.pack()
        else:
            raw = cmd
        self.bus.write(q.sq_base + q.sq_tail * SQE_SIZE, raw)
        q.sq_tail = (q.sq_tail + 1) % q.sq_size
        if ring:
            self.ring(qid)
        return int.from_bytes(raw[2:4], "little")

    def ring(self, qid: int, tail: int | None = None) -> None:
        q = self.queues[qid]
        self.write32(sq_tail_doorbell(qid, self.dstrd), q.sq_tail if tail is None else tail)

    def peek(self, qid: int) -> Completion | None:
        """The CQE at the head if its phase says it is new, without consuming it."""
        q = self.queues[qid]
        raw = self.bus.read(q.cq_base + q.cq_head * CQE_SIZE, CQE_SIZE)
        cqe = Completion.unpack(raw)
        return cqe if cqe.phase == q.phase else None

    def poll(self, qid: int, *, ack: bool = True, timeout: float = POLL_TIMEOUT_S) -> Completion:
        """Wait for the next CQE, consume it and (with `ack`) ring the CQ head doorbell."""
        deadline = time.monotonic() + timeout
        while (cqe := self.peek(qid)) is None:
            if time.monotonic() > deadline:
                raise HostError(f"no completion on queue {qid} within {timeout} s")
            time.sleep(0.0005)
        q = self.queues[qid]
        q.cq_head = (q.cq_head + 1) % q.cq_size
        if q.cq_head == 0:
            q.phase ^= 1
        if ack:
            self.ack(qid)
        return cqe

    def ack(self, qid: int, head: int | None = None) -> None:
        q = self.queues[qid]
        self.write32(cq_head_doorbell(qid, self.dstrd), q.cq_head if head is None else head)

    def command(self, qid: int, cmd: Command | bytes) -> Completion:
        self.submit(qid, cmd)
        return self.poll(qid)

    def admin(self, cmd: Command | bytes) -> Completion:
        return self.command(0, cmd)

    # -- data buffers and PRPs ----------------------------------------------------------------

    def buffer(self, size: int, align: int = PAGE) -> int:
        return self.dma.alloc(size, align)

    def prp_pair(self, pages: list[int], *, list_addr: int | None = None) -> tuple[int, int]:
        """PRP1/PRP2 for data in `pages` (first may carry an offset); builds a PRP list
        (chained across list pages as needed) at `list_addr` when more than two pages."""
        if len(pages) <= 2:
            return pages[0], pages[1] if len(pages) == 2 else 0
        page = 1 << (12 + self.mps)
        rest = pages[1:]
        head = list_addr if list_addr is not None else self.buffer(page, page)
        addr = head
        while rest:
            slots = (page - addr % page) // 8
            if len(rest) <= slots:
                self.bus.write(addr, struct.pack(f"<{len(rest)}Q", *rest))
                break
            nxt = self.buffer(page, page)
            chunk = rest[: slots - 1]
            self.bus.write(addr, struct.pack(f"<{slots}Q", *chunk, nxt))
            rest = rest[slots - 1 :]
            addr = nxt
        return pages[0], head

    def contiguous(self, addr: int, length: int) -> tuple[int, int]:
        """PRPs for a physically contiguous buffer at `addr`."""
        page = 1 << (12 + self.mps)
        pages = [addr]
        nxt = (addr // page + 1) * page
        while nxt < addr + length:
            pages.append(nxt)
            nxt += page
        return self.prp_pair(pages)

    # -- commands -----------------------------------------------------------------------------

    def identify(self, cns: int, nsid: int = 0, cdw10_extra: int = 0) -> tuple[Completion, bytes]:
        if self._identify_buf is None:
            self._identify_buf = self.buffer(IDENTIFY_DATA_SIZE)
        buf = self._identify_buf
        prp1, prp2 = self.contiguous(buf, IDENTIFY_DATA_SIZE)
        cqe = self.admin(
            Command(AdminOpcode.IDENTIFY, nsid=nsid, prp1=prp1, prp2=prp2, cdw10=cns | cdw10_extra)
        )
        return cqe, self.bus.read(buf, IDENTIFY_DATA_SIZE)

    def create_io_queues(
        self, qid: int, sq_size: int = 16, cq_size: int = 16, *, ien: bool = False
    ) -> None:
        """Create CQ then SQ `qid` (NVMe 1.4 §7.6.1 step order; the CQ's interrupts enabled
        with `ien`, vector 0); raise on failure."""
        page = 1 << (12 + self.mps)
        cq = self.dma.alloc(cq_size * CQE_SIZE, page)
        sq = self.dma.alloc(sq_size * SQE_SIZE, page)
        self.bus.write(cq, bytes(cq_size * CQE_SIZE))
        c = self.admin(
            Command(
                AdminOpcode.CREATE_IO_CQ,
                prp1=cq,
                cdw10=QueueField.QSIZE.put(qid, cq_size - 1),
                cdw11=QueueField.PC.mask | (QueueField.IEN.mask if ien else 0),
            )
        )
        expect_ok(c, "create I/O CQ")
        c = self.admin(
            Command(
                AdminOpcode.CREATE_IO_SQ,
                prp1=sq,
                cdw10=QueueField.QSIZE.put(qid, sq_size - 1),
                cdw11=QueueField.CQID.put(QueueField.PC.mask, qid),
            )
        )
        expect_ok(c, "create I/O SQ")
        self.queues[qid] = HostQueue(qid, sq, sq_size, cq, cq_size)

    def rw(  # noqa: PLR0917 (positional, as the tests read like the SQE fields)
        self, opc: int, qid: int, nsid: int, slba: int, nlb: int, buf: int, length: int
    ) -> Completion:
        prp1, prp2 = self.contiguous(buf, length)
        return self.command(
            qid,
            Command(
                opc,
                nsid=nsid,
                prp1=prp1,
                prp2=prp2,
                cdw10=slba & 0xFFFF_FFFF,
                cdw11=slba >> 32,
                cdw12=nlb - 1,
            ),
        )


def status_of(cqe: Completion) -> Status:
    return cqe.status_field


def expect_ok(cqe: Completion, what: str) -> None:
    if not status_of(cqe).ok:
        raise HostError(f"{what} failed: {status_of(cqe)}")


# -- SGLs (NVMe 1.4 §4.4) ----------------------------------------------------------------------

SGL_DATA_BLOCK = 0x0
SGL_BIT_BUCKET = 0x1
SGL_SEGMENT = 0x2
SGL_LAST_SEGMENT = 0x3
PSDT_SGL = 0b01 << 6  # CDW0 flags: SGL for data, contiguous metadata


def sgl_descriptor(addr: int, length: int, sgl_type: int, subtype: int = 0) -> bytes:
    """One 16-byte SGL descriptor (NVMe 1.4 Figure 114)."""
    return struct.pack("<QI3xB", addr, length, sgl_type << 4 | subtype)


def sgl_command(
    opc: int, first: bytes, *, slba: int, nlb: int, nsid: int = 1, psdt: int = PSDT_SGL
) -> Command:
    """A Read/Write/Compare whose DPTR is the SGL descriptor `first`."""
    addr, rest = struct.unpack("<QQ", first)
    return Command(
        opc,
        nsid=nsid,
        flags=psdt,
        prp1=addr,
        prp2=rest,
        cdw10=slba & 0xFFFF_FFFF,
        cdw11=slba >> 32,
        cdw12=nlb - 1,
    )

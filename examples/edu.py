"""edu: a driver for QEMU's edu teaching device, serving /dev/edu (docs/tutorial.md, part 2).

``edu`` finds the device with libpci, attaches (BAR0 assigned, bus mastering
on), maps BAR0, checks the identification and liveness registers, computes a
factorial by polling the status register and one by interrupt, moves a page
through the device by DMA both ways (each completion by interrupt), then
starts a server process for /dev/edu and returns: write a number N (0..12)
to /dev/edu, read back N!.

"By interrupt" is QNX's InterruptAttachEvent: the device's INTx line (its
number from pci_device_read_irq) is attached with a SIGEV_INTR event, the
thread sleeps in InterruptWait until the kernel delivers it, reads and
acknowledges the device's interrupt status (0x24, 0x64: the line drops) and
unmasks the source (the kernel masked it when it fired).  Every wait is
bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.c import (
    SIGEV_INTR_INIT,
    ClockTime,
    InterruptAttachEvent,
    InterruptDetach,
    InterruptUnmask,
    InterruptWait,
    delay,
    mem_offset,
    mmap_anon,
    mmap_phys,
    procmgr_ready,
    spawn,
    stdio,
)
from qrv.lib.c.dispatch import dispatch_create, dispatch_loop
from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    iofunc_attr_init,
    iofunc_func_init,
    iofunc_read_verify,
    iofunc_write_verify,
)
from qrv.lib.c.mman import PhysMapping
from qrv.lib.c.msg import IoRead, IoWrite
from qrv.lib.c.proc import procmgr_waitfor
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach
from qrv.lib.pci import (
    PCI_BUS,
    PCI_DEV,
    PCI_FUNC,
    PCI_INIT_BASE0,
    PCI_MASTER_ENABLE,
    PciDevice,
    PciLibError,
    find_all,
    pci_attachFlags_EXCLUSIVE_OWNER,
)
from qrv.spec.iomsg import EINVAL, EIO, EOK, S_IFCHR

VENDOR, DEVICE = 0x1234, 0x11E8
ID, LIVE, FACT, STATUS, IRQ_STATUS, IRQ_ACK = 0x00, 0x04, 0x08, 0x20, 0x24, 0x64
DMA_SRC, DMA_DST, DMA_COUNT, DMA_CMD = 0x80, 0x88, 0x90, 0x98
STATUS_BUSY, STATUS_IRQ = 0x01, 0x80
FACT_IRQ, DMA_IRQ = 0x001, 0x100
DMA_RUN, DMA_TO_RAM, DMA_IRQ_ON = 0x1, 0x2, 0x4
BUFFER = 0x40000  # the device's 4 KiB buffer, as the DMA engine addresses it
PAGE = 4096
MOVE = 2048  # one DMA moves at most 4095 bytes: QEMU 7.2 never lets one reach byte 0xfff
POLL = 0.001
TRIES = 2000  # POLL x TRIES: 2 s, more than the DMA's 100 ms
TIMEOUT = 2.0  # s on the kernel's clock: the longest wait for one interrupt
PATH = "/dev/edu"
MAX_N = 12  # 13! does not fit in the device's 32 bits


class DeviceError(Exception):
    """The device did not answer (in time), or has no interrupt."""


def wait(regs: PhysMapping, reg: int, mask: int, want: int) -> None:
    """Poll `reg` until ``reg & mask == want``: at most TRIES polls, POLL s apart."""
    for _ in range(TRIES):
        if regs.read32(reg) & mask == want:
            return
        delay(POLL)
    raise DeviceError(f"register {reg:#x} & {mask:#x} never became {want:#x}")


def factorial_polled(regs: PhysMapping, n: int) -> int:
    regs.write32(FACT, n)
    wait(regs, STATUS, STATUS_BUSY, 0)
    return regs.read32(FACT)


@dataclass
class Edu:
    """The mapped registers and the attached interrupt of one edu device."""

    regs: PhysMapping
    irq: int
    iid: int = -1

    @classmethod
    def map(cls, dev: PciDevice) -> Edu:
        """BAR0 mapped, and the INTx line's interrupt number (pci-server's routing)."""
        bar = dev.bar(0)
        irqs = dev.read_irq()
        if not irqs:
            raise DeviceError("the device has no interrupt line")
        return cls(mmap_phys(bar.addr, bar.size), irqs[0])

    def attach_interrupt(self) -> None:
        """Attach the INTx line to the calling thread (InterruptWait wakes it)."""
        self.regs.write32(IRQ_ACK, 0xFFFF_FFFF)  # nothing stale: the line is low
        self.iid = InterruptAttachEvent(self.irq, SIGEV_INTR_INIT())

    def wait_interrupt(self, bit: int) -> None:
        """Sleep until the device raises `bit` (bounded), acknowledge it, unmask."""
        deadline = ClockTime() + TIMEOUT
        while True:
            left = deadline - ClockTime()
            try:
                if left <= 0:
                    raise TimeoutError
                InterruptWait(0, timeout=left)
            except OSError:  # ETIMEDOUT
                raise DeviceError(f"no interrupt {bit:#x} within {TIMEOUT} s") from None
            status = self.regs.read32(IRQ_STATUS)
            self.regs.write32(IRQ_ACK, status)  # every raised bit: the line drops
            InterruptUnmask(self.irq, self.iid)  # the kernel masked it when it fired
            if status & bit:
                return


def factorial_by_interrupt(edu: Edu, n: int) -> int:
    edu.regs.write32(STATUS, STATUS_IRQ)  # raise FACT_IRQ when done
    edu.regs.write32(FACT, n)
    edu.wait_interrupt(FACT_IRQ)
    edu.regs.write32(STATUS, 0)
    return edu.regs.read32(FACT)


def dma(edu: Edu, src: int, dst: int, count: int, cmd: int) -> None:
    edu.regs.write64(DMA_SRC, src)
    edu.regs.write64(DMA_DST, dst)
    edu.regs.write64(DMA_COUNT, count)
    edu.regs.write64(DMA_CMD, cmd | DMA_RUN | DMA_IRQ_ON)
    edu.wait_interrupt(DMA_IRQ)


def dma_round_trip(edu: Edu) -> bool:
    """MOVE bytes RAM -> device buffer -> another page; whether they came back intact."""
    out, back = mmap_anon(PAGE), mmap_anon(PAGE)
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(MOVE))
    out.write(0, pattern)
    dma(edu, mem_offset(out), BUFFER, MOVE, 0)
    dma(edu, BUFFER, mem_offset(back), MOVE, DMA_TO_RAM)
    return back.read(0, MOVE) == pattern


@dataclass(eq=False)
class EduFile(IofuncAttr):
    edu: Edu | None = None
    answer: bytes = field(default=b"write a number 0..12 first\n")


def edu_write(ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_write_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    f = ocb.attr
    assert isinstance(f, EduFile) and f.edu is not None
    text = bytes(msg.data).strip()
    if not text.isdigit() or int(text) > MAX_N:
        return EINVAL
    n = int(text)
    try:
        f.answer = f"{n}! = {factorial_by_interrupt(f.edu, n)}\n".encode()
    except DeviceError:
        return EIO
    f.nbytes = len(f.answer)
    ctp.status = len(msg.data)
    return EOK


def edu_read(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    err = iofunc_read_verify(ctp, msg, ocb)
    if err != EOK:
        return err
    f = ocb.attr
    assert isinstance(f, EduFile)
    start = ocb.offset if msg.offset is None else msg.offset
    chunk = f.answer[start : start + msg.nbytes]
    if msg.offset is None:
        ocb.offset += len(chunk)
    ctp.status = len(chunk)
    return chunk


def serve(argv: list[str]) -> int:
    """The /dev/edu server: its own attachment, mapping and interrupt of the device
    (attached to the thread that runs the dispatch loop: the handlers wait in it)."""
    bdf = int(argv[1])
    with PciDevice.attach(bdf, pci_attachFlags_EXCLUSIVE_OWNER) as dev:
        edu = Edu.map(dev)
        edu.attach_interrupt()
        dpp = dispatch_create()
        connect, io = iofunc_func_init()
        io.read, io.write = edu_read, edu_write
        attr = EduFile(edu=edu)
        iofunc_attr_init(attr, S_IFCHR | 0o666)
        attr.nbytes = len(attr.answer)
        resmgr_attach(dpp, None, PATH, 0, 0, connect, io, attr)
        procmgr_ready()
        dispatch_loop(dpp)
    return 0


def main(argv: list[str]) -> int:
    bdf = next(find_all(VENDOR, DEVICE), None)
    if bdf is None:
        stdio.eprintf("edu: no edu device (start qrv emu with --edu)\n")
        return 1
    where = f"{PCI_BUS(bdf):02x}:{PCI_DEV(bdf):02x}.{PCI_FUNC(bdf)}"
    try:
        flags = PCI_INIT_BASE0 | PCI_MASTER_ENABLE
        with PciDevice.attach(bdf, flags) as dev:
            bar = dev.bar(0)
            stdio.printf(f"edu: {VENDOR:04x}:{DEVICE:04x} at {where}, BAR0 {bar.size >> 20} MiB\n")
            edu = Edu.map(dev)
            regs = edu.regs
            ident = regs.read32(ID)
            regs.write32(LIVE, 0x12345678)
            alive = regs.read32(LIVE) == 0xEDCBA987
            version = f"{ident >> 24}.{(ident >> 16) & 0xFF}"
            stdio.printf(f"edu: id {ident:#010x} (version {version}), liveness {alive}\n")
            stdio.printf(f"edu: 10! = {factorial_polled(regs, 10)} (polled)\n")
            edu.attach_interrupt()
            stdio.printf(f"edu: interrupt {edu.irq} (INTA)\n")
            stdio.printf(f"edu: 12! = {factorial_by_interrupt(edu, 12)} (by interrupt)\n")
            ok = dma_round_trip(edu)
            InterruptDetach(edu.iid)  # the server attaches its own
            stdio.printf(f"edu: DMA of {MOVE} bytes there and back: {'ok' if ok else 'MISMATCH'}\n")
    except (PciLibError, DeviceError, OSError) as exc:
        stdio.eprintf(f"edu: {exc}\n")
        return 1
    pid = spawn(serve, ["edu-server", str(bdf)])
    if not procmgr_waitfor(pid, PATH, 5.0):
        stdio.eprintf("edu: the server did not come up\n")
        return 1
    stdio.printf(f"edu: serving {PATH}\n")
    return 0

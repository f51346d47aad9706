"""devb-nvme's main: the seed's phases A-D and the GPT paths, then the dispatch loop.

Usage: ``devb-nvme [timeout=SECONDS] [depth=ENTRIES] [queues=N] [threads=N] [poll]
[intx] [verbose] [rw]`` (:mod:`.options`; also as ``-o word,word``)

Every NVMe controller pci-server knows is brought up, in bus order; controller c's
namespace n is ``/dev/nvme<c>n<n>`` and its GPT partition in slot k
``/dev/nvme<c>n<n>p<k>`` (Linux's naming).  A controller that fails is logged and
left out; the driver exits 1 only when none came up and one failed.

``rw`` serves the nodes writable (``brw-r--r--``); without it they are read-only and
an open for writing gets EROFS.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable
from typing import TypeVar

from qrv.drivers.devb_nvme import partitions
from qrv.drivers.devb_nvme.blockdev import BlockHandlers, NvmeRegion, make_region
from qrv.drivers.devb_nvme.chardev import ControllerHandlers, make_controller_attr
from qrv.drivers.devb_nvme.controller import (
    Controller,
    Namespace,
    Payload,
)
from qrv.drivers.devb_nvme.interrupts import InterruptService
from qrv.drivers.devb_nvme.options import Options, parse_options
from qrv.drivers.devb_nvme.partitions import Served
from qrv.drivers.devb_nvme.passthru import RESHAPING, Passthrough, Refused, affected, check
from qrv.drivers.devb_nvme.pci import PciController, find_controller
from qrv.errors import MachineLost, NvmeError, PciError, QrvError
from qrv.lib.c.dispatch import dispatch_create, thread_pool_start
from qrv.lib.c.mman import mmap_anon, mmap_phys
from qrv.lib.c.proc import procmgr_ready
from qrv.lib.c.resmgr import Dispatch, resmgr_attach, resmgr_detach
from qrv.lib.c.stdio import eprintf
from qrv.lib.gpt import GptErr, GptParseError, gpt_parse
from qrv.spec.iomsg import FileType
from qrv.spec.nvme import IdentifyController
from qrv.spec.nvmectl import PassthruCmd, PassthruResult

PROG = "devb-nvme"
KIB = 1024
MIB = 1024 * KIB
HEXDUMP_BYTES = 32


T = TypeVar("T")


def log(text: str) -> None:
    eprintf(text + "\n")


def size_text(nbytes: int) -> str:
    for unit, name in ((MIB, "MiB"), (KIB, "KiB")):
        if nbytes >= unit and nbytes % unit == 0:
            return f"{nbytes // unit} {name}"
    return f"{nbytes} B"


def hexdump_lines(data: bytes) -> list[str]:
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"  {off:04x}: {hexes:<47}  |{text}|")
    return lines


class Driver:
    """One controller: brought up, then served as block paths."""

    def __init__(self, opts: Options, index: int = 0) -> None:
        self.opts = opts
        self.index = index
        self.ctrl: Controller | None = None
        self.regions: list[tuple[str, NvmeRegion]] = []
        self.dpp: Dispatch | None = None
        self.handlers = BlockHandlers(self, writable=opts.writable)
        self.passthru: Passthrough | None = None
        self._links: dict[str, int] = {}  # path -> resmgr_attach id
        self.ist: InterruptService | None = None
        self.lost: str | None = None
        """Why the machine went away (QEMU exited): from then on every request is EIO."""

    # -- Phase A/B/C: the controller ------------------------------------------------------

    def bring_up(self, found: PciController) -> list[Namespace]:
        ctrl = Controller(
            mmap_phys(found.bar0, found.bar0_size),
            mmap_anon,
            io_entries=self.opts.depth,
            timeout_s=self.opts.timeout_s,
        )
        self.ctrl = ctrl
        cap = ctrl.read_cap().cap
        log(
            f"{PROG}: CAP mqes={cap.max_queue_entries} dstrd={cap.dstrd} "
            f"to={cap.timeout_ms} ms mps={cap.min_page_size}..{cap.max_page_size}"
        )
        ctrl.disable()
        log(f"{PROG}: controller reset (CSTS.RDY=0)")
        admin = ctrl.setup_admin_queues()
        log(
            f"{PROG}: admin queues: {admin.entries} entries, "
            f"ASQ {admin.sq.paddr:#x} ACQ {admin.cq.paddr:#x}"
        )
        ctrl.enable()
        log(f"{PROG}: controller enabled (CSTS.RDY=1)")
        ident = ctrl.identify_controller()
        self._log_identify(found, ident, ctrl.max_transfer)
        namespaces = []
        for nsid in ctrl.active_namespaces():
            ns = ctrl.identify_namespace(nsid)
            log(
                f"nvme: ns {ns.nsid}  size={ns.nlba} LBAs  lba={ns.lba_size} B  "
                f"capacity={size_text(ns.size_bytes)}"
            )
            namespaces.append(ns)
        ctrl.cq_interrupts = found.irq is not None  # (polling ignores IEN)
        granted = ctrl.set_queue_count(self.opts.queues)
        pairs = ctrl.create_io_queue_pairs(min(granted, self.opts.queues))
        qids = f"qid={pairs[0].qid}" + (f"..{pairs[-1].qid}" if len(pairs) > 1 else "")
        log(
            f"{PROG}: I/O queue pair{'s' if len(pairs) > 1 else ''} {qids} "
            f"({pairs[0].entries} entries{' each' if len(pairs) > 1 else ''}; "
            f"controller allows {granted} I/O queue pair(s))"
        )
        if found.irq is not None:
            self._start_ist(ctrl, found.irq, found.irq_kind)
        if namespaces and self.opts.verbose:
            first = namespaces[0]
            data = ctrl.read(first, 0, 1)
            log(f"{PROG}: Read nsid={first.nsid} LBA=0 ({first.lba_size} bytes) OK")
            for line in hexdump_lines(data[:HEXDUMP_BYTES]):
                log(line)
        return namespaces

    def _start_ist(self, ctrl: Controller, irq: int, kind: str) -> None:
        """The interrupt service thread; if the interrupt cannot be attached, polling."""
        ist = InterruptService(ctrl, irq, kind, self.machine_lost)
        try:
            ist.attach()
        except OSError as exc:
            log(f"{PROG}: interrupt IRQ={irq} not attached ({exc.strerror or exc}): polling")
            return
        ist.start()
        self.ist = ist
        log(f"{PROG}: interrupts on (IRQ={irq}, {kind})")

    @staticmethod
    def _log_identify(found: PciController, ident: IdentifyController, max_transfer: int) -> None:
        log(
            f"nvme: controller VID:DID {found.vendor_id:04x}:{found.device_id:04x}  "
            f"NN={ident.nn}  MDTS={ident.mdts} ({size_text(max_transfer)} per command)"
        )
        log(f"  Model:    {ident.mn}")
        log(f"  Serial:   {ident.sn}")
        log(f"  Firmware: {ident.fr}")

    # -- the block device (what the resource manager's handlers call) ------------------

    def _command(self, what: Callable[[Controller], T]) -> T:
        """Run a controller operation: NVMe errors become EIO, with the status logged.

        A lost machine (:class:`MachineLost`: QEMU exited) is logged once; the
        driver stays and answers every later request EIO without touching it.
        """
        if self.ctrl is None:
            raise OSError(errno.EIO, "controller not up")
        if self.lost is not None:
            raise OSError(errno.EIO, f"the machine is lost ({self.lost})")
        try:
            return what(self.ctrl)
        except NvmeError as exc:
            log(f"{PROG}: {exc}")
            raise OSError(errno.EIO, str(exc)) from None
        except MachineLost as exc:
            self.machine_lost(exc)
            raise OSError(errno.EIO, str(exc)) from None

    def machine_lost(self, exc: MachineLost) -> None:
        """The machine went away (seen by a request or the interrupt thread): one log line."""
        if self.lost is None:
            self.lost = exc.reason
            log(f"{PROG}: the machine is lost ({exc.reason}): every request now fails with EIO")

    def read_blocks(
        self, ns: Namespace, slba: int, nlb: int, skip: int = 0, nbytes: int | None = None
    ) -> bytes:
        return self._command(lambda c: c.read(ns, slba, nlb, skip, nbytes))

    def read_blocks_at(self, ns: Namespace, lbas: list[int]) -> bytes:
        return self._command(lambda c: c.read_blocks_at(ns, lbas))

    def write_blocks(
        self, ns: Namespace, slba: int, data: bytes | memoryview | Payload, fua: bool
    ) -> None:
        self._command(lambda c: c.write(ns, slba, data, fua=fua))

    def flush(self, ns: Namespace) -> None:
        self._command(lambda c: c.flush(ns))

    def discard(self, ns: Namespace, slba: int, nlb: int) -> None:
        self._command(lambda c: c.deallocate(ns, slba, nlb))

    def zero(self, ns: Namespace, slba: int, nlb: int) -> None:
        self._command(lambda c: c.write_zeroes(ns, slba, nlb))

    def reread(self, ns: Namespace) -> int:
        """Re-read `ns`'s GPT and replace its partition nodes (EBUSY while one is open)."""
        base = self.base_path(ns)
        old = [(p, r) for p, r in self.regions if r.ns == ns and r.partition]
        if any(r.count for _, r in old):
            raise OSError(errno.EBUSY, f"a partition of {base} is open")
        fresh = self._partition_regions(ns, self._read_gpt(ns))
        if self.dpp is not None:
            for path, _ in old:
                resmgr_detach(self.dpp, self._links.pop(path))
        self.regions = [(p, r) for p, r in self.regions if (p, r) not in old] + fresh
        if self.dpp is not None:
            for path, region in fresh:
                self._attach(self.dpp, path, region)
        return len(fresh)

    # -- the controller node's passthrough (passthru.py checks, then runs) --------------

    def passthrough(
        self, cmd: PassthruCmd, *, admin: bool, data: bytes
    ) -> tuple[PassthruResult, bytes]:
        if self.ctrl is None:
            raise OSError(errno.EIO, "controller not up")
        namespaces = {r.ns.nsid: r.ns for _, r in self.regions}
        ns = namespaces.get(cmd.nsid)
        try:
            check(
                cmd,
                admin=admin,
                max_transfer=self.ctrl.max_transfer,
                active=sorted(namespaces),
                is_open=lambda nsid: any(r.count for _, r in self.regions if r.ns.nsid == nsid),
                writable=self.opts.writable,
                lba_size=ns.lba_size if ns else 512,
            )
        except Refused as exc:
            raise OSError(exc.errno, str(exc)) from None
        runner = self.passthru = self.passthru or Passthrough(self.ctrl)
        result, back = self._command(lambda _c: runner.run(cmd, admin=admin, data=data))
        if admin and result.ok and cmd.opcode in RESHAPING:
            self.rescan(affected(cmd, sorted(namespaces)))
        return result, back

    def rescan(self, nsids: list[int]) -> None:
        """After a command that reformatted or removed namespaces (Linux rescans too):
        each one's nodes take its new geometry and GPT, or go if it is no longer active."""
        active = self._command(lambda c: c.active_namespaces())
        for nsid in nsids:
            nodes = [(p, r) for p, r in self.regions if r.ns.nsid == nsid]
            if nsid not in active:
                log(f"{PROG}: ns {nsid} is gone: {len(nodes)} node(s) removed")
                for path, _ in nodes:
                    if self.dpp is not None:
                        resmgr_detach(self.dpp, self._links.pop(path))
                self.regions = [(p, r) for p, r in self.regions if r.ns.nsid != nsid]
                continue
            ns = self._command(functools.partial(Controller.identify_namespace, nsid=nsid))
            log(f"nvme: ns {nsid}  size={ns.nlba} LBAs  lba={ns.lba_size} B (re-identified)")
            for _, region in nodes:
                region.reshape(ns)
            self.reread(ns)

    # -- Phase D: paths -------------------------------------------------------------------

    def base_path(self, ns: Namespace) -> str:
        """Linux's naming: ``nvme<controller>n<nsid>`` (partitions add ``p<GPT slot>``)."""
        return f"/dev/nvme{self.index}n{ns.nsid}"

    def plan_paths(self, namespaces: list[Namespace]) -> None:
        for ns in namespaces:
            region = make_region(ns, 0, ns.nlba, writable=self.opts.writable)
            self.regions.append((self.base_path(ns), region))
            self.regions += self._partition_regions(ns, self._read_gpt(ns))

    def _partition_regions(
        self, ns: Namespace, served: list[Served]
    ) -> list[tuple[str, NvmeRegion]]:
        return [
            (
                f"{self.base_path(ns)}p{s.part.index}",
                make_region(
                    ns,
                    s.start_lba,
                    s.num_lbas,
                    partition=s.part.index,
                    writable=self.opts.writable,
                ),
            )
            for s in served
        ]

    def _read_gpt(self, ns: Namespace) -> list[Served]:
        """The partitions of the namespace's GPT to serve (none without a usable GPT)."""

        def read_lba(lba: int, count: int) -> bytes:
            return self.read_blocks(ns, lba, count)

        try:
            table = gpt_parse(read_lba, ns.lba_size, ns.nlba)
        except GptParseError as exc:
            log(f"{PROG}: no usable GPT on ns {ns.nsid} ({exc.code.name}: {exc.message})")
            log(f"{PROG}: serving the raw namespace only")
            return []
        if table.header != "primary":
            log(f"{PROG}: GPT primary header damaged, using the {table.header} copy")
        for problem in table.problems:
            log(f"{PROG}: GPT problem: {problem}")
        served, notes = partitions.plan(table)
        for note in notes:
            log(f"{PROG}: {note}")
        # A damaged copy of the header is recovered from (the seed says "GPT OK" then);
        # partitions that overlap, or that the plan refused or clipped, are not OK.
        if notes or any(i.code == GptErr.GPT_ERR_PART_OVERLAP for i in table.issues):
            log(f"{PROG}: GPT with problems, {len(served)} partition(s) served")
        else:
            log(f"{PROG}: GPT OK, {len(served)} partition(s)")
        for s in served:
            part = s.part
            log(
                f"  p{part.index}: LBA {s.start_lba}..{s.end_lba} "
                f"({size_text(s.num_lbas * ns.lba_size)}) type={part.type_guid} "
                f'name="{part.name}"'
            )
        return served

    def attach_paths(self, dpp: Dispatch) -> None:
        self.dpp = dpp
        for path, region in self.regions:
            self._attach(dpp, path, region)
        node = ControllerHandlers(self)
        attr = make_controller_attr(self.index)
        path = f"/dev/nvme{self.index}"
        self._links[path] = resmgr_attach(
            dpp, None, path, FileType.ANY, 0, node.connect_funcs, node.io_funcs, attr
        )

    def _attach(self, dpp: Dispatch, path: str, region: NvmeRegion) -> None:
        h = self.handlers
        self._links[path] = resmgr_attach(
            dpp, None, path, FileType.ANY, 0, h.connect_funcs, h.io_funcs, region
        )


def bring_up_all(opts: Options) -> tuple[list[Driver], list[Namespace], bool]:
    """Every NVMe controller pci-server knows, in bus order: the drivers that came up,
    the namespaces of the first, and whether one failed (each failure is logged)."""
    drivers: list[Driver] = []
    first: list[Namespace] = []
    failed = False
    index = 0
    while True:
        driver = Driver(opts, index)
        try:
            found = find_controller(index, irq=not opts.poll, intx=opts.intx)
            if found is None:
                break
            log(
                f"{PROG}: controller at {found.location} BAR0 {found.bar0:#x} "
                f"({size_text(found.bar0_size)})"
            )
            namespaces = driver.bring_up(found)
            driver.plan_paths(namespaces)
        except (NvmeError, PciError, OSError) as exc:
            log(f"{PROG}: {exc}")
            failed = True
        else:
            drivers.append(driver)
            first = first or namespaces
        index += 1
    return drivers, first, failed


def main(argv: list[str]) -> int:
    try:
        opts = parse_options(argv)
    except QrvError as exc:
        log(f"{PROG}: {exc}")
        return 2
    # The seed's lesson: create the dispatch and set up the resmgr internals
    # before any /dev/pci traffic.
    dpp = dispatch_create()
    resmgr_attach(dpp, None, None, FileType.ANY, 0, None, None, None)
    drivers, namespaces, failed = bring_up_all(opts)
    if not drivers:
        if not failed:
            log(f"{PROG}: no NVMe controller found")
        return 1 if failed else 0
    if not namespaces:  # no controller has an active namespace: nothing to serve
        log(f"{PROG}: no usable namespace")
        return 1
    for driver in drivers:
        driver.attach_paths(dpp)
    first = f"first NS {size_text(namespaces[0].size_bytes)} {namespaces[0].lba_size} B/LBA"
    paths = sum(len(driver.regions) for driver in drivers)
    log(f"{PROG}: ready ({paths} path(s), {first})")
    procmgr_ready()
    thread_pool_start(dpp, opts.threads)
    return 0

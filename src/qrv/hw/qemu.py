"""The QEMU machine: QEMU 7.2's real riscv64 ``virt`` board and NVMe device over qtest.

:class:`QemuMachine` implements :class:`qrv.hw.bus.Machine`.  It starts
``qemu-system-riscv64 -machine virt ... -qtest unix:SOCKET`` with the image
attached as ``-device nvme,drive=nvm0,serial=qrv-test`` (the seed's emu.sh)
and reaches QEMU's buses through the qtest protocol (:mod:`qrv.hw.qtest`).
Guest RAM is shared with qrv through a file when it can be (:mod:`qrv.hw.qemu_ram`):
then only MMIO goes over qtest.
The device tree is QEMU's own, dumped with ``-machine virt,dumpdtb=FILE``
(same arguments) before the main run.

Two arguments beyond the seed's command line, both needed with Debian's
``qemu-system-misc``: that binary has no ``qtest`` accelerator (``-accel
qtest`` is "invalid accelerator"), so ``-qtest`` only adds the protocol and
the vCPU runs under TCG.  Left alone it would execute OpenSBI from
0x8000_0000 (spinning a host core and owning the RAM qrv hands out for DMA).
``-bios none`` keeps firmware out of guest RAM and ``-S`` keeps the vCPU
stopped, so QEMU executes no guest code; its devices still work (7.2's NVMe
runs its queues in bottom halves, which the main loop runs while stopped).

Reaping: QEMU runs in its own session (a terminal's Ctrl-C reaches only qrv,
which then closes the machine), gets SIGKILL as its parent-death signal
(``prctl(PR_SET_PDEATHSIG)``: QEMU dies with the thread that started it, so
start machines from a long-lived thread) and is reaped by :meth:`close`, by
a failure while starting, and by a finalizer at interpreter exit.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from qrv.errors import MachineError
from qrv.hw.bus import PhysicalBus, aligned_accesses, check_width
from qrv.hw.nvme.namespace import check_image, namespace_ranges
from qrv.hw.qemu_irq import APLIC_TYPE, PLIC_TYPE, QemuInterrupts, qom_device_of_type
from qrv.hw.qemu_ram import BACKEND_ID, SharedRam
from qrv.hw.qtest import QtestClient
from qrv.spec.fdt import FDT_MAGIC, HEADER

log = logging.getLogger(__name__)

MiB = 1 << 20
RAM_BASE = 0x8000_0000  # QEMU hw/riscv/virt.c virt_memmap[VIRT_DRAM]
DEFAULT_RAM_SIZE = 256 * MiB
DEFAULT_TIMEOUT = 10.0  # seconds: QEMU start-up, and each qtest reply
DEFAULT_BINARY = "qemu-system-riscv64"
SERIAL_DEVICE = "pci-serial"  # 1b36:0002, at the first free slot: 00:01.0
DEFAULT_LBA_SIZE = 512  # QEMU nvme logical_block_size default
DEBIAN_PACKAGE = "qemu-system-misc"
DRIVE_ID = "nvm0"
TRANSFER_CHUNK = 1 * MiB  # largest b64read/b64write in one qtest line
WORKDIR_PREFIX = "qrv-qemu-"
ACCEPT_POLL = 0.02  # seconds between checks that QEMU is still starting
TERM_GRACE = 2.0  # seconds QEMU gets to exit on SIGTERM before SIGKILL
SHARE_PROBE_SIZE = 16  # bytes stored at the end of RAM to check that it is shared
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STDERR_PEEK = 4096  # bytes of QEMU's stderr searched for its first message
PARK_ADDR = 0x1800  # in the MROM, past the reset vector: where a parked vCPU waits
RISCV_WFI = 0x1050_0073
RISCV_J_BACK_4 = 0xFFDF_F06F  # jal x0, -4
PARKED_CPU = (
    f"loader,addr={PARK_ADDR:#x},data={RISCV_WFI:#x},data-len=4",
    f"loader,addr={PARK_ADDR + 4:#x},data={RISCV_J_BACK_4:#x},data-len=4",
    f"loader,addr={PARK_ADDR:#x},cpu-num=0",
)
"""A vCPU that runs, so the virtual clock (edu's DMA timer) runs, but only ``wfi`` in
a loop (no interrupt is enabled, so it stays halted): see :func:`qemu_args`."""


class QemuBus:
    """:class:`PhysicalBus` over qtest.  Bulk transfers inside guest RAM are one
    ``b64read``/``b64write`` per chunk; elsewhere (ECAM, BARs) they split into
    naturally aligned loads/stores, as the built-in bus does.

    Stores outside RAM (MMIO: registers, doorbells, config space) are posted
    (:meth:`QtestClient.post_store`): sent without waiting for QEMU's reply, which a
    later access collects.  QEMU executes them in order, so every later qtest access
    sees them, and an access of shared RAM through this bus first collects the
    replies owed, so it sees what the device did on those stores (an MSI write, a
    DMA): the bus stays ordered as the built-in one.  A doorbell's round trip then no
    longer stalls the CPU; DMA mappings' views (the driver's queues and buffers) are
    plain memory, read after a completion that follows the doorbell anyway.

    With `shared` RAM (:mod:`qrv.hw.qemu_ram`) every access inside guest RAM is a
    plain memory access of the shared mapping and only the rest (MMIO) is qtest.
    The machine drops `shared` when it closes, so RAM is then unreachable too."""

    def __init__(
        self, client: QtestClient, ram_base: int, ram_size: int, shared: SharedRam | None = None
    ) -> None:
        self.client = client
        self._ram_base = ram_base
        self._ram_end = ram_base + ram_size
        self.shared = shared

    def _in_ram(self, paddr: int, size: int) -> bool:
        return self._ram_base <= paddr and paddr + size <= self._ram_end

    def ram_view(self, paddr: int, size: int) -> memoryview | None:
        """The shared RAM bytes [paddr, paddr+size) as a writable view, or None (not
        inside RAM, RAM not shared, or the machine lost: then qtest says why)."""
        shared = self.shared
        if shared is None or not self._in_ram(paddr, size) or self.client.broken is not None:
            return None
        offset = paddr - self._ram_base
        return shared.view[offset : offset + size]

    def _ordered_view(self, paddr: int, size: int) -> memoryview | None:
        """:meth:`ram_view`, once QEMU has executed every store posted before."""
        view = self.ram_view(paddr, size)
        if view is not None:
            self.client.flush()
        return view

    def load(self, paddr: int, width: int) -> int:
        check_width(width)
        view = self._ordered_view(paddr, width)
        if view is not None:
            return int.from_bytes(view, "little")
        return self.client.load(paddr, width)

    def store(self, paddr: int, width: int, value: int) -> None:
        check_width(width)
        value &= (1 << (8 * width)) - 1
        view = self._ordered_view(paddr, width)
        if view is not None:
            view[:] = value.to_bytes(width, "little")
            return
        if self._in_ram(paddr, width):
            self.client.store(paddr, width, value)  # RAM over qtest: as b64write, not posted
        else:
            self.client.post_store(paddr, width, value)

    def read(self, paddr: int, size: int) -> bytes:
        if size <= 0:
            return b""
        if not self._in_ram(paddr, size):
            return b"".join(
                self.client.load(a, w).to_bytes(w, "little")
                for a, w in aligned_accesses(paddr, size)
            )
        view = self._ordered_view(paddr, size)
        if view is not None:
            return bytes(view)
        if size <= TRANSFER_CHUNK:
            return self.client.b64read(paddr, size)
        return b"".join(
            self.client.b64read(a, min(TRANSFER_CHUNK, paddr + size - a))
            for a in range(paddr, paddr + size, TRANSFER_CHUNK)
        )

    def write(self, paddr: int, data: bytes) -> None:
        if not data:
            return
        if not self._in_ram(paddr, len(data)):
            for a, w in aligned_accesses(paddr, len(data)):
                pos = a - paddr
                self.client.post_store(a, w, int.from_bytes(data[pos : pos + w], "little"))
            return
        view = self._ordered_view(paddr, len(data))
        if view is not None:
            view[:] = data
            return
        source = memoryview(data)
        for pos in range(0, len(data), TRANSFER_CHUNK):
            self.client.b64write(paddr + pos, bytes(source[pos : pos + TRANSFER_CHUNK]))

    def memset(self, paddr: int, size: int, value: int = 0) -> None:
        """Fill guest memory with one byte value (one qtest ``memset``)."""
        if size <= 0:
            return
        view = self._ordered_view(paddr, size)
        if view is not None:
            view[:] = bytes([value & 0xFF]) * size
            return
        self.client.memset(paddr, size, value)


def qemu_args(
    image: Path | None,
    *,
    ram_size: int,
    read_only: bool,
    serial: str,
    nvme_options: Sequence[str] = (),
    devices: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    extra_images: Sequence[Path] = (),
    namespaces: int = 1,
    lba_size: int | None = None,
    clock: bool = False,
) -> list[str]:
    """The arguments (after the binary and ``-machine``) of both QEMU runs.

    `clock`: let the virtual clock run (devices with timers need it, e.g. edu's
    DMA): instead of ``-S`` (vCPU stopped, clock stopped) the vCPU starts at
    :data:`PARKED_CPU`'s ``wfi`` loop in the MROM, out of guest RAM.

    One NVMe controller per image (`image`, then `extra_images`), at consecutive
    slots.  With one namespace the image is the controller's ``drive=`` (as the
    seed's emu.sh); with more, the image is split into `namespaces` equal ranges
    (the raw driver's ``offset``/``size``), each an ``nvme-ns`` device on the
    controller's bus.  `lba_size` sets ``logical_block_size`` and
    ``physical_block_size`` of each namespace."""
    args = ["-m", f"{ram_size // MiB}M", "-bios", "none", *([] if clock else ["-S"])]
    args += ["-display", "none", "-monitor", "none", "-serial", "none"]
    ro = ",readonly=on" if read_only else ""
    blocks = (
        []
        if lba_size is None
        else [f"logical_block_size={lba_size}", f"physical_block_size={lba_size}"]
    )
    # the seed's emu.sh: a PCI 16550 (00:01.0) before the NVMe drives (00:02.0 on)
    args += ["-device", SERIAL_DEVICE]
    images = [] if image is None else [image, *extra_images]
    for index, path in enumerate(images):
        ctrl_serial = serial if index == 0 else f"{serial}{index}"
        drive = DRIVE_ID if index == 0 else f"{DRIVE_ID}c{index}"
        raw = f"file={path},if=none,format=raw"
        if namespaces == 1:
            args += ["-drive", f"{raw},id={drive}{ro}"]
            nvme = [f"nvme,drive={drive},serial={ctrl_serial}", *blocks, *nvme_options]
            args += ["-device", ",".join(nvme)]
            continue
        bus = f"nvme{index}"
        nvme = [f"nvme,id={bus},serial={ctrl_serial}", *nvme_options]
        args += ["-device", ",".join(nvme)]
        ranges = namespace_ranges(path, namespaces, lba_size or 512)
        for nsid, (offset, size) in enumerate(ranges, start=1):
            ns_drive = f"{drive}n{nsid}"
            args += ["-drive", f"{raw},offset={offset},size={size},id={ns_drive}{ro}"]
            # the namespaces' drives open one file: writers must share it (disjoint ranges)
            share = [] if read_only else ["share-rw=on"]
            ns = [f"nvme-ns,drive={ns_drive},bus={bus},nsid={nsid}", *blocks, *share]
            args += ["-device", ",".join(ns)]
    for device in [*devices, *(PARKED_CPU if clock else ())]:
        args += ["-device", device]
    return args + list(extra_args)


def _parent_death_hook() -> Callable[[], None]:
    """A preexec_fn that makes the child die with its parent (Linux prctl).

    Resolved before fork so the child only makes the call; if the parent is
    already gone when the child gets there, the child exits at once."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return hook


class _Process:
    """The QEMU child, its stderr and its private directory; reaped once, from anywhere.

    The directory (DTB dump, qtest socket, stderr) is emptied and removed as
    soon as QEMU has connected, so nothing is left behind even if qrv is
    killed; stderr stays readable through the open file."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: QtestClient | None = None
        self.stderr: BinaryIO | None = None
        self.ram: SharedRam | None = None
        """The shared RAM file: removed once QEMU answers (it has opened the file then:
        QEMU creates memory backends after connecting its qtest socket), or when reaped."""

    def tidy(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self) -> None:
        """After a failed start: reap, then a fresh private directory for the next try."""
        self.reap()
        self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
        self.proc = self.client = self.stderr = self.ram = None

    def reap(self) -> None:
        if self.client is not None:
            self.client.close("the QEMU machine is closed")
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(TERM_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.stderr is not None:
            self.stderr.close()
        self.tidy()
        if self.ram is not None:
            self.ram.remove()

    def stderr_line(self) -> str:
        if self.stderr is None or self.stderr.closed:
            return ""
        text = os.pread(self.stderr.fileno(), STDERR_PEEK, 0).decode(errors="replace")
        return next((line.strip() for line in text.splitlines() if line.strip()), "")

    def exit_description(self) -> str:
        """Why the qtest connection went away (called only after it did)."""
        proc = self.proc
        if proc is None:
            return "QEMU is not running"
        try:
            status = proc.wait(TERM_GRACE)
        except subprocess.TimeoutExpired:
            return "QEMU closed the qtest connection"
        line = self.stderr_line()
        how = f" (killed by {signal.Signals(-status).name})" if _is_signal(status) else ""
        return f"QEMU exited with status {status}{how}" + (f": {line}" if line else "")


def _is_signal(status: int) -> bool:
    """A Popen status that means "killed by a signal" (-N for signal N)."""
    return status < 0 and -status in {int(sig) for sig in signal.Signals}


def _lba_size(nvme_options: Sequence[str]) -> int:
    """The LBA size the NVMe ``-device`` options give (QEMU's default: 512)."""
    for option in nvme_options:
        key, _, value = option.partition("=")
        if key == "logical_block_size" and value.isdigit():
            return int(value)
    return DEFAULT_LBA_SIZE


class QemuMachine:
    """QEMU's riscv64 ``virt`` with QEMU's NVMe device; a :class:`Machine`.

    `image` (a raw disk image) is attached read-only unless `read_only` is
    False; without one there is no NVMe controller.  `extra_images` add
    controllers at the next slots; `namespaces` splits each image into that
    many namespaces (``nvme-ns``); `lba_size` is their logical and physical
    block size (see :func:`qemu_args`).  `nvme_options` are
    appended to the NVMe ``-device`` (e.g. ``"logical_block_size=4096"``),
    `devices` become extra ``-device`` arguments (`clock`: see :func:`qemu_args`),
    `extra_args` are passed
    verbatim.  `timeout` bounds start-up and every qtest reply.  Starts
    QEMU at once; use as a context manager or call :meth:`close`.

    `shared_ram`: guest RAM in a file mapped by QEMU and qrv alike
    (:mod:`qrv.hw.qemu_ram`), so DMA memory is plain memory and only MMIO goes
    over qtest.  None (the default) shares when it can and otherwise logs why
    not and reaches RAM over qtest; True requires it (MachineError if it cannot
    be shared); False never shares.  :attr:`shared_ram` tells which it is.
    """

    def __init__(
        self,
        image: str | os.PathLike[str] | None = None,
        *,
        ram_size: int = DEFAULT_RAM_SIZE,
        read_only: bool = True,
        serial: str = "qrv-test",
        nvme_options: Sequence[str] = (),
        devices: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        qemu_binary: str = DEFAULT_BINARY,
        timeout: float = DEFAULT_TIMEOUT,
        extra_images: Sequence[str | os.PathLike[str]] = (),
        namespaces: int = 1,
        lba_size: int | None = None,
        clock: bool = False,
        shared_ram: bool | None = None,
    ) -> None:
        if ram_size <= 0 or ram_size % MiB:
            raise MachineError(f"QEMU RAM size must be a positive number of MiB, got {ram_size}")
        binary = shutil.which(qemu_binary)
        if binary is None:
            raise MachineError(
                f"{qemu_binary} not found: install the Debian package {DEBIAN_PACKAGE}"
            )
        self._ram_size = ram_size
        self.timeout = timeout
        path = None if image is None else Path(image).absolute()
        block = lba_size if lba_size is not None else _lba_size(nvme_options)
        for each in [] if image is None else [image, *extra_images]:
            # the built-in machine's checks, before QEMU sees the image
            if namespaces == 1:
                check_image(each, read_only=read_only, lba_size=block)
            else:
                namespace_ranges(each, namespaces, block)
        args = qemu_args(
            path,
            ram_size=ram_size,
            read_only=read_only,
            serial=serial,
            nvme_options=nvme_options,
            devices=devices,
            extra_args=extra_args,
            extra_images=[Path(p).absolute() for p in extra_images],
            namespaces=namespaces,
            lba_size=lba_size,
            clock=clock,
        )
        self._process = _Process(Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX)))
        self._finalizer = weakref.finalize(self, self._process.reap)
        self.ram_note = ""
        """How guest RAM is reached: "shared RAM file" or why it is qtest."""
        try:
            self._dtb = self._dump_dtb(binary, args)
            shared = self._start(binary, args, shared_ram)
            self.interrupts = self._intercept(binary, extra_args)
        except BaseException:
            self._finalizer()
            raise
        self._bus = QemuBus(self._client, RAM_BASE, ram_size, shared)

    def _start(self, binary: str, args: list[str], wanted: bool | None) -> SharedRam | None:
        """Start QEMU, with its RAM shared if `wanted` allows and it works; else over qtest
        (logged when `wanted` is None; a MachineError when it is True)."""
        shared = None
        self.ram_note = "RAM over qtest (sharing not asked for)"
        if wanted is not False:
            try:
                shared = self._process.ram = SharedRam(self._ram_size)
            except MachineError as exc:
                self._no_sharing(wanted, str(exc))
        if shared is not None:
            try:
                self._client = self._launch(binary, args, shared)
            except MachineError as exc:
                if wanted or "memory-backend" not in str(exc):
                    raise
                self._no_sharing(wanted, str(exc))  # e.g. an older QEMU: start it without
                self._process.restart()
                shared = None
        if shared is None:
            self._client = self._launch(binary, args, None)
            return None
        problem = shared_ram_problem(self._client, shared)
        shared.remove()  # QEMU has answered: its backend holds the file open (mapped)
        if problem is not None:
            self._no_sharing(wanted, problem)
            return None
        self.ram_note = "shared RAM file"
        log.info("QEMU pid %d: guest RAM shared through a file", self.pid)
        return shared

    def _no_sharing(self, wanted: bool | None, why: str) -> None:
        if wanted:
            raise MachineError(f"QEMU's RAM cannot be shared: {why}")
        self.ram_note = f"RAM over qtest: {why}"
        log.warning("QEMU's RAM is not shared (%s): DMA memory goes over qtest", why)

    # -- start-up ------------------------------------------------------------------------

    def _dump_dtb(self, binary: str, args: list[str]) -> bytes:
        """QEMU's own device tree: ``-machine virt,dumpdtb=FILE`` with the same devices."""
        dtb = self._process.workdir / "virt.dtb"
        argv = [binary, "-machine", f"virt,dumpdtb={dtb}", *args]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self.timeout,
                preexec_fn=_parent_death_hook(),
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise MachineError(
                f"QEMU did not dump its device tree within {self.timeout:g} s"
            ) from None
        except OSError as exc:
            raise MachineError(f"cannot run {binary}: {exc.strerror}") from exc
        if done.returncode != 0 or not dtb.exists():
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            raise MachineError(
                "QEMU failed to start: " + (lines[0] if lines else f"status {done.returncode}")
            )
        blob = dtb.read_bytes()
        dtb.unlink()
        return trim_dtb(blob)

    def _launch(self, binary: str, args: list[str], shared: SharedRam | None) -> QtestClient:
        """Listen, start QEMU (the qtest client), accept its connection.  With `shared`
        RAM, QEMU's RAM is that file; it is unlinked (with the directory) once QEMU is up."""
        workdir = self._process.workdir
        sock_path = workdir / "qtest.sock"
        if shared is None:
            argv = [binary, "-machine", "virt", *args]
        else:
            argv = [binary, "-machine", f"virt,memory-backend={BACKEND_ID}"]
            argv += [*shared.backend_args(), *args]
        argv += ["-qtest", f"unix:{sock_path}", "-qtest-log", "/dev/null"]
        self.command_line = tuple(argv)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(sock_path))
            listener.listen(1)
            listener.settimeout(ACCEPT_POLL)
            self._process.stderr = err = open(workdir / "stderr", "w+b")  # noqa: SIM115
            try:
                self._process.proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,
                    # The hook makes one pre-resolved prctl call: no lock, no import.
                    preexec_fn=_parent_death_hook(),  # noqa: PLW1509
                )
            except OSError as exc:
                raise MachineError(f"cannot run {binary}: {exc.strerror}") from exc
            conn = self._accept(listener)
        self._process.tidy()
        client = QtestClient(conn, self.timeout, self._process.exit_description)
        self._process.client = client
        return client

    def _intercept(self, binary: str, extra_args: Sequence[str]) -> QemuInterrupts:
        """QEMU's interrupt controller's input lines, handed to qtest (hw/qemu_irq.py)."""
        aia = "aia=aplic-imsic" in ",".join(extra_args)
        machine, kind = ("virt,aia=aplic-imsic", APLIC_TYPE) if aia else ("virt", PLIC_TYPE)
        path = qom_device_of_type(binary, machine, kind, self.timeout)
        return QemuInterrupts(self._client, path)

    def _accept(self, listener: socket.socket) -> socket.socket:
        proc = self._process.proc
        assert proc is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                conn, _ = listener.accept()
                return conn
            except TimeoutError:
                status = proc.poll()
                if status is not None:
                    line = self._process.stderr_line() or f"exited with status {status}"
                    raise MachineError(f"QEMU failed to start: {line}") from None
        raise MachineError(f"QEMU did not connect to its qtest socket within {self.timeout:g} s")

    # -- the Machine protocol ------------------------------------------------------------

    @property
    def bus(self) -> PhysicalBus:
        return self._bus

    @property
    def shared_ram(self) -> bool:
        """Guest RAM is the shared file (DMA memory is plain memory; only MMIO is qtest)."""
        return self._bus.shared is not None

    @property
    def qemu_bus(self) -> QemuBus:
        """The bus with its qtest extras (``memset``, the client)."""
        return self._bus

    @property
    def ram_base(self) -> int:
        return RAM_BASE

    @property
    def ram_size(self) -> int:
        return self._ram_size

    @property
    def pid(self) -> int:
        proc = self._process.proc
        assert proc is not None
        return proc.pid

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    @property
    def lost(self) -> str | None:
        """Why QEMU went away while in use (it exited or stopped answering), else None.

        None after :meth:`close` too: stopping QEMU then is not a loss.
        """
        if self.closed:
            return None
        client = self._process.client
        if client is not None and client.broken is not None:
            return client.broken
        proc = self._process.proc
        if proc is not None and proc.poll() is not None:
            return self._process.exit_description()
        return None

    def device_tree(self) -> bytes:
        return self._dtb

    def close(self) -> None:
        """Stop and reap QEMU, remove its temporary directory.  Idempotent."""
        interrupts = getattr(self, "interrupts", None)
        if interrupts is not None:
            interrupts.close()
        self._finalizer()
        self._bus.shared = None  # RAM goes with the machine (the mapping with its last view)

    def __enter__(self) -> QemuMachine:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def shared_ram_problem(client: QtestClient, shared: SharedRam) -> str | None:
    """Check that QEMU's RAM is the mapped file: a pattern stored through qtest must
    appear in the mapping and zeros stored in the mapping must read back through qtest.
    None if so, else what went wrong.  The probe uses the last bytes of RAM and
    leaves them zero."""
    offset = shared.size - SHARE_PROBE_SIZE
    pattern = os.urandom(SHARE_PROBE_SIZE)
    client.b64write(RAM_BASE + offset, pattern)
    seen = bytes(shared.view[offset : offset + SHARE_PROBE_SIZE])
    shared.view[offset : offset + SHARE_PROBE_SIZE] = bytes(SHARE_PROBE_SIZE)
    back = client.b64read(RAM_BASE + offset, SHARE_PROBE_SIZE)
    if seen != pattern or any(back):
        return "QEMU's RAM and the mapped file differ"
    return None


def trim_dtb(blob: bytes) -> bytes:
    """QEMU pads its dump to 1 MiB; keep the header's ``totalsize`` bytes."""
    if len(blob) < HEADER.size:
        raise MachineError(f"QEMU's device tree dump is {len(blob)} bytes: too short")
    magic, totalsize = HEADER.unpack_from(blob)[:2]
    if magic != FDT_MAGIC or totalsize > len(blob):
        raise MachineError(
            f"QEMU's device tree dump is not a DTB (magic {magic:#x}, totalsize {totalsize})"
        )
    return blob[:totalsize]

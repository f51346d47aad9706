"""The boot: machine -> kernel (procnto) -> boot programs -> sh  (``qrv emu``).

``qrv emu [-c 'cmd; cmd'] [--nvme] [--image PATH] [--machine builtin|qemu] [--rw]
[--power-cut-after N] [--seed S] [--lba-size 512|4096] [--drive IMAGE]...
[--namespaces N] [--trace FILE] [--program PATH.py[:NAME]]... [--programs DIR]... [--edu]
[--mount DEVICE:DIR]...``

``--mount DEVICE:DIR`` (repeatable) starts fs-qrv on DEVICE at DIR after the
other boot programs, as ``mount DEVICE DIR`` would (a device that is not
writable is mounted read-only, a device without a usable qrvfs is one line
from fs-qrv and the boot goes on without it); when the shell ends they are
unmounted (committed and flushed) before the teardown.

``--program``/``--programs`` install the user's own programs as ``/bin/NAME``
(:mod:`qrv.programs`: checked and loaded before the boot).

Boot and driver log lines go to stderr; what shell commands print goes to
stdout, so ``qrv emu -c 'cat FILE' > out.bin`` captures exactly the bytes.
The exit status is the shell's (the last command's).  ``--rw`` opens the image
read-write and starts devb-nvme with ``rw``.  ``--power-cut-after N`` (built-in
machine) cuts the power right after the NVMe device completed its N-th write
(:meth:`qrv.hw.nvme.NvmeController.power_cut_after`, the lost subset drawn from
``--seed``): the system is torn down at once and ``qrv emu`` exits with status 3
after one line ``power cut after N writes (M unflushed writes lost)``.

:data:`BOOT_PROGRAMS` is the ordered list of programs started before the
shell (pci-server, then devb-nvme); each is waited for until it calls
``procmgr_ready()``, its ``waitfor`` path appears, or it exits — bounded by
its timeout on the kernel's clock, as a QNX buildfile's ``waitfor``.  The
boot script runs inside the system, as a thread of procnto, and starts the
shell last; so a run is a function of its inputs and ``--seed`` (which
also picks among equal-priority READY threads), and ``--trace FILE`` writes
the same lines for the same seed.

Ctrl-C (SIGINT) is taken by the main thread only, at safe points: while the
system runs, the SIGINT handler just counts (:class:`SigintLatch`) and the
main thread, which waits for the boot programs and the shell in short
slices, looks at the count.  Interactive (no ``-c`` and stdin a terminal) a
^C is the terminal's SIGINT to the foreground: every process the shell
started is killed as SIGINT's default action does (status 130 in the
shell), and a shell read blocked at the prompt fails with EINTR (the shell
drops the line and prompts again).  Otherwise a ^C ends ``qrv emu``: the
kernel and the machine are torn down and the CLI reports "interrupted",
status 130.  The console streams are :func:`qrv.kernel.host_console` (the
fds, read and written in interruptible slices) so no process thread can be
left holding ``sys.stdin``'s or ``sys.stdout``'s buffer lock at interpreter
shutdown.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, BinaryIO, NoReturn, TextIO

from qrv.drivers.devb_nvme.main import main as devb_nvme_main
from qrv.errors import FdtError, MachineLost, QrvError, TraceError, UsageError
from qrv.hw.board import VirtBoard
from qrv.hw.bus import Machine, PhysicalBus
from qrv.hw.clock import VirtualClock
from qrv.hw.edu import Edu
from qrv.hw.intc import BoardInterrupts
from qrv.hw.nvme import Namespace, NvmeController, PowerCut, namespace_ranges
from qrv.hw.serial import Serial16550
from qrv.kernel import SIGINT, ConsoleInput, Kernel, Stdio, host_console
from qrv.kernel.slog import LogTee, Severity
from qrv.lib.c.proc import procmgr_waitfor, spawn
from qrv.programs import SystemProgram, load_all, system_programs
from qrv.servers.pci.main import main as pci_server_main
from qrv.servers.pipe.main import main as pipe_main
from qrv.userland import sh
from qrv.userland.commands import BUILTINS, COMMANDS

Entry = Callable[[list[str]], int]
SIGNAL_BASE = 128
EXIT_POWER_CUT = 3
MiB = 1 << 20
DEFAULT_IMAGE = "nvme.img"
SERIAL_SLOT = 1  # 00:01.0: the seed's -device pci-serial, QEMU virt's first free slot
NVME_SLOT = 2  # 00:02.0, the next -device
SERIAL = "qrv-test"
EDU_DMA_MASK = (1 << 32) - 1
"""edu's DMA mask under ``qrv emu --edu`` (QEMU's default 28 bits cannot reach RAM at
0x8000_0000): ``-device edu,dma_mask=`` on QEMU, the same on the built-in board."""
DEFAULT_LBA_SIZE = 512
MAX_NAMESPACES = 16
BOOT_TIMEOUT = 20.0
SEED_DISK_MIB = 64
SEED_PARTS_MIB = (16, 16)
POLL = 0.05
"""Seconds between the main thread's looks at a pending Ctrl-C while it waits."""
FS_QRV = "qrv.servers.fs_qrv.main"
"""fs-qrv's module: the boot imports it only for ``--mount`` (every import is boot time)."""


@dataclass(frozen=True)
class BootProgram:
    """A program the boot starts before the shell, and how to know it is up."""

    name: str
    entry: Entry
    argv: list[str] = field(default_factory=list)
    waitfor: str | None = None
    timeout: float = BOOT_TIMEOUT


@dataclass(frozen=True)
class EmuOptions:
    command: str | None
    nvme: bool
    image: str
    machine: str
    writable: bool = False
    power_cut_after: int | None = None
    seed: int = 0
    lba_size: int = 512
    drives: tuple[str, ...] = ()
    namespaces: int = 1
    trace: str | None = None
    programs: tuple[str, ...] = ()
    program_dirs: tuple[str, ...] = ()
    edu: bool = False
    mounts: tuple[tuple[str, str], ...] = ()

    @property
    def images(self) -> list[str]:
        """One image per NVMe controller: ``--image`` (with ``--nvme``), then the drives."""
        return ([self.image] if self.nvme else []) + list(self.drives)


class PowerLost(Exception):
    """The machine's power was cut: the system stops where it is."""

    def __init__(self, cut: PowerCut) -> None:
        super().__init__(cut.message)
        self.cut = cut


BOOT_PROGRAMS: list[BootProgram] = [
    BootProgram("pci-server", pci_server_main, waitfor="/dev/pci"),
    BootProgram("devb-nvme", devb_nvme_main),
    BootProgram("pipe", pipe_main, waitfor="/dev/pipe"),
]
"""Started in order before the shell, as the seed's boot script does."""


def boot_programs(writable: bool, mounts: Sequence[tuple[str, str]] = ()) -> list[BootProgram]:
    """:data:`BOOT_PROGRAMS`, with devb-nvme serving writable nodes when `writable`,
    then an fs-qrv per (device, directory) of `mounts`."""
    progs = [
        BootProgram(p.name, p.entry, [*p.argv, "rw"], p.waitfor, p.timeout)
        if writable and p.name == "devb-nvme"
        else p
        for p in BOOT_PROGRAMS
    ]
    fs_qrv = SystemProgram("fs-qrv", FS_QRV)  # imported when a mount starts it
    return progs + [BootProgram("fs-qrv", fs_qrv, [dev, where]) for dev, where in mounts]


def parse_mount(text: str) -> tuple[str, str]:
    """``DEVICE:DIR`` of ``--mount`` (UsageError unless both are absolute paths)."""
    dev, sep, where = text.partition(":")
    if not sep or not dev.startswith("/") or not where.startswith("/"):
        raise UsageError(f"--mount takes DEVICE:DIR (absolute paths), got {text!r} {HELP_HINT}")
    return dev, where.rstrip("/") or "/"


def ensure_image(path: str, lba_size: int = 512, namespaces: int = 1) -> None:
    """Create the seed's 64 MiB image with two 16 MiB partitions when missing or empty
    (in `lba_size` blocks; with several `namespaces`, one such disk per namespace,
    back to back)."""
    if os.path.exists(path) and not os.path.isfile(path):
        return  # a block device or the like: use it as it is
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return
    from qrv.tools.mkgpt import create_seed_image  # only a first boot needs it

    create_seed_image(path, SEED_DISK_MIB, SEED_PARTS_MIB, lba_size=lba_size)
    if namespaces > 1:
        with open(path, "rb") as f:
            disk = f.read()
        with open(path, "ab") as f:
            for _ in range(namespaces - 1):
                f.write(disk)
    each = f"{namespaces} x {SEED_DISK_MIB} MiB namespaces, each a" if namespaces > 1 else ""
    log(
        f"emu: created {path} ({each or f'{SEED_DISK_MIB} MiB,'} GPT with "
        f"{len(SEED_PARTS_MIB)} x {SEED_PARTS_MIB[0]} MiB partitions)"
    )


def controller_serial(index: int) -> str:
    """The serial number of the `index`-th NVMe controller (the same on both machines)."""
    return SERIAL if index == 0 else f"{SERIAL}{index}"


class BuiltinMachine:
    """The built-in board as the seed's machine: a PCI 16550 at 00:01.0, an NVMe
    controller per image from 00:02.0 on (as QEMU places its -device list).  Each
    controller's image is split into `namespaces` equal namespaces."""

    def __init__(
        self,
        image: str | os.PathLike[str] | None,
        *,
        writable: bool = False,
        lba_size: int = 512,
        namespaces: int = 1,
        extra_images: Sequence[str | os.PathLike[str]] = (),
        power_cut_after: int | None = None,
        seed: int = 0,
        edu: bool = False,
        **controller_args: Any,
    ) -> None:
        self.board = VirtBoard()
        self.serial = Serial16550()
        self.board.plug_pci(self.serial, dev=SERIAL_SLOT)
        self.controllers: list[NvmeController] = []
        self.edu: Edu | None = None
        self.power_cut: PowerCut | None = None
        self._seed = seed
        images = [] if image is None else [image, *extra_images]
        try:
            for index, path in enumerate(images):
                self._plug(index, path, writable, lba_size, namespaces, controller_args)
        except BaseException:
            self.close()
            raise
        if edu:  # after the NVMe controllers, as QEMU places its -device list
            self.edu = Edu(self.board.clock, dma_mask=EDU_DMA_MASK)
            self.board.plug_pci(self.edu, dev=NVME_SLOT + len(images))
        if power_cut_after is not None and self.controllers:
            self.controllers[0].power_cut_after(power_cut_after, seed=seed, on_cut=self._cut)

    def _plug(  # noqa: PLR0917 - one controller's whole description
        self,
        index: int,
        path: str | os.PathLike[str],
        writable: bool,
        lba_size: int,
        count: int,
        controller_args: dict[str, Any],
    ) -> None:
        ranges = namespace_ranges(path, count, lba_size) if count > 1 else [(0, None)]
        nss: list[Namespace] = []
        try:
            for offset, size in ranges:
                nss.append(
                    Namespace(
                        path, read_only=not writable, lba_size=lba_size, offset=offset, size=size
                    )
                )
            args = {
                "serial": controller_serial(index),
                "clock": self.board.clock,
                **controller_args,
            }
            ctrl = NvmeController(nss, **args)
        except BaseException:
            for ns in nss:
                ns.close()
            raise
        self.controllers.append(ctrl)
        self.board.plug_pci(ctrl, dev=NVME_SLOT + index)

    @property
    def nvme(self) -> NvmeController | None:
        """The first NVMe controller (00:02.0), if any."""
        return self.controllers[0] if self.controllers else None

    def _cut(self, cut: PowerCut) -> None:
        """The machine loses power: every other controller loses its cache too."""
        for ctrl in self.controllers[1:]:
            ctrl.cut_power(seed=self._seed)
        self.power_cut = cut
        self.board.clock.follow_host = True  # a dead machine's timeouts do not race the host

    @property
    def bus(self) -> PhysicalBus:
        return self.board.bus

    @property
    def ram_base(self) -> int:
        return self.board.ram_base

    @property
    def ram_size(self) -> int:
        return self.board.ram_size

    @property
    def clock(self) -> VirtualClock:
        """The board's virtual clock: the kernel runs it (and jumps it to deadlines)."""
        return self.board.clock

    @property
    def interrupts(self) -> BoardInterrupts:
        """The board's PLIC and MSI target as the kernel claims them (hw/irq.InterruptInput)."""
        return self.board.interrupts

    def device_tree(self) -> bytes:
        return self.board.device_tree()

    def close(self) -> None:
        for ctrl in self.controllers:
            ctrl.close()
        self.controllers = []
        self.board.close()


def make_machine(opts: EmuOptions) -> Machine:
    """The machine to boot on: the built-in board (default) or QEMU's riscv64 virt."""
    images = opts.images
    for path in images:
        ensure_image(path, opts.lba_size, opts.namespaces)
    first, extra = (images[0], images[1:]) if images else (None, [])
    if opts.machine == "qemu":
        if opts.power_cut_after is not None:
            raise UsageError("--power-cut-after needs the built-in machine")
        from qrv.hw.qemu import QemuMachine

        return QemuMachine(
            first,
            read_only=not opts.writable,
            extra_images=extra,
            namespaces=opts.namespaces,
            lba_size=None if opts.lba_size == DEFAULT_LBA_SIZE else opts.lba_size,
            devices=[f"edu,dma_mask={EDU_DMA_MASK:#x}"] if opts.edu else [],
            clock=opts.edu,
        )
    return BuiltinMachine(
        first,
        writable=opts.writable,
        lba_size=opts.lba_size,
        namespaces=opts.namespaces,
        extra_images=extra,
        power_cut_after=opts.power_cut_after,
        seed=opts.seed,
        edu=opts.edu,
    )


HELP_HINT = "(try 'qrv emu --help')"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} {HELP_HINT}")


def parse_args(argv: list[str]) -> EmuOptions:
    p = _Parser(
        prog="qrv emu",
        description="Boot the machine, the kernel, pci-server and devb-nvme, then run the shell.",
    )
    p.add_argument("-c", dest="command", help="run these commands ('cmd; cmd') and exit")
    p.add_argument(
        "--nvme",
        action="store_true",
        help="attach an NVMe drive over --image (devb-nvme serves /dev/nvme0n1 and a path "
        "per GPT partition)",
    )
    p.add_argument(
        "--image",
        help=f"the NVMe drive's image file, with --nvme (default {DEFAULT_IMAGE}; created "
        "with a 64 MiB GPT of two 16 MiB partitions when missing or empty)",
    )
    p.add_argument(
        "--machine",
        choices=("builtin", "qemu"),
        default="builtin",
        help="builtin: the built-in riscv64 virt board and NVMe model (default); "
        "qemu: QEMU's riscv64 virt machine and NVMe device, driven over qtest",
    )
    p.add_argument("--rw", action="store_true", help="open the image read-write")
    p.add_argument(
        "--power-cut-after",
        type=int,
        metavar="N",
        help="cut the power after the NVMe device's N-th write (built-in machine)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="picks among equal-priority READY threads, and what a power cut loses",
    )
    p.add_argument("--trace", metavar="FILE", help="write one line per kernel event to FILE")
    p.add_argument(
        "--lba-size", type=int, choices=(512, 4096), default=DEFAULT_LBA_SIZE, help="default 512"
    )
    p.add_argument(
        "--drive",
        action="append",
        default=[],
        metavar="IMAGE",
        help="another NVMe controller over IMAGE (repeatable: nvme1, nvme2, ...)",
    )
    p.add_argument(
        "--namespaces", type=int, default=1, metavar="N", help="split each image into N namespaces"
    )
    p.add_argument(
        "--program",
        action="append",
        default=[],
        metavar="PATH.py[:NAME]",
        help="install your program as /bin/NAME (default: the file's stem; repeatable)",
    )
    p.add_argument(
        "--programs",
        action="append",
        default=[],
        metavar="DIR",
        help="install every DIR/*.py as a program (repeatable)",
    )
    p.add_argument(
        "--edu",
        action="store_true",
        help="attach QEMU's edu teaching device (1234:11e8) after the NVMe controllers",
    )
    p.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="DEVICE:DIR",
        help="mount the qrvfs on DEVICE at DIR at boot (fs-qrv; repeatable)",
    )
    ns = p.parse_args(argv)
    mounts = tuple(parse_mount(m) for m in ns.mount)
    if ns.image is not None and not ns.nvme:
        raise UsageError(f"--image needs --nvme (without it no drive is attached) {HELP_HINT}")
    if ns.power_cut_after is not None and ns.power_cut_after < 1:
        raise UsageError(f"--power-cut-after must be at least 1, got {ns.power_cut_after}")
    image = DEFAULT_IMAGE if ns.image is None else ns.image
    if not 1 <= ns.namespaces <= MAX_NAMESPACES:
        raise UsageError(f"--namespaces must be 1..{MAX_NAMESPACES}, got {ns.namespaces}")
    return EmuOptions(
        ns.command,
        ns.nvme,
        image,
        ns.machine,
        ns.rw,
        ns.power_cut_after,
        ns.seed,
        ns.lba_size,
        tuple(ns.drive),
        ns.namespaces,
        ns.trace,
        tuple(ns.program),
        tuple(ns.programs),
        ns.edu,
        mounts,
    )


def log(line: str, stream: BinaryIO | None = None) -> None:
    """One boot log line on stderr (the host's, or the given console's)."""
    out = stream if stream is not None else sys.stderr.buffer
    out.write(line.encode() + b"\n")
    out.flush()


class SigintLatch:
    """Ctrl-C as a count the main thread polls, instead of a KeyboardInterrupt anywhere.

    A KeyboardInterrupt can surface in the middle of any Python code, e.g.
    between taking and releasing a kernel lock, which would leave the system
    wedged for the teardown.  Inside ``with SigintLatch() as sigint`` the
    handler only counts; :meth:`take` consumes the count, :meth:`check`
    raises KeyboardInterrupt at the caller's (safe) point.  A second ^C
    during the teardown is thus absorbed, not left to cut it short.  The
    handler is installed only from the main thread and only over Python's
    default one (a SIGINT the parent set to be ignored stays ignored).
    """

    def __init__(self) -> None:
        self.pending = 0
        self._previous: Any = None
        self._installed = False

    def __enter__(self) -> SigintLatch:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._handler)
            self._installed = True
        return self

    def __exit__(self, *exc: object) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.pending += 1

    def take(self) -> bool:
        """Whether a ^C came since the last look (and forget it)."""
        if not self.pending:
            return False
        self.pending = 0
        return True

    def check(self) -> None:
        """Raise KeyboardInterrupt if a ^C came."""
        if self.take():
            raise KeyboardInterrupt


def boot(
    kernel: Kernel,
    programs: list[BootProgram],
    stderr: BinaryIO | None = None,
    sigint: SigintLatch | None = None,
    shell: list[str] | None = None,
) -> int | None:
    """Load hwinfo, then run the boot script (in procnto) to its end; the shell's pid.

    The script starts the boot programs in order, waiting for each, then
    `shell` (the argv of sh) if given.
    """
    try:
        kernel.load_hwinfo()
    except FdtError as exc:
        raise FdtError(f"cannot boot: the machine's device tree is malformed: {exc}") from None

    def script() -> int | None:
        for prog in programs:
            # a boot program's stderr lines also go to the system log (sloginfo)
            out = kernel.stdio
            logged = Stdio(
                out.stdin, out.stdout, _binary(LogTee(out.stderr, kernel.slog, prog.name))
            )
            pid = kernel.spawn(
                prog.entry, [prog.name, *prog.argv], name=prog.name, stdio=logged, parent=1
            )
            if not procmgr_waitfor(pid, prog.waitfor, prog.timeout):
                line = f"procnto: {prog.name} (pid {pid}) not ready after {prog.timeout:.0f} s"
                kernel.slog.add("procnto", line, Severity.ERROR)
                log(line, stderr)
        return None if shell is None else spawn(sh.main, shell)

    done = kernel.procnto_thread(script, "boot")
    while True:
        try:
            return done.result(POLL)
        except concurrent.futures.TimeoutError:
            if sigint is not None:
                sigint.check()


def _binary(stream: object) -> BinaryIO:
    """A raw stream typed as the BinaryIO a Stdio carries."""
    return stream  # type: ignore[return-value]


def interrupt_foreground(kernel: Kernel, shell: int, console: ConsoleInput) -> None:
    """The terminal's SIGINT: kill what the shell runs; the shell's own read gets EINTR."""
    for pid in kernel.descendants(shell):
        with contextlib.suppress(OSError):  # already gone
            kernel.kill(pid, SIGINT)
    console.interrupt()


PowerProbe = Callable[[], PowerCut | None]


def power_probe(machine: Machine) -> PowerProbe | None:
    """How to ask `machine` whether its power was cut (only the built-in one can be)."""
    if isinstance(machine, BuiltinMachine):
        return lambda: machine.power_cut
    return None


def shell_argv(command: str | None) -> list[str]:
    return ["sh"] if command is None else ["sh", "-c", command]


def run_shell(
    kernel: Kernel,
    command: str | None,
    *,
    sigint: SigintLatch | None = None,
    console: ConsoleInput | None = None,
    power: PowerProbe | None = None,
    pid: int | None = None,
) -> int:
    """Run sh (``-c command``, or reading stdin) and return its status.

    `pid`: the shell the boot script already started (else one is started here).

    With `sigint`, the wait looks for ^C every :data:`POLL` s: with a
    `console` (an interactive shell) it is passed on by
    :func:`interrupt_foreground`; without one it raises KeyboardInterrupt.
    With `power`, a cut seen at one of those looks raises :class:`PowerLost`.
    """
    if pid is None:
        pid = kernel.spawn(sh.main, shell_argv(command))
    polled = sigint is not None or power is not None
    while True:
        try:
            status = kernel.waitpid(pid, POLL if polled else None)
        except TimeoutError:
            cut = power() if power is not None else None
            if cut is not None:
                raise PowerLost(cut) from None
            if sigint is not None and sigint.take():
                if console is None:
                    raise KeyboardInterrupt from None
                interrupt_foreground(kernel, pid, console)
            continue
        cut = power() if power is not None else None
        if cut is not None:  # the cut came with the shell's last command
            raise PowerLost(cut)
        return SIGNAL_BASE - status if status < 0 else status


def run(
    machine: Machine,
    command: str | None,
    stdio: Stdio,
    programs: list[BootProgram] | None = None,
    *,
    sigint: SigintLatch | None = None,
    console: ConsoleInput | None = None,
    seed: int = 0,
    trace: TextIO | None = None,
    installed: dict[str, Entry] | None = None,
    unmount: Sequence[str] = (),
) -> int:
    """Boot `machine` (kernel, boot programs), run the shell, tear down; the shell's status.

    `sigint` and `console` as for :func:`run_shell`; a KeyboardInterrupt
    still tears the kernel down before it propagates.  `installed`: the
    user's programs (:mod:`qrv.programs`), run by name or as ``/bin/NAME``;
    ``/bin`` lists them beside the system's commands.
    `unmount`: directories unmounted (``umount -f``: committed, flushed) once
    the shell has ended, before the teardown, as a shutdown does.
    """
    system = system_programs({name: module for name, (module, _) in COMMANDS.items()})
    programs_in_bin = {**system, **(installed or {})}
    kernel = Kernel(machine, stdio, seed=seed, trace=trace, programs=programs_in_bin)
    up = f"procnto: up, RAM {machine.ram_size // MiB} MiB at {machine.ram_base:#x}"
    kernel.slog.add("procnto", up, Severity.NOTICE)
    log(up, stdio.stderr)
    try:
        progs = BOOT_PROGRAMS if programs is None else programs
        pid = boot(kernel, progs, stdio.stderr, sigint, shell_argv(command))
        power = power_probe(machine)
        status = run_shell(kernel, command, sigint=sigint, console=console, power=power, pid=pid)
        if unmount:
            line = "; ".join(f"umount -f {where} 2>/dev/null" for where in unmount)
            run_shell(kernel, line, sigint=sigint, power=power)
        return status
    finally:
        kernel.shutdown()


def machine_lost(machine: Machine) -> str | None:
    """Why the machine went away while the system ran (QEMU exited), else None."""
    if isinstance(machine, BuiltinMachine):
        return None  # in-process: it cannot go away
    from qrv.hw.qemu import QemuMachine

    return machine.lost if isinstance(machine, QemuMachine) else None


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    installed: dict[str, Entry] = {}
    if opts.programs or opts.program_dirs:  # else not even pathlib is imported for them
        reserved = [*COMMANDS, *BUILTINS]
        installed = load_all(opts.programs, opts.program_dirs, reserved=reserved)
    machine = make_machine(opts)
    with SigintLatch() as sigint, contextlib.ExitStack() as files:
        try:
            trace = None
            if opts.trace is not None:
                trace = files.enter_context(open_trace(opts.trace))
            stdio, stdin = host_console()
            interactive = opts.command is None and stdin.isatty()
            status = run(
                machine,
                opts.command,
                stdio,
                boot_programs(opts.writable, opts.mounts),
                sigint=sigint,
                console=stdin if interactive else None,
                seed=opts.seed,
                trace=trace,
                installed=installed,
                unmount=[where for _dev, where in opts.mounts],
            )
            reason = machine_lost(machine)
            if reason is not None:
                raise MachineLost(f"the machine was lost: {reason}", reason)
            return status
        except PowerLost as lost:
            log(lost.cut.message)
            return EXIT_POWER_CUT
        finally:
            with contextlib.suppress(QrvError):
                machine.close()


def open_trace(path: str) -> TextIO:
    """The --trace file, or one clear error (TraceError) if it cannot be created."""
    try:
        return open(path, "w", encoding="ascii", newline="\n")
    except OSError as exc:
        raise TraceError(f"--trace {path}: {exc.strerror}") from None

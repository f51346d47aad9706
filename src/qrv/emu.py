"""The boot: machine -> kernel (procnto) -> boot programs -> sh  (``qrv emu``).

``qrv emu [-c 'cmd; cmd'] [--nvme] [--image PATH] [--machine builtin|qemu]``

Boot and driver log lines go to stderr; what shell commands print goes to
stdout, so ``qrv emu -c 'cat FILE' > out.bin`` captures exactly the bytes.
The exit status is the shell's (the last command's).

:data:`BOOT_PROGRAMS` is the ordered list of programs started before the
shell (pci-server, then devb-nvme); each is waited for until it calls
``procmgr_ready()``, its ``waitfor`` path appears, or it exits — bounded by
its timeout, as a QNX buildfile's ``waitfor``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from qrv.drivers.devb_nvme.main import main as devb_nvme_main
from qrv.errors import QrvError, UsageError
from qrv.hw.board import VirtBoard
from qrv.hw.bus import Machine, PhysicalBus
from qrv.hw.nvme import Namespace, NvmeController
from qrv.kernel import Kernel, Stdio
from qrv.servers.pci.main import main as pci_server_main
from qrv.tools.mkgpt import create_seed_image
from qrv.userland import sh

Entry = Callable[[list[str]], int]
SIGNAL_BASE = 128
MiB = 1 << 20
DEFAULT_IMAGE = "nvme.img"
NVME_SLOT = 1  # 00:01.0, where QEMU's virt machine puts the first -device
BOOT_TIMEOUT = 20.0
SEED_DISK_MIB = 64
SEED_PARTS_MIB = (16, 16)


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


BOOT_PROGRAMS: list[BootProgram] = [
    BootProgram("pci-server", pci_server_main, waitfor="/dev/pci"),
    BootProgram("devb-nvme", devb_nvme_main),
]
"""Started in order before the shell, as the seed's boot script does."""


def ensure_image(path: str) -> None:
    """Create the seed's 64 MiB image with two 16 MiB partitions when missing or empty."""
    p = Path(path)
    if p.exists() and not p.is_file():
        return  # a block device or the like: use it as it is
    if p.exists() and p.stat().st_size > 0:
        return
    create_seed_image(p, SEED_DISK_MIB, SEED_PARTS_MIB)
    log(
        f"emu: created {path} ({SEED_DISK_MIB} MiB, GPT with "
        f"{len(SEED_PARTS_MIB)} x {SEED_PARTS_MIB[0]} MiB partitions)"
    )


class BuiltinMachine:
    """The built-in board, with the NVMe controller over the image at 00:01.0 when asked."""

    def __init__(
        self,
        image: str | os.PathLike[str] | None,
        *,
        writable: bool = False,
        lba_size: int = 512,
        **controller_args: Any,
    ) -> None:
        self.board = VirtBoard()
        self.nvme: NvmeController | None = None
        if image is not None:
            ns = Namespace(image, read_only=not writable, lba_size=lba_size)
            self.nvme = NvmeController([ns], **controller_args)
            self.board.plug_pci(self.nvme, dev=NVME_SLOT)

    @property
    def bus(self) -> PhysicalBus:
        return self.board.bus

    @property
    def ram_base(self) -> int:
        return self.board.ram_base

    @property
    def ram_size(self) -> int:
        return self.board.ram_size

    def device_tree(self) -> bytes:
        return self.board.device_tree()

    def close(self) -> None:
        if self.nvme is not None:
            self.nvme.close()
            self.nvme = None
        self.board.close()


def make_machine(opts: EmuOptions) -> Machine:
    """The machine to boot on: the built-in board (default) or QEMU's riscv64 virt."""
    image = None
    if opts.nvme:
        ensure_image(opts.image)
        image = opts.image
    if opts.machine == "qemu":
        from qrv.hw.qemu import QemuMachine

        return QemuMachine(image)
    return BuiltinMachine(image)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def parse_args(argv: list[str]) -> EmuOptions:
    p = _Parser(prog="qrv emu", description="boot the system and run the shell")
    p.add_argument("-c", dest="command", help="run these commands ('cmd; cmd') and exit")
    p.add_argument("--nvme", action="store_true", help="attach the NVMe drive (as emu.sh -nvme)")
    p.add_argument("--image", default=DEFAULT_IMAGE, help="NVMe image file (default nvme.img)")
    p.add_argument("--machine", choices=("builtin", "qemu"), default="builtin")
    ns = p.parse_args(argv)
    return EmuOptions(ns.command, ns.nvme, ns.image, ns.machine)


def log(line: str, stream: BinaryIO | None = None) -> None:
    """One boot log line on stderr (the host's, or the given console's)."""
    out = stream if stream is not None else sys.stderr.buffer
    out.write(line.encode() + b"\n")
    out.flush()


def boot(kernel: Kernel, programs: list[BootProgram], stderr: BinaryIO | None = None) -> None:
    """Load hwinfo and start the boot programs in order, waiting for each."""
    try:
        kernel.load_hwinfo()
    except QrvError as exc:
        log(f"procnto: no hwinfo: {exc}", stderr)
    for prog in programs:
        pid = kernel.spawn(prog.entry, [prog.name, *prog.argv], name=prog.name)
        if not kernel.wait_ready(pid, prog.waitfor, prog.timeout):
            log(f"procnto: {prog.name} (pid {pid}) not ready after {prog.timeout:.0f} s", stderr)


def run_shell(kernel: Kernel, command: str | None) -> int:
    argv = ["sh"] if command is None else ["sh", "-c", command]
    status = kernel.waitpid(kernel.spawn(sh.main, argv))
    return SIGNAL_BASE - status if status < 0 else status


def run(
    machine: Machine,
    command: str | None,
    stdio: Stdio,
    programs: list[BootProgram] | None = None,
) -> int:
    """Boot `machine` (kernel, boot programs), run the shell, tear down; the shell's status."""
    kernel = Kernel(machine, stdio)
    log(f"procnto: up, RAM {machine.ram_size // MiB} MiB at {machine.ram_base:#x}", stdio.stderr)
    try:
        boot(kernel, BOOT_PROGRAMS if programs is None else programs, stdio.stderr)
        return run_shell(kernel, command)
    finally:
        kernel.shutdown()


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    machine = make_machine(opts)
    try:
        stdio = Stdio(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
        return run(machine, opts.command, stdio)
    finally:
        with contextlib.suppress(QrvError):
            machine.close()

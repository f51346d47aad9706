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
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NoReturn

from qrv.errors import MachineError, QrvError, UsageError
from qrv.hw.bus import AddressSpace, Machine, PhysicalBus, Region
from qrv.hw.memory import GuestRam
from qrv.kernel import Kernel, Stdio
from qrv.userland import sh

Entry = Callable[[list[str]], int]
SIGNAL_BASE = 128
MiB = 1 << 20
DEFAULT_IMAGE = "nvme.img"
FALLBACK_RAM_BASE = 0x8000_0000
FALLBACK_RAM_SIZE = 64 * MiB
BOOT_TIMEOUT = 20.0


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


BOOT_PROGRAMS: list[BootProgram] = []
"""Started in order before the shell (pci-server and devb-nvme are added here)."""


class _FallbackMachine:
    """RAM only, no devices, empty device tree: used when no board module is present."""

    def __init__(self) -> None:
        self._space = AddressSpace()
        self._space.add(
            Region("ram", FALLBACK_RAM_BASE, FALLBACK_RAM_SIZE, ram=GuestRam(FALLBACK_RAM_SIZE))
        )

    @property
    def bus(self) -> PhysicalBus:
        return self._space

    @property
    def ram_base(self) -> int:
        return FALLBACK_RAM_BASE

    @property
    def ram_size(self) -> int:
        return FALLBACK_RAM_SIZE

    def device_tree(self) -> bytes:
        return b""

    def close(self) -> None:
        pass


def make_machine(opts: EmuOptions) -> Machine:
    """The machine to boot on.  ``--nvme``/``--image`` are wired when the NVMe model lands."""
    if opts.machine == "qemu":
        raise MachineError("emu: --machine qemu is not available yet")
    try:
        board = importlib.import_module("qrv.hw.board")
    except ImportError:
        return _FallbackMachine()
    machine: Machine = board.VirtBoard()
    return machine


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"emu: {message}")


def parse_args(argv: list[str]) -> EmuOptions:
    p = _Parser(prog="qrv emu", description="boot the system and run the shell")
    p.add_argument("-c", dest="command", help="run these commands ('cmd; cmd') and exit")
    p.add_argument("--nvme", action="store_true", help="attach the NVMe drive (as emu.sh -nvme)")
    p.add_argument("--image", default=DEFAULT_IMAGE, help="NVMe image file (default nvme.img)")
    p.add_argument("--machine", choices=("builtin", "qemu"), default="builtin")
    ns = p.parse_args(argv)
    return EmuOptions(ns.command, ns.nvme, ns.image, ns.machine)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def boot(kernel: Kernel, programs: list[BootProgram]) -> None:
    """Load hwinfo and start the boot programs in order, waiting for each."""
    try:
        kernel.load_hwinfo()
    except QrvError as exc:
        log(f"procnto: no hwinfo: {exc}")
    for prog in programs:
        pid = kernel.spawn(prog.entry, [prog.name, *prog.argv], name=prog.name)
        if not kernel.wait_ready(pid, prog.waitfor, prog.timeout):
            log(f"procnto: {prog.name} (pid {pid}) not ready after {prog.timeout:.0f} s")


def run_shell(kernel: Kernel, command: str | None) -> int:
    argv = ["sh"] if command is None else ["sh", "-c", command]
    status = kernel.waitpid(kernel.spawn(sh.main, argv))
    return SIGNAL_BASE - status if status < 0 else status


def main(argv: list[str]) -> int:
    opts = parse_args(argv)
    machine = make_machine(opts)
    try:
        stdio = Stdio(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
        kernel = Kernel(machine, stdio)
        log(f"procnto: up, RAM {machine.ram_size // MiB} MiB at {machine.ram_base:#x}")
        try:
            boot(kernel, BOOT_PROGRAMS)
            return run_shell(kernel, opts.command)
        finally:
            kernel.shutdown()
    finally:
        with contextlib.suppress(QrvError):
            machine.close()

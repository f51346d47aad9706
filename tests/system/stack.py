"""Boot the whole stack in-process: machine -> kernel -> pci-server -> devb-nvme -> sh.

The same path `qrv emu` takes (qrv.emu.run's pieces), with the consoles
captured in memory so a test can read the boot log, run shell commands and
see devb-nvme's exit status.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from qrv.emu import boot_programs, run_shell
from qrv.hw.bus import Machine
from qrv.kernel import Kernel, Stdio

BOOT_WAIT_S = 30.0

# The seed's boot lines and ls -l /dev listing (qrv-v0.24 release notes, SPEC.md 2)
SEED_BOOT_LINES = [
    "devb-nvme: GPT OK, 2 partition(s)",
    '  p1: LBA 34..32801 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p1"',
    '  p2: LBA 32802..65569 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p2"',
    "devb-nvme: ready (3 path(s), first NS 64 MiB 512 B/LBA)",
]
CONTROLLER_LS = "crw-------  1     0     0        0 nvme0"
"""The controller node beside the seed's block nodes (Linux's /dev/nvme0)."""
SEED_LS = [
    CONTROLLER_LS,
    "br--r--r--  1     0     0 67108864 nvme0n1",
    "br--r--r--  1     0     0 16777216 nvme0n1p1",
    "br--r--r--  1     0     0 16777216 nvme0n1p2",
]
DRIVER = "devb-nvme"


def image_bytes(path: Path, offset: int, size: int) -> bytes:
    """`size` bytes of the image file at `offset`, read by the host (os.pread)."""
    with path.open("rb") as f:
        return os.pread(f.fileno(), size, offset)


@dataclass
class Stack:
    kernel: Kernel
    stdout: io.BytesIO
    stderr: io.BytesIO
    driver_pid: int

    @property
    def log(self) -> str:
        return self.stderr.getvalue().decode()

    def driver_status(self, timeout: float = 0.0) -> int | None:
        """devb-nvme's exit status, or None while it still runs."""
        try:
            return self.kernel.waitpid(self.driver_pid, timeout=timeout)
        except TimeoutError:
            return None

    def sh(self, command: str) -> tuple[int, bytes, str]:
        """Run shell commands: (status, stdout bytes, stderr text produced by them)."""
        out_start, err_start = len(self.stdout.getvalue()), len(self.stderr.getvalue())
        status = run_shell(self.kernel, command)
        return (
            status,
            self.stdout.getvalue()[out_start:],
            self.stderr.getvalue()[err_start:].decode(),
        )


@contextmanager
def booted(
    machine: Machine, *, writable: bool = False, driver_args: Sequence[str] = ()
) -> Iterator[Stack]:
    """Boot `machine`; `writable` starts devb-nvme with ``rw`` (as ``qrv emu --rw``),
    `driver_args` are more of devb-nvme's options."""
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    kernel = Kernel(machine, stdio)
    try:
        kernel.load_hwinfo()
        pids: dict[str, int] = {}
        for prog in boot_programs(writable):
            argv = [*prog.argv, *driver_args] if prog.name == DRIVER else prog.argv
            pid = kernel.spawn(prog.entry, [prog.name, *argv], name=prog.name)
            assert kernel.wait_ready(pid, prog.waitfor, BOOT_WAIT_S), f"{prog.name} hung"
            pids[prog.name] = pid
        assert DRIVER in pids
        yield Stack(kernel, stdio.stdout, stdio.stderr, pids[DRIVER])  # type: ignore[arg-type]
    finally:
        kernel.shutdown()
        machine.close()

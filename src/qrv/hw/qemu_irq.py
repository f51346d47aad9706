"""QEMU's interrupts as qrv's kernel sees them: the PLIC's input lines, through qtest.

QEMU's own PLIC (QOM type ``riscv.sifive.plic``; with ``aia=aplic-imsic`` the root
APLIC, ``riscv.aplic``) receives each device's interrupt line.  qtest's
``irq_intercept_in PATH`` hands that device's input lines to the qtest client instead:
QEMU then writes ``IRQ raise N``/``IRQ lower N`` (N = the source number) whenever a
line changes, between replies or while no command is in flight.  The device's QOM path
is found by its type once per QEMU binary and machine (a ``-qmp stdio`` run listing
``/machine/unattached``: ``/machine/unattached/device[2]`` for QEMU 7.2's virt).

:class:`QemuInterrupts` is :class:`~qrv.hw.irq.LevelInterrupts` fed by those lines:
the kernel claims, completes and masks in software what QEMU's PLIC would have done.
QEMU completes NVMe commands in bottom halves, so an interrupt comes after the last
reply, while no command is in flight, and someone must be reading the socket then.
Under a kernel that is its CPU thread's idle loop: :class:`QemuInterrupts` is the
kernel's :class:`~qrv.kernel.sched.HostSource`, so the idle CPU thread sleeps in
``select`` on the socket itself and handles the line where it wakes (no host thread
reads it and posts to the CPU thread: one thread switch less per interrupt).  Once a
source is enabled, a pump thread covers the rest: while the CPU thread is busy it
looks at the socket every :data:`BUSY_LOOK` seconds (an interrupt then reaches the
kernel's next scheduling point), and it parks while the CPU thread has been waiting on
the socket since its last look; without a kernel (tests of the machine alone) it waits
in ``select`` on the socket.  Stores to MMIO are posted (:mod:`qrv.hw.qtest`): a line
they lower (the CQ head doorbell lowers INTx) is reported with their reply.  So a
gateway that would signal the kernel while replies are owed waits for them
(:meth:`QtestClient.when_settled`: the pump reads them, off the kernel's path), and
claiming or reading a level first collects them (:meth:`QtestClient.flush`): an
interrupt already served is never taken for a new one.

MSI-X on QEMU needs ``aia=aplic-imsic``: the function's message then reaches the
IMSIC, whose pending and enable bits are CSRs of the hart, which qtest cannot reach;
so MSI-X messages are not observable through qtest (docs/qemu.md) and qrv uses INTx
on QEMU.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import threading

from qrv.errors import MachineError, MachineLost
from qrv.hw.irq import LevelInterrupts
from qrv.hw.qtest import QtestClient

PLIC_TYPE = "riscv.sifive.plic"
APLIC_TYPE = "riscv.aplic"
CONTAINER = "/machine/unattached"
PUMP_WAIT = 0.05
"""Longest wait of the pump thread for QEMU's lines between looks at its stop flag (s)."""
BUSY_LOOK = 0.001
"""How often the pump reads the socket while the kernel's CPU thread is busy (s): the
longest delay of an interrupt QEMU raises then, besides the GIL's switch interval."""
_INDEX = re.compile(r"\[(\d+)\]$")
_found: dict[tuple[str, str], str] = {}


def qom_device_of_type(binary: str, machine: str, type_name: str, timeout: float) -> str:
    """The QOM path of the first ``type_name`` device under /machine/unattached."""
    key = (binary, machine + "|" + type_name)
    if key in _found:
        return _found[key]
    script = "\n".join(
        json.dumps(cmd)
        for cmd in (
            {"execute": "qmp_capabilities"},
            {"execute": "qom-list", "arguments": {"path": CONTAINER}},
            {"execute": "quit"},
        )
    )
    argv = [binary, "-machine", machine, "-nodefaults", "-display", "none", "-S", "-qmp", "stdio"]
    try:
        done = subprocess.run(
            argv, input=script + "\n", capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MachineError(f"cannot list QEMU's devices: {exc}") from exc
    names: list[str] = []
    for line in done.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        ret = msg.get("return") if isinstance(msg, dict) else None
        if isinstance(ret, list):
            names += [
                str(e.get("name"))
                for e in ret
                if isinstance(e, dict) and e.get("type") == f"child<{type_name}>"
            ]
    if not names:
        raise MachineError(f"QEMU's {machine} machine has no {type_name} device")
    first = min(names, key=lambda n: int(m.group(1)) if (m := _INDEX.search(n)) else 0)
    _found[key] = path = f"{CONTAINER}/{first}"
    return path


class QemuInterrupts(LevelInterrupts):
    """PLIC gateways over QEMU's intercepted PLIC input lines."""

    def __init__(self, client: QtestClient, path: str) -> None:
        super().__init__()
        self.client = client
        self.path = path
        client.on_irq = self.set_level
        client.command(f"irq_intercept_in {path}")
        self._stop = threading.Event()
        self._pump: threading.Thread | None = None
        self._kernel = False
        """A kernel's idle loop reads the socket while it sleeps (:meth:`watch` came)."""
        self._watched = False
        """The idle loop sleeps on the socket now: the pump leaves it the reading."""
        self._idles = 0
        """Times the idle loop started sleeping on the socket."""
        self._parked = False
        self._resume = threading.Event()

    def enable(self, intr: int, on: bool) -> None:
        super().enable(intr, on)
        if on and self._pump is None:  # the first source anyone waits for
            self._pump = threading.Thread(target=self._run, name="qrv-qtest-irq", daemon=True)
            self._pump.start()

    def claim(self) -> int:
        self._settle()
        return super().claim()

    def level(self, intr: int) -> bool:
        self._settle()
        return super().level(intr)

    def _kick(self) -> None:
        """Signal the kernel if an enabled source is pending, once the levels are QEMU's
        after every store sent so far (a source completed or unmasked right after the
        store that lowered it is then no longer pending)."""
        if not self.client.when_settled(super()._kick):
            super()._kick()

    def _settle(self) -> None:
        """The lines as QEMU left them after every store sent so far (posted stores'
        replies collected).  A lost machine changes nothing here: its next access
        says so."""
        with contextlib.suppress(MachineLost):
            self.client.flush()

    # -- the kernel's HostSource ----------------------------------------------------------

    def fileno(self) -> int:
        return self.client.fileno()

    def watch(self, on: bool) -> None:
        """From the CPU thread: its idle loop starts or stops sleeping on the socket."""
        self._kernel = True
        self._watched = on
        if on:
            self._idles += 1
        elif self._parked:
            self._resume.set()

    def service(self) -> bool:
        return self.client.take_events()

    # -- the pump thread -------------------------------------------------------------------

    def _run(self) -> None:
        looked = -1
        while not self._stop.is_set():
            if not self._kernel:  # nobody else reads the socket: wait on it here
                if not self.client.wait_events(PUMP_WAIT):
                    return  # the connection is gone
                continue
            if self._watched and self._idles == looked:
                self._park()  # asleep on the socket since the last look: nothing to do
            looked = self._idles
            if not self._watched and not self.client.pump():
                return
            self._stop.wait(BUSY_LOOK)

    def _park(self) -> None:
        """Wait until the CPU thread stops sleeping on the socket (or PUMP_WAIT passes).
        Under the GIL either :meth:`watch` sees :attr:`_parked` or the check below sees
        the watch ended."""
        self._parked = True
        try:
            if self._watched:
                self._resume.wait(PUMP_WAIT)
        finally:
            self._parked = False
            self._resume.clear()

    def close(self) -> None:
        self._stop.set()
        self._resume.set()

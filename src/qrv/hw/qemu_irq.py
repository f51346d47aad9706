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
Once a source is enabled, a pump thread reads the lines QEMU sends while no command is
in flight (every :data:`PUMP_INTERVAL` s), so an interrupt that comes after the last
reply (QEMU completes NVMe commands in bottom halves) still wakes the kernel.

MSI-X on QEMU needs ``aia=aplic-imsic``: the function's message then reaches the
IMSIC, whose pending and enable bits are CSRs of the hart, which qtest cannot reach;
so MSI-X messages are not observable through qtest (docs/qemu.md) and qrv uses INTx
on QEMU.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading

from qrv.errors import MachineError
from qrv.hw.irq import LevelInterrupts
from qrv.hw.qtest import QtestClient

PLIC_TYPE = "riscv.sifive.plic"
APLIC_TYPE = "riscv.aplic"
CONTAINER = "/machine/unattached"
PUMP_INTERVAL = 0.0005
"""Host seconds between looks for event lines while no command is in flight."""
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

    def enable(self, intr: int, on: bool) -> None:
        super().enable(intr, on)
        if on and self._pump is None:  # the first source anyone waits for
            self._pump = threading.Thread(target=self._run, name="qrv-qtest-irq", daemon=True)
            self._pump.start()

    def _run(self) -> None:
        while not self._stop.wait(PUMP_INTERVAL):
            if not self.client.pump():
                return  # the connection is gone

    def close(self) -> None:
        self._stop.set()

"""pciutils as the oracle of lspci's output: qrv's ``lspci -xxxx`` dump read back by the
real ``lspci -F FILE``, and the known differences (docs/lspci.md) taken out of both sides."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import require_tool

SIZE = re.compile(
    r"^(\t(?:Region \d+: )?(?:\[virtual\] )?(?:Memory|I/O ports) at .*?) \[size=[^\]]+\]$"
)
NO_IRQ = "\tInterrupt: pin ? routed to IRQ 255"


def pciutils(dump: str, tmp: Path, *options: str) -> str:
    """The real lspci's output for a ``-xxxx`` dump."""
    lspci = require_tool("lspci", "pciutils")
    path = tmp / "config.x"
    path.write_text(dump)
    done = subprocess.run(
        [lspci, "-F", str(path), *options], capture_output=True, text=True, check=True
    )
    return done.stdout


def from_qrv(text: str) -> list[str]:
    """qrv's lines without what the OS adds and ``-F`` cannot know: BAR sizes, drivers."""
    lines = [SIZE.sub(r"\1", line) for line in text.splitlines()]
    return [line for line in lines if not line.startswith("\tKernel driver in use: ")]


def from_pciutils(text: str) -> list[str]:
    """pciutils' lines without IRQ 255 (pci-server's Interrupt Line value for "none")."""
    lines = [line.replace(", IRQ 255", "") for line in text.splitlines()]
    return [line for line in lines if line != NO_IRQ]


def dump_text(functions: list[tuple[str, bytes]]) -> str:
    """``lspci -xxxx`` text of (slot, configuration bytes) pairs."""
    blocks = []
    for slot, data in functions:
        rows = [
            f"{r:03x}: " + " ".join(f"{b:02x}" for b in data[r : r + 16])
            for r in range(0, len(data), 16)
        ]
        blocks.append(f"{slot} x\n" + "\n".join(rows) + "\n")
    return "\n".join(blocks) + "\n"

"""devb-nvme's interrupt service thread on both machines: the boot line naming the
interrupt (MSI-X vector 0 on the built-in board, which has an MSI target; INTx on
QEMU's plain virt, and on the board with ``intx``: the PLIC path), reads served
through it, ``poll``
keeping the polling path, and a controller whose interrupt never comes: each command
ends at its timeout with an error that says so, and the driver serves on."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool
from tests.system.stack import SEED_BOOT_LINES, booted, image_bytes

MiB = 1 << 20
P1 = 34 * 512
NVME_INTA = 34  # slot 2, INTA: PLIC source 32 + (pin - 1 + device) % 4 (the swizzle)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("irq") / "nvme.img"
    create_seed_image(path)
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(16 * MiB), P1)
    return path


def machine(kind: str, image: Path) -> Machine:
    if kind == "qemu":
        require_tool("qemu-system-riscv64", "qemu-system-misc")
        return QemuMachine(image)
    return BuiltinMachine(image)


@pytest.mark.parametrize(
    ("kind", "args", "line"),
    [
        ("builtin", [], r"interrupts on \(IRQ=\d+, MSI-X vector 0\)"),
        ("builtin", ["-o", "intx"], rf"interrupts on \(IRQ={NVME_INTA}, INTx\)"),
        ("qemu", ["intx"], rf"interrupts on \(IRQ={NVME_INTA}, INTx\)"),
        ("qemu", [], rf"interrupts on \(IRQ={NVME_INTA}, INTx\)"),
        ("builtin", ["-o", "poll"], None),
        ("qemu", ["-o", "poll"], None),
    ],
)
def test_reads_through_the_interrupt_thread_or_polling(
    image: Path, kind: str, args: list[str], line: str | None
) -> None:
    with booted(machine(kind, image), driver_args=args) as st:
        log = st.log.splitlines()
        found = [ln for ln in log if "interrupts on" in ln]
        if line is None:
            assert found == []
        else:
            assert len(found) == 1 and re.fullmatch(f"devb-nvme: {line}", found[0]), found
        start = log.index(SEED_BOOT_LINES[0])
        assert log[start : start + 4] == SEED_BOOT_LINES
        status, out, _ = st.sh("dd if=/dev/nvme0n1p1 bs=4096 count=300 skip=7")
        assert status == 0 and out == image_bytes(image, P1 + 7 * 4096, 300 * 4096)


def test_a_controller_whose_interrupt_never_comes_times_out(image: Path) -> None:
    board = BuiltinMachine(image)
    assert board.nvme is not None
    with booted(board, driver_args=["timeout=2"]) as st:
        board.nvme.faults.no_interrupts = True
        status, _, err = st.sh("dd if=/dev/nvme0n1p1 bs=512 count=1")
        assert status != 0 and "Input/output error" in err
        assert re.search(
            r"Read nsid=1 LBA=34 count=1: no interrupt within 2 s "
            r"\(a completion is posted on CQ \d\)",
            st.log,
        )
        assert "Traceback" not in st.log
        board.nvme.faults.no_interrupts = False  # interrupts come again: the driver serves on
        status, out, _ = st.sh("dd if=/dev/nvme0n1p1 bs=512 count=2 skip=1")
        assert status == 0 and out == image_bytes(image, P1 + 512, 1024)

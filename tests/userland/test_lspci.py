"""lspci output formats (SPEC.md 3.3 / the issue's examples), run as a program."""

from __future__ import annotations

import io

from qrv.hw.board import VirtBoard
from qrv.kernel import Kernel, Stdio
from qrv.lib import pci
from qrv.userland.lspci import main as lspci
from qrv.userland.lspci import size_text
from tests.servers.pci.pcibus import nvme_like, populated_board, running


def run(kernel: Kernel, out: io.BytesIO, *args: str) -> tuple[int, str]:
    start = len(out.getvalue())
    pid = kernel.spawn(lspci, ["lspci", *args])
    status = kernel.waitpid(pid, timeout=20)
    return status, out.getvalue()[start:].decode()


def nvme_board() -> VirtBoard:
    board = VirtBoard(ram_size=1 << 20)
    board.plug_pci(nvme_like(), dev=1)
    return board


def test_one_line_per_function() -> None:
    with running(nvme_board()) as (kernel, _pid, out):
        status, text = run(kernel, out)
    assert status == 0
    assert text.splitlines() == [
        "00:00.0 Host bridge [0600]: 1b36:0008",
        "00:01.0 NVM controller [0108]: 1b36:0010 (rev 02)",
    ]


def test_verbose_shows_subsystem_interrupt_bars_and_capabilities() -> None:
    with running(nvme_board()) as (kernel, _pid, out):
        _, before = run(kernel, out, "-v")
        with kernel.adopt("driver"):
            hdl, err = pci.pci_device_attach(
                pci.PCI_BDF(0, 1, 0), pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE
            )
            assert hdl is not None, err
            _, after = run(kernel, out, "-v")
    block = after.split("\n\n")[1].splitlines()
    assert block == [
        "00:01.0 NVM controller [0108]: 1b36:0010 (rev 02)",
        "\tSubsystem: 1af4:1100",
        "\tInterrupt: pin A routed to IRQ 33",  # slot 1 INTA -> PLIC 0x21 (QEMU's interrupt-map)
        "\tMemory at 0000000040000000 (64-bit, non-prefetchable) [size=16K]",
        "\tCapabilities: [40] MSI-X",
        "\tCapabilities: [4c] Express",
    ]
    assert "[size=16K] [disabled]" in before  # decode off until a driver attaches


def test_very_verbose_dumps_the_header() -> None:
    with running(nvme_board()) as (kernel, _pid, out):
        _, text = run(kernel, out, "-vv")
    nvme = text.split("\n\n")[1].splitlines()
    rows = [line for line in nvme if line[2:4] == ": "]
    assert len(rows) == 16
    assert rows[0] == "00: 36 1b 10 00 00 00 10 00 02 02 08 01 00 00 00 00"
    assert rows[1].startswith("10: 04 00 00 40 00 00 00 00")  # BAR0 = 0x40000000, 64-bit


def test_bridges_and_functions_behind_them() -> None:
    board, _ = populated_board()
    with running(board) as (kernel, _pid, out):
        _, text = run(kernel, out, "-v")
    blocks = {b.splitlines()[0][:7]: b.splitlines() for b in text.strip().split("\n\n")}
    assert blocks["00:03.0"][1] == "\tBus: primary=00, secondary=01, subordinate=01"
    assert blocks["00:03.0"][2].startswith("\tMemory behind bridge: ")
    assert "\tI/O ports at 1000 [size=256] [disabled]" in blocks["00:02.0"]
    assert "\tInterrupt: pin B routed to IRQ 35" in blocks["00:02.1"]
    assert blocks["01:00.0"][0] == "01:00.0 Ethernet controller [0200]: 1af4:1041"


def test_errors() -> None:
    out = io.BytesIO()
    kernel = Kernel(VirtBoard(ram_size=1 << 20), stdio=Stdio(io.BytesIO(), out, out))
    try:
        status, text = run(kernel, out)
        assert status == 1
        assert text == "lspci: /dev/pci: PCI server not available\n"
        status, text = run(kernel, out, "-x")
        assert status == 2 and text.startswith("usage: lspci")
    finally:
        kernel.shutdown()


def test_size_text() -> None:
    assert [size_text(s) for s in (256, 0x4000, 1 << 20, 3 << 30, 0x1800)] == [
        "256",
        "16K",
        "1M",
        "3G",
        "6K",
    ]

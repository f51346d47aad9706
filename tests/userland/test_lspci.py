"""lspci output formats (SPEC.md 3.3 / the issue's examples), run as a program."""

from __future__ import annotations

import io
from pathlib import Path

from qrv.hw.board import VirtBoard
from qrv.kernel import Kernel, Stdio
from qrv.lib import pci
from qrv.userland.lspci import main as lspci
from tests.lib.pci_oracle import from_pciutils, from_qrv, pciutils
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
        status, text = run(kernel, out, "-n")
        _, named = run(kernel, out, "-i", "/nonexistent/pci.ids")
    assert status == 0
    assert text.splitlines() == ["00:00.0 0600: 1b36:0008", "00:01.0 0108: 1b36:0010 (rev 02)"]
    assert named.splitlines() == [  # no database: the numbers, as pciutils without one
        "00:00.0 Class 0600: Device 1b36:0008",
        "00:01.0 Class 0108: Device 1b36:0010 (rev 02)",
    ]


def test_verbose_shows_subsystem_interrupt_bars_capabilities_and_the_driver() -> None:
    with running(nvme_board()) as (kernel, _pid, out):
        _, before = run(kernel, out, "-v", "-s", "1")
        with kernel.adopt("devb-test"):
            hdl, err = pci.pci_device_attach(
                pci.PCI_BDF(0, 1, 0), pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE
            )
            assert hdl is not None, err
            _, after = run(kernel, out, "-v", "-s", "1")
            _, kernel_only = run(kernel, out, "-nk")
    block = after.split("\n\n")[0].splitlines()
    assert block[1:] == [
        "\tSubsystem: Red Hat, Inc. Device 1100",
        "\tFlags: bus master, fast devsel, latency 0, IRQ 33",  # slot 1 INTA -> PLIC 0x21
        "\tMemory at 40000000 (64-bit, non-prefetchable) [size=16K]",
        "\tCapabilities: [40] MSI-X: Enable- Count=65 Masked-",
        "\tCapabilities: [4c] Express Endpoint, MSI 00",
        "\tKernel driver in use: devb-test",
    ]
    assert "[disabled] [size=16K]" in before  # decode off until a driver attaches
    assert "Kernel driver" not in before
    assert kernel_only.splitlines()[-2:] == [
        "\tSubsystem: 1af4:1100",
        "\tKernel driver in use: devb-test",
    ]


def test_hex_dumps() -> None:
    with running(nvme_board()) as (kernel, _pid, out):
        sizes = [
            len(run(kernel, out, "-s", "01.0", opt)[1].splitlines())
            for opt in ("-x", "-xxx", "-xxxx")
        ]
        _, text = run(kernel, out, "-xxx", "-s", ":1")
    assert sizes == [1 + 4 + 1, 1 + 16 + 1, 1 + 256 + 1]  # title, rows, blank line
    rows = text.splitlines()[1:]
    assert rows[0] == "00: 36 1b 10 00 00 00 10 00 02 02 08 01 00 00 00 00"
    assert rows[1].startswith("10: 04 00 00 40 00 00 00 00")  # BAR0 = 0x40000000, 64-bit


def test_filters() -> None:
    board, _ = populated_board()
    with running(board) as (kernel, _pid, out):
        by_slot = run(kernel, out, "-n", "-s", "2.")[1].splitlines()
        by_fn = run(kernel, out, "-n", "-s", "*.1")[1].splitlines()
        by_id = run(kernel, out, "-n", "-d", "8086:")[1].splitlines()
        by_class = run(kernel, out, "-n", "-d", "::0604")[1].splitlines()
        by_bus = run(kernel, out, "-n", "-s", "01:")[1].splitlines()
        domain = run(kernel, out, "-nD", "-s", "0000:01:00.0")[1].splitlines()
    assert [line[:7] for line in by_slot] == ["00:02.0", "00:02.1"]
    assert [line[:7] for line in by_fn] == ["00:02.1"]
    assert [line[:7] for line in by_id] == ["00:02.0", "00:02.1"]
    assert [line[:7] for line in by_class] == ["00:03.0"]
    assert by_bus == ["01:00.0 0200: 1af4:1041"]
    assert domain == ["0000:01:00.0 0200: 1af4:1041"]


def test_bus_behind_a_bridge_is_pciutils(tmp_path: Path) -> None:
    """The oracle: the real lspci reads qrv's -xxxx dump; both outputs agree line by line
    but for what -F cannot know (docs/lspci.md)."""
    board, _ = populated_board()
    with running(board) as (kernel, _pid, out):
        _, dump = run(kernel, out, "-xxxx")
        for options in (["-vv"], ["-vvv"], ["-v"], ["-nn"], ["-t"], ["-tv"], ["-m"], ["-vmm"]):
            _, mine = run(kernel, out, *options)
            ref = pciutils(dump, tmp_path, *options)
            assert from_qrv(mine) == from_pciutils(ref), options
        _, bridge = run(kernel, out, "-v", "-s", "3")
    assert "\tMemory behind bridge: 40300000-403fffff [size=1M] [32-bit]" in bridge.splitlines()


def test_errors() -> None:
    out = io.BytesIO()
    kernel = Kernel(VirtBoard(ram_size=1 << 20), stdio=Stdio(io.BytesIO(), out, out))
    try:
        status, text = run(kernel, out)
        assert status == 1
        assert text == "lspci: /dev/pci: PCI server not available\n"
        for bad, why in (
            (["-y"], "invalid option -- 'y'"),
            (["-s"], "option -s needs an argument"),
            (["-s", "1:2:3:4"], "-s: invalid slot '1:2:3:4'"),
            (["-s", "100:"], "-s: value '100' out of range"),
            (["-d", "zz:1"], "-d: invalid number 'zz'"),
            (["-d", "1"], "-d: invalid ID '1'"),
            (["extra"], "unexpected argument 'extra'"),
        ):
            status, text = run(kernel, out, *bad)
            assert status == 2
            assert text.splitlines()[0] == f"lspci: {why}"
            assert text.splitlines()[1].startswith("usage: lspci")
    finally:
        kernel.shutdown()

"""lspci on both machines against pciutils: qrv's ``lspci -xxxx`` of the booted system is
read back by the real ``lspci -F``; -vv, -nn, -t, -m agree line by line but for what -F
cannot know (BAR sizes, the driver in use, IRQ 255 for "none": docs/lspci.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrv.tools.mkgpt import create_seed_image
from tests.lib.pci_oracle import from_pciutils, from_qrv, pciutils
from tests.system.stack import booted
from tests.system.test_shapes import MACHINES, MachineFactory

OPTIONS = (["-vv"], ["-nn"], ["-t"], ["-m"], ["-vmm"], ["-nnv"], ["-x"])


@pytest.mark.parametrize("machine", MACHINES)
def test_lspci_is_pciutils_on_both_machines(machine: MachineFactory, tmp_path: Path) -> None:
    image = tmp_path / "seed.img"
    create_seed_image(image)
    with booted(machine(image)) as st:
        status, dump, _ = st.sh("lspci -xxxx")
        assert status == 0
        for options in OPTIONS:
            status, mine, err = st.sh("lspci " + " ".join(options))
            assert (status, err) == (0, "")
            ref = pciutils(dump.decode(), tmp_path, *options)
            assert from_qrv(mine.decode()) == from_pciutils(ref), options
        _, verbose, _ = st.sh("lspci -vv -s 2")
        _, drivers, _ = st.sh("lspci -k")
    lines = verbose.decode().splitlines()
    assert lines[0] == (
        "00:02.0 Non-Volatile memory controller: Red Hat, Inc. QEMU NVM Express Controller"
        " (rev 02) (prog-if 02 [NVM Express])"
    )
    assert "\tRegion 0: Memory at 40000000 (64-bit, non-prefetchable) [size=16K]" in lines
    assert "\tKernel driver in use: devb-nvme" in lines
    assert drivers.decode().splitlines()[-1] == "\tKernel driver in use: devb-nvme"

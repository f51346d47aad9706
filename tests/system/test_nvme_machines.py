"""nvme on both machines (built-in board, QEMU): the same commands give the same JSON keys,
and the fields both controllers should agree on agree; on QEMU, id-ctrl shows QEMU's own
model number and the serial the machine was started with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qrv.emu import BuiltinMachine, controller_serial
from qrv.lib.c.posix import close, devctl, open
from qrv.spec.blk import DCMD_BLK_GEOMETRY, BlkGeometry
from qrv.spec.iomsg import O_RDONLY, O_RDWR
from qrv.spec.nvme import AdminOpcode
from qrv.spec.nvmectl import DCMD_NVME_ADMIN_CMD, PassthruCmd, PassthruResult
from qrv.tools.mkgpt import create_seed_image
from tests.system.stack import Stack, booted
from tests.system.test_shapes import qemu

COMMANDS = (
    "id-ctrl /dev/nvme0",
    "id-ns /dev/nvme0n1",
    "smart-log /dev/nvme0",
    "error-log /dev/nvme0 -e 4",
    "fw-log /dev/nvme0",
    "get-feature /dev/nvme0 -f 6",
    "list",
)
SAME_ID_CTRL = (
    "vid", "ssvid", "sn", "rab", "ieee", "cmic", "mdts", "cntlid", "ver", "oaes",
    "cntrltype", "acl", "aerl", "frmw", "npss", "wctemp", "cctemp", "sqes", "cqes",
    "nn", "vwc", "sgls",
)  # fmt: skip
SAME_ID_NS = ("nsze", "ncap", "nuse", "flbas", "dps", "nmic")
OPTIMAL_IO = {"npwg", "npwa", "npdg", "npda", "nows"}  # only when NSFEAT bit 4 says so
QEMU_MODEL = "QEMU NVMe Ctrl"
pytestmark = pytest.mark.qemu


def outputs(st: Stack) -> dict[str, Any]:
    return {command: js_of(st, f"nvme {command}") for command in COMMANDS}


def test_nvme_json_agrees_on_both_machines(tmp_path: Path) -> None:
    image = tmp_path / "seed.img"
    create_seed_image(image)
    with booted(BuiltinMachine(image)) as st:
        board = outputs(st)
    with booted(qemu(image)) as st:
        real = outputs(st)
        _, text, _ = st.sh("nvme id-ctrl /dev/nvme0")
    for command in COMMANDS:
        mine, theirs = board[command], real[command]
        if command.startswith("id-ns"):
            assert set(mine) - OPTIMAL_IO == set(theirs) - OPTIMAL_IO
        else:
            assert list(mine) == list(theirs), command
    ctrl_b, ctrl_q = board["id-ctrl /dev/nvme0"], real["id-ctrl /dev/nvme0"]
    assert {k: ctrl_b[k] for k in SAME_ID_CTRL} == {k: ctrl_q[k] for k in SAME_ID_CTRL}
    assert ctrl_q["mn"] == QEMU_MODEL and ctrl_q["sn"] == controller_serial(0)
    assert f"mn        : {QEMU_MODEL}" in text.decode().splitlines()
    ns_b, ns_q = board["id-ns /dev/nvme0n1"], real["id-ns /dev/nvme0n1"]
    assert {k: ns_b[k] for k in SAME_ID_NS} == {k: ns_q[k] for k in SAME_ID_NS}
    in_use = [[f["ds"] for f in ns["lbafs"] if f["in_use"]] for ns in (ns_b, ns_q)]
    assert in_use == [[9], [9]]
    smart_b, smart_q = board["smart-log /dev/nvme0"], real["smart-log /dev/nvme0"]
    for key in ("critical_warning", "temperature", "percent_used", "media_errors"):
        assert smart_b[key] == smart_q[key], key
    assert board["get-feature /dev/nvme0 -f 6"] == real["get-feature /dev/nvme0 -f 6"]
    for dev_b, dev_q in zip(board["list"]["Devices"], real["list"]["Devices"], strict=True):
        for key in ("Firmware", "ModelNumber"):
            del dev_b[key], dev_q[key]
        assert dev_b == dev_q


def test_format_through_the_passthrough_reshapes_the_nodes(tmp_path: Path) -> None:
    """QEMU formats namespace 1 with 4 KiB LBAs (LBA format 4; the data is erased): devb-nvme
    re-identifies it, the whole-namespace node takes the new geometry and the partition
    nodes of the erased GPT go, as Linux rescans after nvme format."""
    image = tmp_path / "seed.img"
    create_seed_image(image)
    fmt = PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=1, cdw10=4)
    with booted(qemu(image, writable=True), writable=True) as st:
        assert js_of(st, "nvme id-ns /dev/nvme0n1")["lbafs"][4]["ds"] == 12
        with st.kernel.adopt("root-client"):
            fd = open("/dev/nvme0", O_RDWR)
            try:
                reply = devctl(fd, DCMD_NVME_ADMIN_CMD, fmt.pack(), 64)
            finally:
                close(fd)
            assert PassthruResult.unpack(reply).ok
            node = open("/dev/nvme0n1", O_RDONLY)
            try:
                geometry = BlkGeometry.unpack(devctl(node, DCMD_BLK_GEOMETRY))
            finally:
                close(node)
        assert (geometry.lba_size, geometry.nlba) == (4096, (64 << 20) // 4096)
        assert "nvme: ns 1  size=16384 LBAs  lba=4096 B (re-identified)" in st.log
        ns = js_of(st, "nvme id-ns /dev/nvme0n1")
        assert [f["ds"] for f in ns["lbafs"] if f["in_use"]] == [12]
        _, out, _ = st.sh("ls /dev")
        assert [n for n in out.decode().split() if n.startswith("nvme")] == ["nvme0", "nvme0n1"]


def js_of(st: Stack, command: str) -> Any:
    status, out, err = st.sh(command + " -o json")
    assert (status, err) == (0, ""), command
    return json.loads(out)

"""``nvme ... -H`` and ``-v`` on both machines (the built-in board, QEMU's NVMe device):
the decoded lines of the fields each controller reports, what the NVMe Base
specification says of its values (the model's NvmeConfig, QEMU 7.2's hw/nvme), and the
same bits as ``-o json`` gives them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from qrv.emu import BuiltinMachine
from qrv.tools.mkgpt import create_seed_image
from qrv.userland.nvme import ctrl_bits, ns_bits
from tests.system.stack import Stack, booted
from tests.system.test_shapes import qemu

# Lines each controller's values must give (NVMe 1.4 Figure 247 / 245 read by hand):
# the model: OACS 0, ONCS 5dh, LPA 3, FRMW 3; QEMU 7.2: OACS 10ah (Format NVM, Namespace
# Management, Doorbell Buffer Config), ONCS 15dh (with Copy), VWC 7, SGLS 1.
CTRL_LINES = {
    "builtin": {
        "oacs": ["  [1:1] : 0\tFormat NVM Not Supported"],
        "oncs": ["  [6:6] : 0x1\tTimestamp Supported", "  [8:8] : 0\tCopy Not Supported"],
        "lpa": ["  [1:1] : 0x1\tCommand Effects Log Page Supported"],
        "frmw": [
            "  [3:1] : 0x1\tNumber of Firmware Slots",
            "  [0:0] : 0x1\tFirmware Slot 1 Read-Only",
        ],
        "oaes": ["  [8:8] : 0x1\tNamespace Attribute Changed Event Supported"],
        "sqes": ["  [7:4] : 0x6\tMax SQ Entry Size (64)"],
    },
    "qemu": {
        "oacs": [
            "  [8:8] : 0x1\tDoorbell Buffer Config Supported",
            "  [3:3] : 0x1\tNS Management and Attachment Supported",
            "  [1:1] : 0x1\tFormat NVM Supported",
        ],
        "oncs": ["  [8:8] : 0x1\tCopy Supported", "  [6:6] : 0x1\tTimestamp Supported"],
        "vwc": [
            "  [2:1] : 0x3\tThe Flush command supports NSID set to FFFFFFFFh",
            "  [0:0] : 0x1\tVolatile Write Cache Present",
        ],
        "sgls": ["  [1:0] : 0x1\tScatter-Gather Lists Supported. No Dword alignment required."],
        "sqes": ["  [7:4] : 0x6\tMax SQ Entry Size (64)"],
    },
}


@pytest.fixture(scope="module", params=["builtin", pytest.param("qemu", marks=pytest.mark.qemu)])
def machine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Stack]]:
    image = tmp_path_factory.mktemp("nvme-h") / "seed.img"
    create_seed_image(image)
    m = BuiltinMachine(image) if request.param == "builtin" else qemu(image)
    with booted(m) as st:
        yield request.param, st


def ok(st: Stack, line: str) -> str:
    status, out, err = st.sh(line)
    assert (status, err) == (0, ""), line
    return out.decode()


def blocks(text: str) -> dict[str, list[str]]:
    """``key : value`` lines and the decoded lines under each (up to the empty line)."""
    out: dict[str, list[str]] = {}
    key = None
    for line in text.splitlines():
        if line.startswith("  ["):
            assert key is not None, line
            out[key].append(line)
        elif " : " in line or line.rstrip().endswith(":"):
            key = line.split(":", 1)[0].strip()
            out[key] = []
    return out


def check_against_json(human: str, obj: dict[str, Any], decoders: Any) -> None:
    """Every decoded field's hex-valued lines carry the bits of the field's JSON value."""
    decoded = blocks(human)
    for key in decoders:
        value = obj[key]
        assert decoded[key], key
        for line in decoded[key]:
            hi, lo = (int(x) for x in line[3 : line.index("]")].split(":"))
            bits = (value >> lo) & ((1 << (hi - lo + 1)) - 1)
            shown = line.split(" : ", 1)[1].split("\t")[0]
            if shown == "0" or shown.startswith("0x"):
                assert int(shown, 16) == bits, line


def test_id_ctrl_human_readable(machine: tuple[str, Stack]) -> None:
    name, st = machine
    ident: dict[str, Any] = json.loads(ok(st, "nvme id-ctrl /dev/nvme0 -o json"))
    plain = ok(st, "nvme id-ctrl /dev/nvme0")
    human = ok(st, "nvme id-ctrl /dev/nvme0 --human-readable")
    assert ok(st, "nvme id-ctrl /dev/nvme0 -H") == human
    kept = [line for line in human.splitlines() if line and not line.startswith("  [")]
    assert kept == plain.splitlines()
    decoded = blocks(human)
    for key, want in CTRL_LINES[name].items():
        for line in want:
            assert line in decoded[key], (key, line)
    check_against_json(human, ident, ctrl_bits.DECODERS)


def test_id_ns_human_readable(machine: tuple[str, Stack]) -> None:
    name, st = machine
    ns: dict[str, Any] = json.loads(ok(st, "nvme id-ns /dev/nvme0n1 -o json"))
    plain = ok(st, "nvme id-ns /dev/nvme0n1")
    human = ok(st, "nvme id-ns /dev/nvme0n1 -H")
    lines = human.splitlines()
    assert f"nsze    : {ns['nsze']:#x}\tTotal size in logical blocks" in lines
    assert "ncap    : " in lines[2] and lines[2].endswith("\tMaximum size in logical blocks")
    decoded = blocks(human)
    # both format namespace 1 with LBA format 0: 512-byte blocks, no metadata, no PI
    assert (
        "  [3:0] : 0\tLeast significant 4 bits of Current LBA Format Selected" in decoded["flbas"]
    )
    assert "  [2:0] : 0\tProtection Information Disabled" in decoded["dps"]
    formats = [line for line in lines if line.startswith("LBA Format")]
    assert len(formats) == len(ns["lbafs"])
    assert formats[0] == (
        "LBA Format  0 : Metadata Size: 0   bytes - Data Size: 512 bytes"
        " - Relative Performance: 0 Best (in use)"
    )
    if name == "qemu":  # QEMU 7.2: MC 3, DPC 1fh, DLFEAT 1 (deallocated blocks read zeroes)
        assert "  [1:1] : 0x1\tMetadata Pointer Supported" in decoded["mc"]
        assert "  [2:2] : 0x1\tProtection Information Type 3 Supported" in decoded["dpc"]
        assert (
            "  [2:0] : 0x1\tBytes Read From a Deallocated Logical Block and its Metadata are 0x00"
        ) in decoded["dlfeat"]
        assert formats[4].startswith("LBA Format  4 : Metadata Size: 0   bytes - Data Size: 4096")
    check_against_json(human, ns, ns_bits.DECODERS)
    # -H adds lines, names the sizes after a tab and tells the LBA formats in words
    kept = [
        line.split("\t")[0] for line in lines if line and not line.startswith(("  [", "LBA Format"))
    ]
    assert kept == [line for line in plain.splitlines() if not line.startswith("lbaf")]


def test_smart_log_critical_warning_bits(machine: tuple[str, Stack]) -> None:
    """An over-temperature threshold below the composite temperature sets Critical
    Warning bit 1 (NVMe 1.4 Figure 196) on both controllers."""
    _, st = machine
    before = json.loads(ok(st, "nvme get-feature /dev/nvme0 -f 4 -o json"))["value"]
    kelvin = json.loads(ok(st, "nvme smart-log /dev/nvme0 -o json"))["temperature"]
    quiet = ok(st, "nvme smart-log /dev/nvme0 -H").splitlines()
    assert quiet[1:8] == [
        "critical_warning                        : 0",
        "      Available Spare[0]             : 0",
        "      Temp. Threshold[1]             : 0",
        "      NVM subsystem Reliability[2]   : 0",
        "      Read-only[3]                   : 0",
        "      Volatile mem. backup failed[4] : 0",
        "      Persistent Mem. RO[5]          : 0",
    ]
    ok(st, f"nvme set-feature /dev/nvme0 -f 4 -v {kelvin - 20}")
    try:
        hot = ok(st, "nvme smart-log /dev/nvme0 --human-readable").splitlines()
        warning = json.loads(ok(st, "nvme smart-log /dev/nvme0 -H -o json"))["critical_warning"]
    finally:
        ok(st, f"nvme set-feature /dev/nvme0 -f 4 -v {before}")
    assert hot[1] == "critical_warning                        : 0x2"
    assert hot[3] == "      Temp. Threshold[1]             : 1"
    assert warning == {
        "value": 2,
        "available_spare": 0,
        "temp_threshold": 1,
        "reliability_degraded": 0,
        "ro": 0,
        "vmbu_failed": 0,
        "pmr_ro": 0,
    }
    assert json.loads(ok(st, "nvme smart-log /dev/nvme0 -o json"))["critical_warning"] == 0


def test_id_ctrl_vendor_specific(machine: tuple[str, Stack]) -> None:
    _, st = machine
    status, raw, _ = st.sh("nvme id-ctrl /dev/nvme0 -o binary")
    assert status == 0
    vs = raw[3072:4096]  # Identify Controller bytes 4095:3072 (NVMe 1.4 Figure 247)
    text = ok(st, "nvme id-ctrl /dev/nvme0 --vendor-specific").splitlines()
    start = text.index("vs[]:")
    dump = text[start + 2 :]
    assert len(dump) == 64
    assert bytes.fromhex("".join(line[6:53] for line in dump)) == vs
    obj = json.loads(ok(st, "nvme id-ctrl /dev/nvme0 -v -o json"))
    text_vs = vs.split(b"\0", 1)[0]  # nvme-cli's d_json: up to the first NUL, 16 a line
    want = [
        "".join(chr(b) if 0x21 <= b <= 0x7E else "." for b in text_vs[i : i + 16])
        for i in range(0, len(text_vs), 16)
    ]
    assert obj["vs"] == want
    assert "vs" not in json.loads(ok(st, "nvme id-ctrl /dev/nvme0 -o json"))


def test_get_feature_human_readable(machine: tuple[str, Stack]) -> None:
    """The defaults both controllers share (the write cache on, an over-temperature
    threshold of 343 K) and the Number of Queues each allocates, as -o json reads it."""
    _, st = machine
    assert ok(st, "nvme get-feature /dev/nvme0 -f 6 -H").splitlines()[1:] == [
        "\tVolatile Write Cache Enable (WCE): Enabled"
    ]
    assert ok(st, "nvme get-feature /dev/nvme0 -f 4 -H").splitlines()[1:] == [
        "\tThreshold Type Select         (THSEL): 0 - Over Temperature Threshold",
        "\tThreshold Temperature Select (TMPSEL): 0 - Composite Temperature",
        "\tTemperature Threshold         (TMPTH): 70 °C (343 K)",
    ]
    queues = json.loads(ok(st, "nvme get-feature /dev/nvme0 -f 7 -o json"))["value"]
    assert ok(st, "nvme get-feature /dev/nvme0 -f 7 --human-readable").splitlines()[1:] == [
        f"\tNumber of IO Completion Queues Allocated (NCQA): {(queues >> 16) + 1}",
        f"\tNumber of IO Submission Queues Allocated (NSQA): {(queues & 0xFFFF) + 1}",
    ]

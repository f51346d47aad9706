"""``get-feature -H``: each feature's fields cover the bits NVMe 1.4 defines in its value
(typed here from the spec's figures), and known values read as nvme-cli tells them."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.userland.nvme import feature_bits, features

# The bits of Completion Queue Entry DW0 each feature defines (NVMe 1.4 §5.21.1)
SPEC_MASKS = {
    0x01: 0xFFFF_FF07,  # Figure 272: AB 2:0, LPW 15:8, MPW 23:16, HPW 31:24
    0x02: 0xFF,  # Figure 274: PS 4:0, WH 7:5
    0x03: 0x3F,  # Figure 276: NUM 5:0
    0x04: 0x3F_FFFF,  # Figure 283: TMPTH 15:0, TMPSEL 19:16, THSEL 21:20
    0x05: 0x1_FFFF,  # Figure 285: TLER 15:0, DULBE 16
    0x06: 0x1,  # Figure 287: WCE
    0x07: 0xFFFF_FFFF,  # Figure 289: NSQA 15:0, NCQA 31:16
    0x08: 0xFFFF,  # Figure 291: THR 7:0, TIME 15:8
    0x09: 0x1_FFFF,  # Figure 293: IV 15:0, CD 16
    0x0A: 0x1,  # Figure 295: DN
    0x0B: 0x8000_7FFF,  # Figure 297: critical warnings 7:0, notices 14:8, discovery 31
    0x0C: 0x1,  # Figure 300: APSTE
    0x0D: 0x3,  # Figure 302: EHM, MR
    0x0E: 0x0,  # Figure 304: the data structure only
    0x0F: 0xFFFF_FFFF,  # Figure 308: KATO
    0x10: 0xFFFF_FFFF,  # Figure 310: TMT2 15:0, TMT1 31:16
    0x11: 0x1,  # Figure 312: NOPPME
    0x80: 0xFF,  # Figure 314: PBSLC
    0x81: 0x0,  # Figure 316: the data structure only
    0x82: 0xE,  # Figure 318: REGPRE 1, RESREL 2, RESPRE 3
    0x83: 0x1,  # Figure 320: PTPL
    0x84: 0x7,  # Figure 322: WPS 2:0
}


def test_every_named_feature_is_decoded() -> None:
    assert set(feature_bits.FIELDS) == set(features.NAMES) == set(SPEC_MASKS)


@pytest.mark.parametrize("fid", sorted(SPEC_MASKS))
def test_fields_cover_the_spec_bits_once(fid: int) -> None:
    seen = 0
    for f in feature_bits.FIELDS[fid]:
        assert seen & f.mask == 0, f"{f.label} overlaps"
        seen |= f.mask
    assert seen == SPEC_MASKS[fid]


@pytest.mark.parametrize("fid", sorted(SPEC_MASKS))
@given(value=st.integers(0, 0xFFFF_FFFF))
def test_a_line_for_every_field_whatever_the_value(fid: int, value: int) -> None:
    lines = feature_bits.lines(fid, value, b"")
    assert len(lines) == len(feature_bits.FIELDS[fid])
    assert all(line.startswith("\t") and ": " in line for line in lines)


def test_known_values() -> None:
    assert feature_bits.lines(0x01, 0x0302_0107, b"") == [
        "\tHigh Priority Weight   (HPW): 4",
        "\tMedium Priority Weight (MPW): 3",
        "\tLow Priority Weight    (LPW): 2",
        "\tArbitration Burst       (AB): No limit",
    ]
    assert feature_bits.lines(0x04, 0x0010_0157, b"") == [
        "\tThreshold Type Select         (THSEL): 1 - Under Temperature Threshold",
        "\tThreshold Temperature Select (TMPSEL): 0 - Composite Temperature",
        "\tTemperature Threshold         (TMPTH): 70 °C (343 K)",
    ]
    assert feature_bits.lines(0x07, 0x0003_0001, b"") == [
        "\tNumber of IO Completion Queues Allocated (NCQA): 4",
        "\tNumber of IO Submission Queues Allocated (NSQA): 2",
    ]
    ae = feature_bits.lines(0x0B, 0x0000_0201, b"")
    assert ae[-1] == f"\t{'SMART / Health Critical Warnings':<58}: Send async event"
    assert ae[-3] == f"\t{'Firmware Activation Notices':<58}: Send async event"


def test_data_structures() -> None:
    # LBA Range Type entry (Figure 277): a hidden filesystem range
    entry = struct.pack("<BB14xQQ16s16x", 1, 2, 34, 1000, bytes(range(16)))
    lines = feature_bits.lines(0x03, 0, entry.ljust(4096, b"\0"))
    assert lines[:3] == [
        "\tNumber of LBA Ranges (NUM): 1",
        "\ttype       : 0x1 - Filesystem",
        "\tattributes : 0x2 - LBA range should not be overwritten, "
        "LBA range should be hidden from the OS/EFI/BIOS",
    ]
    assert lines[3:5] == ["\tslba       : 0x22", "\tnlb        : 0x3e8"]
    # Timestamp (Figure 305): 2026-01-01T00:00:00Z, set by Set Features (origin 1)
    stamp = (1_767_225_600_000).to_bytes(6, "little") + bytes([0b010, 0])
    assert feature_bits.lines(0x0E, 0, stamp) == [
        "\tThe timestamp is : 1767225600000 (2026-01-01T00:00:00.000Z)",
        "\tThe Timestamp field was initialized by a Set Features command",
        "\tThe controller counted time continuously since the Timestamp was set",
    ]
    # APST (Figure 301): entry 0 goes to power state 3 after 100 ms
    apst = (100 << 8 | 3 << 3).to_bytes(8, "little") + bytes(248)
    lines = feature_bits.lines(0x0C, 1, apst)
    assert lines[0] == "\tAutonomous Power State Transition Enable (APSTE): Enabled"
    assert lines[4:6] == [
        "\tIdle Time Prior to Transition (ITPT): 100 ms",
        "\tIdle Transition Power State   (ITPS): 3",
    ]


def test_get_text_decodes_instead_of_dumping() -> None:
    data = bytes(8)
    plain = features.get_text(0x0E, 0, 0, data)
    human = features.get_text(0x0E, 0, 0, data, human=True)
    assert "0000: 00 00" in plain and "0000:" not in human
    assert human.splitlines()[1].startswith("\tThe timestamp is : 0 ")
    # supported capabilities (SEL 3) read the same with or without -H
    assert features.get_text(6, 3, 5, b"", human=True) == features.get_text(6, 3, 5, b"")
    # a feature nvme-cli does not decode: the heading alone
    assert features.get_text(0x55, 0, 1, b"", human=True).count("\n") == 1

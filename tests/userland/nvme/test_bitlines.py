"""``-H`` decode tables: every bit of every decoded field shows up in a line, the lines'
values put back together give the field, and known values read as the NVMe Base
specification and nvme-cli tell them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.userland.nvme import ctrl_bits, logs, ns_bits
from qrv.userland.nvme.bitlines import Bits, Decoder, reserved, supported
from qrv.userland.nvme.fmt import c_hex

ALL: dict[str, Decoder] = {
    **{f"id-ctrl {k}": d for k, d in ctrl_bits.DECODERS.items()},
    **{f"id-ns {k}": d for k, d in ns_bits.DECODERS.items()},
}
LINE = re.compile(r"^  \[(\d+):(\d+)\] : (\S+)")


def check_every_bit(decoder: Decoder, value: int) -> None:
    lines = decoder.lines(value)
    assert lines[-1] == ""
    rebuilt = 0
    covered = 0
    for line, bits in zip(lines[:-1], [b for b in decoder.bits if b.shown(value)], strict=True):
        m = LINE.match(line)
        assert m is not None, line
        assert (int(m[1]), int(m[2])) == (bits.hi, bits.lo)
        covered |= ((1 << bits.width) - 1) << bits.lo
        if bits.value is c_hex:
            rebuilt |= int(m[3], 16) << bits.lo
        else:
            rebuilt |= bits.get(value) << bits.lo
    assert value & ~covered == 0, f"bits {value & ~covered:#x} have no line"
    assert rebuilt == value


@pytest.mark.parametrize("name", sorted(ALL))
@given(data=st.data())
def test_every_set_bit_decodes_to_a_line(name: str, data: st.DataObject) -> None:
    decoder = ALL[name]
    check_every_bit(decoder, data.draw(st.integers(0, (1 << decoder.width) - 1)))


@pytest.mark.parametrize("name", sorted(ALL))
def test_all_ones_and_zero(name: str) -> None:
    decoder = ALL[name]
    check_every_bit(decoder, 0)
    check_every_bit(decoder, (1 << decoder.width) - 1)
    # only reserved ranges (and those nvme-cli hides) leave out lines for a zero field
    hidden = [b for b in decoder.bits if not b.shown(0)]
    assert all(b.reserved or b.when is not None for b in hidden)


def test_a_table_must_tile_the_field() -> None:
    with pytest.raises(ValueError, match="do not follow"):
        Decoder(8, (supported(7, "A"), supported(5, "B")))
    with pytest.raises(ValueError, match="have no line"):
        Decoder(8, (reserved(7, 2),))
    Decoder(8, (reserved(7, 1), Bits(0, 0, lambda v: "x")))


def test_oacs_of_a_controller_with_format_and_namespace_management() -> None:
    # NVMe 1.4 Figure 247 OACS: bit 1 Format NVM, bit 3 Namespace Management, bit 5
    # Directives, bit 8 Doorbell Buffer Config (QEMU 7.2's 0x12a)
    lines = ctrl_bits.OACS.lines(0x12A)
    assert lines[0] == "  [11:11] : 0\tHost Managed Live Migration Not Supported"
    assert "  [8:8] : 0x1\tDoorbell Buffer Config Supported" in lines
    assert "  [5:5] : 0x1\tDirectives Supported" in lines
    assert "  [3:3] : 0x1\tNS Management and Attachment Supported" in lines
    assert "  [1:1] : 0x1\tFormat NVM Supported" in lines
    assert "  [0:0] : 0\tSecurity Send and Receive Not Supported" in lines
    assert not any("Reserved" in line for line in lines)
    assert "  [15:12] : 0xf\tReserved" in ctrl_bits.OACS.lines(0xF000)


def test_sgls_lines_only_when_sgls_are_supported() -> None:
    none = ctrl_bits.SGLS.lines(0)
    assert none == [
        "  [15:8] : 0\tSGL Descriptor Threshold",
        "  [1:0] : 0\tScatter-Gather Lists Not Supported",
        "",
    ]
    some = ctrl_bits.SGLS.lines(0x1)
    assert "  [20:20] : 0\tAddress Offsets Not Supported" in some
    assert "  [1:0] : 0x1\tScatter-Gather Lists Supported. No Dword alignment required." in some


def test_values_that_are_not_flags() -> None:
    assert ctrl_bits.DECODERS["elpe"].lines(63)[0] == (
        "  [7:0] : 63 (0's based)\tError Log Page Entries (ELPE)"
    )
    assert ctrl_bits.DECODERS["wctemp"].lines(343)[0] == (
        "  [15:0] : 70 °C (343 K)\tWarning Composite Temperature Threshold (WCTEMP)"
    )
    assert ctrl_bits.DECODERS["sqes"].lines(0x66)[:2] == [
        "  [7:4] : 0x6\tMax SQ Entry Size (64)",
        "  [3:0] : 0x6\tMin SQ Entry Size (64)",
    ]
    assert ctrl_bits.DECODERS["tnvmcap"].lines(64 << 20)[0] == (
        "  [127:0] : 67,108,864\tTotal NVM Capacity (TNVMCAP)"
    )
    # VWC 2:1 = 11b: Flush with NSID FFFFFFFFh supported (NVMe 1.4 Figure 247)
    assert ctrl_bits.VWC.lines(0x7)[0] == (
        "  [2:1] : 0x3\tThe Flush command supports NSID set to FFFFFFFFh"
    )


def test_namespace_fields() -> None:
    # NSFEAT 14h: OPTPERF (bit 4) and DULBE (bit 2), as QEMU 7.2 reports (Figure 245)
    lines = ns_bits.NSFEAT.lines(0x14)
    assert "  [5:4] : 0x1\tNPWG, NPWA, NPDG, NPDA, and NOWS are Supported" in lines
    assert "  [2:2] : 0x1\tDeallocated or Unwritten Logical Block error Supported" in lines
    assert ns_bits.DPS.lines(0x9)[:2] == [
        "  [3:3] : 0x1\tProtection Information is Transferred as First Bytes of Metadata",
        "  [2:0] : 0x1\tProtection Information Type 1 Enabled",
    ]
    assert ns_bits.FLBAS.lines(0x14)[1:3] == [
        "  [4:4] : 0x1\tMetadata Transferred at End of Data LBA",
        "  [3:0] : 0x4\tLeast significant 4 bits of Current LBA Format Selected",
    ]
    # FPI: the percentage only when the indicator is supported or non-zero
    assert ns_bits.FPI.lines(0) == ["  [7:7] : 0\tFormat Progress Indicator Not Supported", ""]
    assert ns_bits.FPI.lines(0x80 | 40)[1] == (
        "  [6:0] : 0x28\tFormat Progress Indicator (Remaining 40%)"
    )


@given(st.integers(0, 0xFF))
def test_every_critical_warning_bit_has_a_line(warning: int) -> None:
    lines = logs.critical_warning_lines(warning)
    for bit in range(6):  # NVMe 1.4 Figure 196 bits 5:0
        label, value = lines[bit].split(": ")
        assert label.rstrip().endswith(f"[{bit}]") and value == str((warning >> bit) & 1)
    assert (len(lines) == 7) == bool(warning & 0xC0)
    if warning & 0xC0:
        assert lines[6] == f"      Reserved[7:6]                  : {c_hex(warning >> 6)}"

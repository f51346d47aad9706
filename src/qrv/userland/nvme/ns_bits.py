"""``nvme id-ns -H``: the Identify Namespace fields nvme-cli decodes, bit by bit.

Meanings are the NVMe Base specification's (1.4 Figure 245, the NVM command set's
Identify Namespace; bits that 2.0 gave a meaning are told as nvme-cli 2.x tells
them), the wording nvme-cli's.
"""

from __future__ import annotations

from qrv.userland.nvme.bitlines import Bits, Decoder, either, reserved, supported, table, text


def _optimal_io(optperf: int) -> str:
    """NSFEAT 5:4 (OPTPERF): which optimal I/O fields the namespace reports."""
    npdg = "NPDG, " if optperf & 0b01 or not optperf else ""
    npdgl = "NPDGL, " if optperf & 0b10 or not optperf else ""
    return f"NPWG, NPWA, {npdg}{npdgl}NPDA, and NOWS are {'' if optperf else 'Not '}Supported"


NSFEAT = Decoder(
    8,
    (
        supported(7, "NPRG, NPRA and NORS are"),
        either(
            6,
            "Multiple Atomicity Mode applies to write operations",
            "Single Atomicity Mode applies to write operations",
        ),
        Bits(5, 4, _optimal_io),
        Bits(3, 3, lambda v: f"NGUID and EUI64 fields if non-zero, {'Never ' if v else ''}Reused"),
        supported(2, "Deallocated or Unwritten Logical Block error"),
        either(
            1, "Namespace uses NAWUN, NAWUPF, and NACWU", "Namespace uses AWUN, AWUPF, and ACWU"
        ),
        supported(0, "Thin Provisioning"),
    ),
)

FLBAS = Decoder(
    8,
    (
        reserved(7),
        text(6, 5, "Most significant 2 bits of Current LBA Format Selected"),
        either(
            4,
            "Metadata Transferred at End of Data LBA",
            "Metadata Transferred in Separate Contiguous Buffer",
        ),
        text(3, 0, "Least significant 4 bits of Current LBA Format Selected"),
    ),
)

MC = Decoder(
    8,
    (
        reserved(7, 2),
        supported(1, "Metadata Pointer"),
        supported(0, "Metadata as Part of Extended Data LBA"),
    ),
)

_PI = "Protection Information Transferred as"
DPC = Decoder(
    8,
    (
        reserved(7, 5),
        supported(4, f"{_PI} Last Bytes of Metadata"),
        supported(3, f"{_PI} First Bytes of Metadata"),
        supported(2, "Protection Information Type 3"),
        supported(1, "Protection Information Type 2"),
        supported(0, "Protection Information Type 1"),
    ),
)

DPS = Decoder(
    8,
    (
        reserved(7, 4),
        either(
            3,
            "Protection Information is Transferred as First Bytes of Metadata",
            "Protection Information is Transferred as Last Bytes of Metadata",
        ),
        table(
            2,
            0,
            {
                0: "Protection Information Disabled",
                1: "Protection Information Type 1 Enabled",
                2: "Protection Information Type 2 Enabled",
                3: "Protection Information Type 3 Enabled",
            },
            "Protection Information Reserved Enabled",
        ),
    ),
)

NMIC = Decoder(
    8,
    (
        reserved(7, 2),
        Bits(1, 1, lambda v: f"Namespace is {'' if v else 'Not '}a Dispersed Namespace"),
        Bits(0, 0, lambda v: f"Namespace Multipath {'' if v else 'Not '}Capable"),
    ),
)

RESCAP = Decoder(
    8,
    (
        either(
            7,
            "Ignore Existing Key - Used as defined in revision 1.3 or later",
            "Ignore Existing Key - Used as defined in revision 1.2.1 or earlier",
        ),
        supported(6, "Exclusive Access - All Registrants"),
        supported(5, "Write Exclusive - All Registrants"),
        supported(4, "Exclusive Access - Registrants Only"),
        supported(3, "Write Exclusive - Registrants Only"),
        supported(2, "Exclusive Access"),
        supported(1, "Write Exclusive"),
        supported(0, "Persist Through Power Loss"),
    ),
)

FPI = Decoder(
    8,
    (
        supported(7, "Format Progress Indicator"),
        Bits(
            6,
            0,
            lambda v: f"Format Progress Indicator (Remaining {v}%)",
            when=lambda fpi: bool(fpi >> 7),  # nvme-cli: only when FPI is supported
        ),
    ),
)

DLFEAT = Decoder(
    8,
    (
        reserved(7, 5),
        either(
            4,
            "Guard Field of Deallocated Logical Blocks is set to CRC of The Value Read",
            "Guard Field of Deallocated Logical Blocks is set to 0xFFFF",
        ),
        supported(3, "Deallocate Bit in the Write Zeroes Command is"),
        table(
            2,
            0,
            {
                0: "Bytes Read From a Deallocated Logical Block and its Metadata are Not Reported",
                1: "Bytes Read From a Deallocated Logical Block and its Metadata are 0x00",
                2: "Bytes Read From a Deallocated Logical Block and its Metadata are 0xFF",
            },
            "Bytes Read From a Deallocated Logical Block and its Metadata are Reserved Value",
        ),
    ),
)

NSATTR = Decoder(
    8,
    (reserved(7, 1), Bits(0, 0, lambda v: f"Namespace {'' if v else 'Not '}Write Protected")),
)

DECODERS: dict[str, Decoder] = {
    "nsfeat": NSFEAT,
    "flbas": FLBAS,
    "mc": MC,
    "dpc": DPC,
    "dps": DPS,
    "nmic": NMIC,
    "rescap": RESCAP,
    "fpi": FPI,
    "dlfeat": DLFEAT,
    "nsattr": NSATTR,
}
"""The id-ns fields ``-H`` decodes, each printed right after its ``key : value`` line."""

SIZE_NAMES = {
    "nsze": "Total size in logical blocks",
    "ncap": "Maximum size in logical blocks",
    "nuse": "Current size in logical blocks",
}
"""With ``-H``, nvme-cli names the three sizes on their own lines."""

RELATIVE_PERFORMANCE = {0: "Best", 1: "Better", 2: "Good", 3: "Degraded"}
"""LBA Format RP (bits 25:24, NVMe 1.4 Figure 246)."""

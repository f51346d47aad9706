"""``nvme get-feature -H``: a feature's value (Completion Queue Entry DW0) and data
structure told field by field, as nvme-cli's ``-H`` does instead of its hex dump.

Fields are NVMe 1.4's (§5.21.1, Figures 272-303); labels and wording nvme-cli's.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from qrv.userland.nvme.bitlines import celsius, degrees
from qrv.userland.nvme.fmt import c_hex

SEND = "Send async event"
NO_SEND = "Do not send async event"


@dataclass(frozen=True)
class Field:
    """Bits hi..lo of the feature's value, its label and how the line tells it."""

    hi: int
    lo: int
    label: str
    render: Callable[[int], str] = str

    @property
    def mask(self) -> int:
        return ((1 << (self.hi - self.lo + 1)) - 1) << self.lo

    def line(self, value: int) -> str:
        return f"\t{self.label}: {self.render((value & self.mask) >> self.lo)}"


def _plus_one(v: int) -> str:
    return str(v + 1)  # 0's based counts


def _enabled(v: int) -> str:
    return "Enabled" if v else "Disabled"


def _true(v: int) -> str:
    return "True" if v else "False"


def _send(v: int) -> str:
    return SEND if v else NO_SEND


def _kelvin_first(kelvin: int) -> str:
    return f"{kelvin} K ({degrees(kelvin)})"


def _named(names: dict[int, str], other: str = "Reserved") -> Callable[[int], str]:
    return lambda v: f"{v} - {names.get(v, other)}"


_TMPSEL = {0: "Composite Temperature", 0xF: "All Temperature Sensors"} | {
    n: f"Temperature Sensor {n}" for n in range(1, 9)
}
_AE = 58  # nvme-cli pads the Asynchronous Event Configuration labels to 58 columns


def _ae(hi: int, lo: int, label: str) -> Field:
    return Field(hi, lo, f"{label:<{_AE}}", _send)


FIELDS: dict[int, tuple[Field, ...]] = {
    0x01: (  # Arbitration, Figure 272
        Field(31, 24, "High Priority Weight   (HPW)", _plus_one),
        Field(23, 16, "Medium Priority Weight (MPW)", _plus_one),
        Field(15, 8, "Low Priority Weight    (LPW)", _plus_one),
        Field(
            2, 0, "Arbitration Burst       (AB)", lambda v: "No limit" if v == 7 else str(1 << v)
        ),
    ),
    0x02: (  # Power Management, Figure 274
        Field(
            7,
            5,
            "Workload Hint (WH)",
            _named(
                {
                    0: "No Workload",
                    1: "Extended Idle Period with a Burst of Random Writes",
                    2: "Heavy Sequential Writes",
                }
            ),
        ),
        Field(4, 0, "Power State   (PS)"),
    ),
    0x03: (Field(5, 0, "Number of LBA Ranges (NUM)", _plus_one),),  # Figure 276
    0x04: (  # Temperature Threshold, Figure 283
        Field(
            21,
            20,
            "Threshold Type Select         (THSEL)",
            _named({0: "Over Temperature Threshold", 1: "Under Temperature Threshold"}),
        ),
        Field(19, 16, "Threshold Temperature Select (TMPSEL)", _named(_TMPSEL)),
        Field(15, 0, "Temperature Threshold         (TMPTH)", celsius),
    ),
    0x05: (  # Error Recovery, Figure 285
        Field(16, 16, "Deallocated or Unwritten Logical Block Error Enable (DULBE)", _enabled),
        Field(
            15,
            0,
            "Time Limited Error Recovery                          (TLER)",
            lambda v: f"{v * 100} ms",
        ),
    ),
    0x06: (Field(0, 0, "Volatile Write Cache Enable (WCE)", _enabled),),  # Figure 287
    0x07: (  # Number of Queues, Figure 289 (DW0: allocated, 0's based)
        Field(31, 16, "Number of IO Completion Queues Allocated (NCQA)", _plus_one),
        Field(15, 0, "Number of IO Submission Queues Allocated (NSQA)", _plus_one),
    ),
    0x08: (  # Interrupt Coalescing, Figure 291
        Field(15, 8, "Aggregation Time     (TIME)", lambda v: f"{v * 100} usec"),
        Field(7, 0, "Aggregation Threshold (THR)", _plus_one),
    ),
    0x09: (  # Interrupt Vector Configuration, Figure 293
        Field(16, 16, "Coalescing Disable (CD)", _true),
        Field(15, 0, "Interrupt Vector   (IV)"),
    ),
    0x0A: (Field(0, 0, "Disable Normal (DN)", _true),),  # Write Atomicity Normal, Figure 295
    0x0B: (  # Asynchronous Event Configuration, Figure 297
        _ae(31, 31, "Discovery Log Page Change Notices"),
        _ae(14, 14, "Endurance Group Event Aggregate Log Change Notices"),
        _ae(13, 13, "LBA Status Information Notices"),
        _ae(12, 12, "Predictable Latency Event Aggregate Log Change Notices"),
        _ae(11, 11, "Asymmetric Namespace Access Change Notices"),
        _ae(10, 10, "Telemetry Log Notices"),
        _ae(9, 9, "Firmware Activation Notices"),
        _ae(8, 8, "Namespace Attribute Notices"),
        _ae(7, 0, "SMART / Health Critical Warnings"),
    ),
    0x0C: (Field(0, 0, "Autonomous Power State Transition Enable (APSTE)", _enabled),),
    0x0D: (  # Host Memory Buffer, Figure 302
        Field(1, 1, "Memory Return (MR)", _true),
        Field(0, 0, "Enable Host Memory (EHM)", _enabled),
    ),
    0x0E: (),  # Timestamp: the data structure only
    0x0F: (Field(31, 0, "Keep Alive Timeout (KATO) in milliseconds"),),  # Figure 308
    0x10: (  # Host Controlled Thermal Management, Figure 310
        Field(
            31,
            16,
            "Thermal Management Temperature 1 (TMT1) ",
            _kelvin_first,
        ),
        Field(
            15,
            0,
            "Thermal Management Temperature 2 (TMT2) ",
            _kelvin_first,
        ),
    ),
    0x11: (  # Non-Operational Power State Config, Figure 312
        Field(0, 0, "Non-Operational Power State Permissive Mode Enable (NOPPME)", _true),
    ),
    0x80: (Field(7, 0, "Pre-boot Software Load Count (PBSLC)"),),  # Figure 314
    0x81: (),  # Host Identifier: the data structure only
    0x82: (  # Reservation Notification Mask, Figure 318
        Field(3, 3, "Mask Reservation Preempted Notification  (RESPRE)", _true),
        Field(2, 2, "Mask Reservation Released Notification   (RESREL)", _true),
        Field(1, 1, "Mask Registration Preempted Notification (REGPRE)", _true),
    ),
    0x83: (Field(0, 0, "Persist Through Power Loss (PTPL)", _true),),  # Figure 320
    0x84: (  # Namespace Write Protection Config, Figure 322
        Field(
            2,
            0,
            "Namespace Write Protect",
            lambda v: {
                0: "No Write Protect",
                1: "Write Protect",
                2: "Write Protect Until Power Cycle",
                3: "Permanent Write Protect",
            }.get(v, "Reserved"),
        ),
    ),
}
"""The features ``-H`` decodes: their value's fields, high bits first."""


# -- data structures ---------------------------------------------------------------------------

_LBA_RANGE = struct.Struct("<BB14xQQ16s16x")  # LBA Range Type entry, Figure 277
_LBA_TYPES = {0: "General Purpose", 1: "Filesystem", 2: "RAID", 3: "Cache", 4: "Page / Swap File"}


def _lba_type(t: int) -> str:
    return "Vendor Specific" if t >= 0x80 else _LBA_TYPES.get(t, "Reserved")


def _lba_ranges(value: int, data: bytes) -> list[str]:
    lines = []
    count = min((value & 0x3F) + 1, len(data) // _LBA_RANGE.size)
    for i in range(count):
        kind, attrs, slba, nlb, guid = _LBA_RANGE.unpack_from(data, i * _LBA_RANGE.size)
        over = "may be" if attrs & 1 else "should not be"
        hidden = "hidden from" if attrs & 2 else "visible from"
        lines += [
            f"\ttype       : {c_hex(kind)} - {_lba_type(kind)}",
            f"\tattributes : {c_hex(attrs)} - LBA range {over} overwritten, "
            f"LBA range should be {hidden} the OS/EFI/BIOS",
            f"\tslba       : {c_hex(slba)}",
            f"\tnlb        : {c_hex(nlb)}",
            f"\tguid       : {guid.hex()}",
        ]
    return lines


def _apst(value: int, data: bytes) -> list[str]:
    """APST data structure (Figure 301): 32 entries, ITPT bits 31:8 (ms), ITPS bits 7:3."""
    lines = ["\tAuto PST Entries\t................."]
    for i in range(len(data) // 8):
        entry = int.from_bytes(data[i * 8 : i * 8 + 8], "little")
        lines += [
            f"\tEntry[{i:2d}]",
            "\t.................",
            f"\tIdle Time Prior to Transition (ITPT): {(entry >> 8) & 0xFFFFFF} ms",
            f"\tIdle Transition Power State   (ITPS): {(entry >> 3) & 0x1F}",
            "\t.................",
        ]
    return lines


def _host_memory(value: int, data: bytes) -> list[str]:
    """Host Memory Buffer attributes (Figure 303): HSIZE, HMDLAL, HMDLAU, HMDLEC."""
    hsize, hmdlal, hmdlau, hmdlec = struct.unpack_from("<4I", data)
    return [
        f"\tHost Memory Descriptor List Entry Count (HMDLEC): {hmdlec}",
        f"\tHost Memory Descriptor List Address     (HMDLAU): {c_hex(hmdlau)}",
        f"\tHost Memory Descriptor List Address     (HMDLAL): {c_hex(hmdlal)}",
        f"\tHost Memory Buffer Size                  (HSIZE): {hsize}",
    ]


_ORIGIN = {
    0: "The Timestamp field was initialized to 0 by a Controller Level Reset",
    1: "The Timestamp field was initialized by a Set Features command",
}


def _timestamp(value: int, data: bytes) -> list[str]:
    """Timestamp data structure (Figure 305): milliseconds since the epoch in bytes 5:0;
    byte 6 bit 0 Synch, bits 3:1 Timestamp Origin."""
    ms = int.from_bytes(data[:6], "little")
    attr = data[6]
    when = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    stopped = attr & 1
    return [
        f"\tThe timestamp is : {ms} ({when}Z)",
        f"\t{_ORIGIN.get((attr >> 1) & 0b111, 'Reserved Timestamp Origin')}",
        "\tThe controller may have stopped counting time"
        if stopped
        else "\tThe controller counted time continuously since the Timestamp was set",
    ]


def _host_id(value: int, data: bytes) -> list[str]:
    return [f"\tHost Identifier (HOSTID):  {int.from_bytes(data[:8], 'little')}"]


DATA: dict[int, Callable[[int, bytes], list[str]]] = {
    0x03: _lba_ranges,
    0x0C: _apst,
    0x0D: _host_memory,
    0x0E: _timestamp,
    0x81: _host_id,
}
"""Features whose data structure ``-H`` tells (after the value's fields)."""


def lines(fid: int, value: int, data: bytes) -> list[str]:
    """``-H``'s lines for feature `fid` (none for a feature nvme-cli does not decode)."""
    out = [f.line(value) for f in FIELDS.get(fid, ())]
    if data and fid in DATA:
        out += DATA[fid](value, data)
    return out

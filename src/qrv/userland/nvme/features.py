"""``nvme get-feature`` / ``set-feature``: feature names, data sizes, nvme-cli's lines."""

from __future__ import annotations

from qrv.spec.nvme import FeatureCapability, FeatureSelect
from qrv.userland.nvme import feature_bits
from qrv.userland.nvme.fmt import JsonObject, hex_dump

NAMES = {
    0x01: "Arbitration",
    0x02: "Power Management",
    0x03: "LBA Range Type",
    0x04: "Temperature Threshold",
    0x05: "Error Recovery",
    0x06: "Volatile Write Cache",
    0x07: "Number of Queues",
    0x08: "Interrupt Coalescing",
    0x09: "Interrupt Vector Configuration",
    0x0A: "Write Atomicity Normal",
    0x0B: "Async Event Configuration",
    0x0C: "Autonomous Power State Transition",
    0x0D: "Host Memory Buffer",
    0x0E: "Timestamp",
    0x0F: "Keep Alive Timer",
    0x10: "Host Controlled Thermal Management",
    0x11: "Non-Operational Power State Config",
    0x80: "Software Progress",
    0x81: "Host Identifier",
    0x82: "Reservation Notification Mask",
    0x83: "Reservation Persistence",
    0x84: "Namespace Write Protection Config",
}
DATA_LEN = {0x03: 4096, 0x0C: 256, 0x0D: 4096, 0x0E: 8, 0x81: 8}
"""Features whose Get Features returns a data structure (bytes), as nvme-cli sizes them."""

SELECT_NAMES = {
    FeatureSelect.CURRENT: "Current",
    FeatureSelect.DEFAULT: "Default",
    FeatureSelect.SAVED: "Saved",
    FeatureSelect.SUPPORTED_CAPABILITIES: "Supported capabilities",
}
CAPABILITY_LINES = (
    (FeatureCapability.SAVEABLE, "saveable"),
    (FeatureCapability.NAMESPACE_SPECIFIC, "per-namespace"),
    (FeatureCapability.CHANGEABLE, "changeable"),
)


def name(fid: int) -> str:
    return NAMES.get(fid, "Unknown")


def _fid(fid: int) -> str:
    """nvme-cli's ``%#0*x`` with width 4 (2 for 0): ``0x06``."""
    return f"{fid:#04x}" if fid else "00"


def _value(value: int) -> str:
    """``%#0*x`` with width 10 (8 for 0): ``0x00000001`` or ``00000000``."""
    return f"{value:#010x}" if value else "00000000"


def get_text(fid: int, sel: int, result: int, data: bytes, *, human: bool = False) -> str:
    which = SELECT_NAMES[FeatureSelect(sel)]
    lines = [f"get-feature:{_fid(fid)} ({name(fid)}), {which} value:{_value(result)}"]
    if sel == FeatureSelect.SUPPORTED_CAPABILITIES:
        lines += [f"  Feature is {word}" for bit, word in CAPABILITY_LINES if result & bit]
    elif human:  # the fields instead of the dump, as nvme-cli's -H
        lines += feature_bits.lines(fid, result, data)
    elif data:
        lines += hex_dump(data)
    return "\n".join(lines) + "\n"


def get_json(fid: int, sel: int, result: int, data: bytes) -> JsonObject:
    obj: JsonObject = {
        "feature": _fid(fid),
        "name": name(fid),
        "sel": SELECT_NAMES[FeatureSelect(sel)],
        "value": result,
    }
    if sel == FeatureSelect.SUPPORTED_CAPABILITIES:
        obj["capabilities"] = [word for bit, word in CAPABILITY_LINES if result & bit]
    elif data:
        obj["data"] = data.hex()
    return obj


def set_text(fid: int, value: int, cdw12: int, save: bool) -> str:
    return (
        f"set-feature:{_fid(fid)} ({name(fid)}), value:{_value(value)}, "
        f"cdw12:{_value(cdw12)}, save:{'0x1' if save else '0'}\n"
    )

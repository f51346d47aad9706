"""Partition names (UEFI table 5-6: 36 UTF-16LE code units) and attribute text."""

from __future__ import annotations

import struct

from qrv.lib.gpt.errors import GptLayoutError
from qrv.spec.gpt import ATTR_NAMES, ATTR_TYPE_SPECIFIC_SHIFT, GPT_NAME_BYTES, GPT_NAME_UNITS

_NUL = 0x0000
_PAD = 0xFFFF  # some tools pad names with 0xFFFF units instead of NULs
_UNIT = struct.Struct("<H")


def decode_name(raw: bytes) -> str:
    """Decode a PartitionName field in full UTF-16LE.

    The name ends at the first NUL unit; trailing 0xFFFF padding is dropped;
    surrogate pairs combine; a lone surrogate becomes U+FFFD.  Never raises.
    """
    units = [u for (u,) in _UNIT.iter_unpack(raw[: len(raw) & ~1])]
    if _NUL in units:
        units = units[: units.index(_NUL)]
    while units and units[-1] == _PAD:
        units.pop()
    data = b"".join(_UNIT.pack(u) for u in units)
    return data.decode("utf-16-le", errors="replace")


def encode_name(name: str) -> bytes:
    """Encode a name into the 72-byte field (NUL padded); refuse what does not fit.

    Characters beyond the BMP take a surrogate pair (two of the 36 units).
    """
    if "\x00" in name or chr(_PAD) in name:
        raise GptLayoutError(
            f"partition name {name!r} contains NUL or U+FFFF, which end or pad a name"
        )
    try:
        data = name.encode("utf-16-le")
    except UnicodeEncodeError as exc:
        raise GptLayoutError(f"partition name {name!r} is not valid Unicode text") from exc
    if len(data) > GPT_NAME_BYTES:
        raise GptLayoutError(
            f"partition name {name!r} needs {len(data) // 2} UTF-16 code units, "
            f"at most {GPT_NAME_UNITS} fit"
        )
    return data.ljust(GPT_NAME_BYTES, b"\x00")


def attribute_names(attributes: int) -> list[str]:
    """Human names of the set attribute bits (UEFI table 5-7), unknown bits as bitN."""
    names: list[str] = []
    for flag, label in ATTR_NAMES.items():
        if attributes & flag:
            names.append(label)
    for bit in range(len(ATTR_NAMES), 64):
        if attributes >> bit & 1:
            kind = "type-specific" if bit >= ATTR_TYPE_SPECIFIC_SHIFT else "reserved"
            names.append(f"{kind}-bit{bit}")
    return names

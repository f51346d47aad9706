"""Value formatting as nvme-cli's C printf does it, and the JSON it prints."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

JsonObject = dict[str, Any]


def c_hex(value: int) -> str:
    """C's ``%#x``: ``0`` for zero (no prefix), ``0x1b36`` otherwise."""
    return f"{value:#x}" if value else "0"


def hex_bytes(raw: bytes) -> str:
    return raw.hex()


def uuid_text(raw: bytes) -> str:
    h = raw.hex().ljust(32, "0")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def ieee_oui(raw: bytes) -> int:
    """Identify Controller IEEE: three bytes, least significant first."""
    b = raw.ljust(3, b"\0")
    return b[2] << 16 | b[1] << 8 | b[0]


def thousands(value: int) -> str:
    """nvme-cli's ``%'`` grouping of counters (``2,497``)."""
    return f"{value:,}"


def si_size(nbytes: float) -> str:
    """nvme-cli's ``uint128_t_to_si_string``: ``1.28 GB`` (powers of 1000)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    value = float(nbytes)
    unit = 0
    while value >= 1000 and unit < len(units) - 1:
        value /= 1000
        unit += 1
    return f"{value:.2f} {units[unit]}"


# A field: its key, how a human line shows the value, and the value from a structure.
Render = Callable[[Any], str]
RENDERS: dict[str, Render] = {
    "x": lambda v: c_hex(int(v)),
    "d": lambda v: str(int(v)),
    "s": str,
}


def _printable(chunk: bytes) -> str:
    return "".join(chr(b) if 0x21 <= b <= 0x7E else "." for b in chunk)


def hex_dump(data: bytes) -> list[str]:
    """nvme-cli's ``d()`` dump: offset, 16 bytes in hex, their printable characters."""
    lines = ["     " + "".join(f"{i:3x}" for i in range(16))]
    for off in range(0, len(data), 16):
        chunk = data[off : off + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        lines.append(f'{off:04x}: {hexes} "{_printable(chunk)}"')
    return lines


def ascii_lines(data: bytes) -> list[str]:
    """nvme-cli's ``d_json``: the printable characters of `data` 16 bytes a line (others
    ``.``), up to its first NUL, as the JSON ``vs`` array holds them."""
    data = data.split(b"\0", 1)[0]
    return [_printable(data[i : i + 16]) for i in range(0, len(data), 16)]


def dump_json(obj: JsonObject | list[Any]) -> str:
    return json.dumps(obj, indent=2) + "\n"


def key_lines(rows: list[tuple[str, str]], width: int) -> list[str]:
    """``key<pad>: value`` lines, keys padded to `width` as nvme-cli's ``%-Ns``."""
    return [f"{key:<{width}}: {value}" for key, value in rows]

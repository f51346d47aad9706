"""Fixed-size little-endian data structures described by field offsets."""

from __future__ import annotations

import struct
from dataclasses import field, fields
from typing import Any, ClassVar, Self

# --- Identify and log data structures -------------------------------------------------------

_INT_CODES = {"B": 1, "H": 2, "I": 4, "Q": 8}


def field_at(offset: int, fmt: str, default: Any = 0) -> Any:
    """A layout field at byte `offset`.  fmt: B/H/I/Q, u128, text:N (space padded ASCII),
    cstr:N (NUL padded), raw:N (bytes), or e.g. I*16 (an array)."""
    return field(default=default, metadata={"at": offset, "fmt": fmt})


def _fmt_size(fmt: str) -> int:
    if fmt in _INT_CODES:
        return _INT_CODES[fmt]
    if fmt == "u128":
        return 16
    if ":" in fmt:
        return int(fmt.split(":")[1])
    code, count = fmt.split("*")
    return _INT_CODES[code] * int(count)


class Layout:
    """A fixed-size little-endian data structure described by field offsets."""

    SIZE: ClassVar[int]

    def pack(self) -> bytes:
        buf = bytearray(self.SIZE)
        for f in fields(self):  # type: ignore[arg-type]
            _put(buf, f.metadata["at"], f.metadata["fmt"], getattr(self, f.name))
        return bytes(buf)

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview) -> Self:
        if len(data) < cls.SIZE:
            raise ValueError(f"{cls.__name__}: need {cls.SIZE} bytes, got {len(data)}")
        values = {
            f.name: _get(data, f.metadata["at"], f.metadata["fmt"])
            for f in fields(cls)  # type: ignore[arg-type]
        }
        return cls(**values)


def _put(buf: bytearray, at: int, fmt: str, value: Any) -> None:
    size = _fmt_size(fmt)
    if fmt in _INT_CODES:
        struct.pack_into("<" + fmt, buf, at, value)
    elif fmt == "u128":
        buf[at : at + size] = int(value).to_bytes(size, "little")
    elif fmt.startswith("text:"):
        raw = str(value).encode("ascii")[:size]
        buf[at : at + size] = raw.ljust(size, b" ")
    elif fmt.startswith("cstr:"):
        raw = str(value).encode("utf-8")[: size - 1]
        buf[at : at + size] = raw.ljust(size, b"\0")
    elif fmt.startswith("raw:"):
        buf[at : at + size] = bytes(value).ljust(size, b"\0")[:size]
    else:
        code, count = fmt.split("*")
        items = tuple(value) + (0,) * (int(count) - len(value))
        struct.pack_into(f"<{count}{code}", buf, at, *items)


def _get(data: bytes | bytearray | memoryview, at: int, fmt: str) -> Any:
    size = _fmt_size(fmt)
    if fmt in _INT_CODES:
        return struct.unpack_from("<" + fmt, data, at)[0]
    chunk = bytes(data[at : at + size])
    if fmt == "u128":
        return int.from_bytes(chunk, "little")
    if fmt.startswith("text:"):
        return chunk.decode("ascii", "replace").rstrip(" \0")
    if fmt.startswith("cstr:"):
        return chunk.split(b"\0", 1)[0].decode("utf-8", "replace")
    if fmt.startswith("raw:"):
        return chunk
    code, count = fmt.split("*")
    return struct.unpack_from(f"<{count}{code}", data, at)


def check_layout(cls: type[Layout]) -> None:
    """Assert that every field lies inside SIZE and that no two overlap."""
    spans = sorted(
        (f.metadata["at"], f.metadata["at"] + _fmt_size(f.metadata["fmt"]), f.name)
        for f in fields(cls)  # type: ignore[arg-type]
    )
    end = 0
    for start, stop, name in spans:
        if start < end or stop > cls.SIZE:
            raise AssertionError(f"{cls.__name__}.{name} overlaps or overruns the layout")
        end = stop

"""A flattened-device-tree writer for the built-in board (Devicetree Specification ch. 5).

The board describes itself as a tree of :class:`Node` objects whose property
values are already encoded (``u32``/``cells``/``strings``/``pairs`` helpers);
:func:`build_dtb` lays out the header, memory reservation map, structure block
and a de-duplicated strings block, as ``dtc`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qrv.spec.fdt import (
    CELL,
    FDT_LAST_COMP_VERSION,
    FDT_MAGIC,
    FDT_VERSION,
    HEADER,
    PROP_HEADER,
    RESERVE_ENTRY,
    RSVMAP_ALIGN,
    TOKEN_ALIGN,
    Token,
    align,
)

CELL_BITS = 32
CELL_MASK = (1 << CELL_BITS) - 1


def cells(*values: int) -> bytes:
    """A property of 32-bit cells (``<a b c>`` in dts)."""
    for v in values:
        if not 0 <= v <= CELL_MASK:
            raise ValueError(f"cell value {v:#x} does not fit 32 bits")
    return b"".join(CELL.pack(v) for v in values)


def split(value: int, ncells: int) -> tuple[int, ...]:
    """A number as `ncells` big-endian cells (most significant first)."""
    if value < 0 or value >> (CELL_BITS * ncells):
        raise ValueError(f"{value:#x} does not fit {ncells} cell(s)")
    return tuple((value >> (CELL_BITS * i)) & CELL_MASK for i in reversed(range(ncells)))


def pairs(entries: Iterable[tuple[int, int]], address_cells: int, size_cells: int) -> bytes:
    """A ``reg``-style property: (address, size) pairs in the given cell counts."""
    out: list[int] = []
    for addr, size in entries:
        out += split(addr, address_cells) + split(size, size_cells)
    return cells(*out)


def strings(*values: str) -> bytes:
    """A string or string-list property (NUL-terminated, concatenated)."""
    return b"".join(v.encode("ascii") + b"\0" for v in values)


EMPTY = b""


@dataclass
class Node:
    """A device-tree node: name (``name@unit``), properties in order, children in order."""

    name: str
    props: dict[str, bytes] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def add(self, child: Node) -> Node:
        self.children.append(child)
        return child


class _Strings:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.offsets: dict[str, int] = {}

    def offset(self, name: str) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.blob)
            self.blob += name.encode("ascii") + b"\0"
        return self.offsets[name]


def _pad(buf: bytearray) -> None:
    buf += b"\0" * (align(len(buf), TOKEN_ALIGN) - len(buf))


def _emit(node: Node, out: bytearray, names: _Strings) -> None:
    out += CELL.pack(Token.BEGIN_NODE)
    out += node.name.encode("ascii") + b"\0"
    _pad(out)
    for name, value in node.props.items():
        out += CELL.pack(Token.PROP)
        out += PROP_HEADER.pack(len(value), names.offset(name))
        out += value
        _pad(out)
    for child in node.children:
        _emit(child, out, names)
    out += CELL.pack(Token.END_NODE)


def build_dtb(
    root: Node, *, reserved: Iterable[tuple[int, int]] = (), boot_cpuid: int = 0
) -> bytes:
    """Serialise a tree to a version-17 DTB (DT spec 5.2-5.5)."""
    if root.name:
        raise ValueError(f"the root node has an empty name, got {root.name!r}")
    struct_block = bytearray()
    names = _Strings()
    _emit(root, struct_block, names)
    struct_block += CELL.pack(Token.END)

    rsvmap = bytearray()
    for addr, size in reserved:
        rsvmap += RESERVE_ENTRY.pack(addr, size)
    rsvmap += RESERVE_ENTRY.pack(0, 0)

    off_rsvmap = align(HEADER.size, RSVMAP_ALIGN)
    off_struct = off_rsvmap + len(rsvmap)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(names.blob)
    header = HEADER.pack(
        FDT_MAGIC,
        total,
        off_struct,
        off_strings,
        off_rsvmap,
        FDT_VERSION,
        FDT_LAST_COMP_VERSION,
        boot_cpuid,
        len(names.blob),
        len(struct_block),
    )
    blob = header.ljust(off_rsvmap, b"\0") + rsvmap + struct_block + names.blob
    assert len(blob) == total
    return bytes(blob)

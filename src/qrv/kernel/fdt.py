"""The kernel's flattened-device-tree parser (Devicetree Specification v0.4, ch. 5).

Reads any valid DTB of version 16 or 17: header checks, memory reservation
map, structure block (nested nodes, properties, NOPs) and strings block.  Every
structural fault is an :class:`~qrv.errors.FdtError` that says where and what,
because a bad device tree is a boot error.

Cell counts: a node's ``reg`` and the parent side of its ``ranges`` are read
with the ``#address-cells``/``#size-cells`` of the nearest ancestor that sets
them (Linux's ``of_n_addr_cells`` walk), else the DT spec 2.3.5 defaults (2, 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from qrv.errors import FdtError
from qrv.spec.fdt import (
    CELL,
    DEFAULT_ADDRESS_CELLS,
    DEFAULT_SIZE_CELLS,
    FDT_MAGIC,
    FDT_MIN_VERSION,
    FDT_VERSION,
    HEADER,
    HEADER_V16_SIZE,
    PROP_HEADER,
    RESERVE_ENTRY,
    RSVMAP_ALIGN,
    TOKEN_ALIGN,
    Token,
    align,
)

MAX_DEPTH = 64  # deeper nesting than any real tree: treat as corrupt (libfdt FDT_MAX_DEPTH is 32)
MAX_CELLS = 4  # an address or size wider than 128 bits is not something we can use


@dataclass(frozen=True)
class FdtHeader:
    totalsize: int
    off_dt_struct: int
    off_dt_strings: int
    off_mem_rsvmap: int
    version: int
    last_comp_version: int
    boot_cpuid_phys: int
    size_dt_strings: int
    size_dt_struct: int


@dataclass(eq=False)
class FdtNode:
    """One node: its full name (``pci@30000000``), properties (raw bytes) and children."""

    name: str
    parent: FdtNode | None = None
    props: dict[str, bytes] = field(default_factory=dict)
    children: list[FdtNode] = field(default_factory=list)

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/"
        base = self.parent.path
        return (base if base.endswith("/") else base + "/") + self.name

    @property
    def basename(self) -> str:
        """The node name without its unit address (``pci`` for ``pci@30000000``)."""
        return self.name.split("@", 1)[0]

    def walk(self) -> Iterator[FdtNode]:
        """This node and all its descendants, depth first, in blob order."""
        yield self
        for child in self.children:
            yield from child.walk()

    def child(self, name: str) -> FdtNode | None:
        return next((c for c in self.children if c.name == name), None)

    # -- property decoding -------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.props

    def cells(self, name: str) -> list[int]:
        raw = self.props.get(name)
        if raw is None:
            raise FdtError(f"{self.path}: no property {name!r}")
        if len(raw) % CELL.size:
            raise FdtError(f"{self.path}: property {name!r} is {len(raw)} bytes, not whole cells")
        return [CELL.unpack_from(raw, i)[0] for i in range(0, len(raw), CELL.size)]

    def u32(self, name: str) -> int:
        values = self.cells(name)
        if len(values) != 1:
            raise FdtError(f"{self.path}: property {name!r}: expected 1 cell, got {len(values)}")
        return values[0]

    def strings(self, name: str) -> list[str]:
        raw = self.props.get(name)
        if raw is None:
            raise FdtError(f"{self.path}: no property {name!r}")
        if not raw.endswith(b"\0"):
            raise FdtError(f"{self.path}: property {name!r} is not a NUL-terminated string")
        try:
            return raw[:-1].decode("ascii").split("\0")
        except UnicodeDecodeError as exc:
            raise FdtError(f"{self.path}: property {name!r} is not ASCII text") from exc

    def string(self, name: str) -> str:
        return self.strings(name)[0]

    def _inherited(self, prop: str, default: int) -> int:
        node: FdtNode | None = self
        while node is not None:
            if prop in node.props:
                value = node.u32(prop)
                if value > MAX_CELLS:
                    raise FdtError(f"{node.path}: {prop} = {value} is more than {MAX_CELLS}")
                return value
            node = node.parent
        return default

    @property
    def address_cells(self) -> int:
        """#address-cells this node gives its children."""
        return self._inherited("#address-cells", DEFAULT_ADDRESS_CELLS)

    @property
    def size_cells(self) -> int:
        """#size-cells this node gives its children."""
        return self._inherited("#size-cells", DEFAULT_SIZE_CELLS)

    def reg(self) -> list[tuple[int, int]]:
        """``reg`` as (address, size) pairs in the parent's address space."""
        parent = self.parent or self
        widths = (parent.address_cells, parent.size_cells)
        return [(addr, size) for addr, size in self.tuples("reg", widths)]

    def tuples(self, name: str, widths: tuple[int, ...]) -> list[tuple[int, ...]]:
        """A property as records of numbers, each ``widths[i]`` cells wide."""
        values = self.cells(name)
        step = sum(widths)
        if step == 0 or len(values) % step:
            raise FdtError(
                f"{self.path}: property {name!r} has {len(values)} cells, "
                f"not a multiple of {step} ({'+'.join(map(str, widths))})"
            )
        out: list[tuple[int, ...]] = []
        for pos in range(0, len(values), step):
            record: list[int] = []
            i = pos
            for w in widths:
                record.append(join_cells(values[i : i + w]))
                i += w
            out.append(tuple(record))
        return out


def join_cells(values: list[int]) -> int:
    out = 0
    for v in values:
        out = out << 32 | v
    return out


@dataclass
class FdtTree:
    header: FdtHeader
    reserved: list[tuple[int, int]]
    root: FdtNode

    def find(self, path: str) -> FdtNode | None:
        node: FdtNode | None = self.root
        for part in (p for p in path.split("/") if p):
            node = node.child(part) if node is not None else None
        return node

    def nodes(self) -> Iterator[FdtNode]:
        return self.root.walk()

    def compatible(self, value: str) -> list[FdtNode]:
        return [n for n in self.nodes() if n.has("compatible") and value in n.strings("compatible")]


# -- parsing ---------------------------------------------------------------------------


def _header(blob: bytes) -> FdtHeader:
    if len(blob) < HEADER_V16_SIZE:
        raise FdtError(f"DTB too short: {len(blob)} bytes, a header needs {HEADER_V16_SIZE}")
    raw = list(HEADER.unpack_from(blob.ljust(HEADER.size, b"\0")))
    magic, totalsize, off_struct, off_strings, off_rsv, version, last_comp = raw[:7]
    if magic != FDT_MAGIC:
        raise FdtError(f"bad DTB magic {magic:#010x}: expected {FDT_MAGIC:#010x}")
    if version < FDT_MIN_VERSION or last_comp > FDT_VERSION:
        raise FdtError(
            f"unsupported DTB version {version} (last compatible {last_comp}): "
            f"this parser reads versions {FDT_MIN_VERSION}..{FDT_VERSION}"
        )
    header_size = HEADER.size if version >= FDT_VERSION else HEADER_V16_SIZE
    if totalsize > len(blob):
        raise FdtError(f"DTB truncated: header says {totalsize} bytes, got {len(blob)}")
    if totalsize < header_size:
        raise FdtError(f"DTB totalsize {totalsize} is smaller than its header ({header_size})")
    if version < FDT_VERSION:
        raw[9] = totalsize - off_struct if off_struct < totalsize else 0
    hdr = FdtHeader(totalsize, off_struct, off_strings, off_rsv, version, last_comp, *raw[7:10])
    for name, off, size, alignment in (
        ("structure block", hdr.off_dt_struct, hdr.size_dt_struct, TOKEN_ALIGN),
        ("strings block", hdr.off_dt_strings, hdr.size_dt_strings, 1),
        ("memory reservation map", hdr.off_mem_rsvmap, 0, RSVMAP_ALIGN),
    ):
        if off < header_size or off + size > totalsize:
            raise FdtError(
                f"DTB {name} [{off:#x}, {off + size:#x}) lies outside "
                f"[{header_size:#x}, {totalsize:#x})"
            )
        if off % alignment:
            raise FdtError(f"DTB {name} offset {off:#x} is not {alignment}-byte aligned")
    return hdr


def _reserved(blob: bytes, hdr: FdtHeader) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    pos = hdr.off_mem_rsvmap
    while True:
        if pos + RESERVE_ENTRY.size > hdr.totalsize:
            raise FdtError("DTB memory reservation map runs past the end (no terminating entry)")
        addr, size = RESERVE_ENTRY.unpack_from(blob, pos)
        if addr == 0 and size == 0:
            return out
        out.append((addr, size))
        pos += RESERVE_ENTRY.size


class _StructReader:
    def __init__(self, blob: bytes, hdr: FdtHeader) -> None:
        self.blob = blob
        self.pos = hdr.off_dt_struct
        self.end = hdr.off_dt_struct + hdr.size_dt_struct
        self.strings = blob[hdr.off_dt_strings : hdr.off_dt_strings + hdr.size_dt_strings]

    def _need(self, n: int, what: str) -> None:
        if self.pos + n > self.end:
            raise FdtError(
                f"DTB structure block truncated at {self.pos:#x}: {what} needs {n} byte(s), "
                f"block ends at {self.end:#x}"
            )

    def cell(self, what: str) -> int:
        self._need(CELL.size, what)
        value: int = CELL.unpack_from(self.blob, self.pos)[0]
        self.pos += CELL.size
        return value

    def name(self) -> str:
        nul = self.blob.find(b"\0", self.pos, self.end)
        if nul < 0:
            raise FdtError(f"DTB node name at {self.pos:#x} is not NUL-terminated")
        raw = self.blob[self.pos : nul]
        self.pos = align(nul + 1, TOKEN_ALIGN)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise FdtError(f"DTB node name at {nul - len(raw):#x} is not ASCII") from exc

    def prop(self) -> tuple[str, bytes]:
        self._need(PROP_HEADER.size, "property header")
        length, nameoff = PROP_HEADER.unpack_from(self.blob, self.pos)
        self.pos += PROP_HEADER.size
        self._need(length, f"property value of {length} bytes")
        value = self.blob[self.pos : self.pos + length]
        self.pos = align(self.pos + length, TOKEN_ALIGN)
        nul = self.strings.find(b"\0", nameoff)
        if nameoff >= len(self.strings) or nul < 0:
            raise FdtError(
                f"DTB property name offset {nameoff:#x} lies outside the strings block "
                f"({len(self.strings)} bytes)"
            )
        try:
            return self.strings[nameoff:nul].decode("ascii"), value
        except UnicodeDecodeError as exc:
            raise FdtError(f"DTB property name at strings+{nameoff:#x} is not ASCII") from exc


def parse_fdt(blob: bytes) -> FdtTree:
    """Parse a DTB; raise :class:`FdtError` naming the first fault found."""
    hdr = _header(blob)
    reserved = _reserved(blob, hdr)
    rd = _StructReader(blob, hdr)
    root: FdtNode | None = None
    stack: list[FdtNode] = []
    while True:
        where = rd.pos
        token = rd.cell("token")
        if token == Token.NOP:
            continue
        if token == Token.BEGIN_NODE:
            name = rd.name()
            if not stack:
                if root is not None:
                    raise FdtError(f"DTB has a second root node at {where:#x}")
                if name:
                    raise FdtError(f"DTB root node has a name {name!r}; expected none")
                root = FdtNode(name)
                stack.append(root)
            else:
                if len(stack) >= MAX_DEPTH:
                    raise FdtError(f"DTB nodes nested deeper than {MAX_DEPTH} at {where:#x}")
                node = FdtNode(name, parent=stack[-1])
                stack[-1].children.append(node)
                stack.append(node)
        elif token == Token.PROP:
            if not stack:
                raise FdtError(f"DTB property outside any node at {where:#x}")
            if stack[-1].children:
                raise FdtError(f"DTB property after a subnode in {stack[-1].path} at {where:#x}")
            pname, value = rd.prop()
            stack[-1].props[pname] = value
        elif token == Token.END_NODE:
            if not stack:
                raise FdtError(f"DTB END_NODE without a node at {where:#x}")
            stack.pop()
        elif token == Token.END:
            if stack:
                raise FdtError(f"DTB ends at {where:#x} inside node {stack[-1].path}")
            if root is None:
                raise FdtError("DTB structure block has no root node")
            return FdtTree(hdr, reserved, root)
        else:
            raise FdtError(f"bad DTB structure token {token:#x} at {where:#x}")
        if root is None:
            raise FdtError(f"DTB structure block does not start with the root node ({where:#x})")

"""`qrv gpt -l IMAGE...`: the images' tables listed as ``sfdisk -l`` prints them.

Per image: the disk line, units, sector size, label type and identifier, then
one row per partition (Device, Start, End, Sectors, Size, Type) in columns as
wide as their widest cell, numbers right-aligned; a type without a name is
``unknown``, as sfdisk prints it (the QRV type is named ``QRV``, which sfdisk
does not know).  Problems follow the rows.
"""

from __future__ import annotations

import uuid

from qrv.lib.gpt import GptTable

SUFFIXES = "BKMGTPE"
COLUMNS = ("Device", "Start", "End", "Sectors", "Size", "Type")
RIGHT = {"Start", "End", "Sectors", "Size"}
SFDISK_NAMES = {uuid.UUID("48465300-0000-11aa-aa11-00306543ecac"): "Apple HFS/HFS+"}


def human(nbytes: int, *, long: bool = False) -> str:
    """util-linux's size_to_human_string: ``16M``/``1.5G``, or ``16 MiB`` when `long`."""
    exp = 0
    while exp < 60 and nbytes >= 1 << (exp + 10):
        exp += 10
    dec, frac = (nbytes >> exp, nbytes % (1 << exp)) if exp else (nbytes, 0)
    if frac:
        frac = (frac // (1 << (exp - 10)) + 50) // 100
        if frac == 10:
            dec, frac = dec + 1, 0
    letter = SUFFIXES[exp // 10]
    suffix = (f" {letter}iB" if exp else " B") if long else letter
    return f"{dec}.{frac}{suffix}" if frac else f"{dec}{suffix}"


def type_text(table: GptTable, index: int) -> str:
    p = next(q for q in table.partitions if q.index == index)
    return SFDISK_NAMES.get(p.type_guid) or p.type_name or "unknown"


def listing(image: str, table: GptTable) -> list[str]:
    size = table.num_lbas * table.lba_size
    lines = [
        f"Disk {image}: {human(size, long=True)}, {size} bytes, {table.num_lbas} sectors",
        f"Units: sectors of 1 * {table.lba_size} = {table.lba_size} bytes",
        f"Sector size (logical/physical): {table.lba_size} bytes / {table.lba_size} bytes",
        f"I/O size (minimum/optimal): {table.lba_size} bytes / {table.lba_size} bytes",
        "Disklabel type: gpt",
        f"Disk identifier: {str(table.disk_guid).upper()}",
    ]
    rows = [
        (
            f"{image}{p.index}",
            str(p.start_lba),
            str(p.end_lba),
            str(p.num_lbas),
            human(p.num_lbas * table.lba_size) if p.num_lbas > 0 else "0B",
            type_text(table, p.index),
        )
        for p in table.partitions
    ]
    if rows:
        widths = [max(len(c) for c in col) for col in zip(COLUMNS, *rows, strict=False)]
        lines.append("")
        for row in (COLUMNS, *rows):
            cells = [
                cell.rjust(w) if name in RIGHT else cell.ljust(w)
                for name, cell, w in zip(COLUMNS, row, widths, strict=True)
            ]
            lines.append(" ".join(cells).rstrip())
    starts = [p.start_lba for p in table.partitions]
    if starts != sorted(starts):
        lines += ["", "Partition table entries are not in disk order."]
    if table.issues:
        lines += ["", f"Problems ({len(table.issues)}):"]
        lines += [f"  - {issue.message}" for issue in table.issues]
    return lines

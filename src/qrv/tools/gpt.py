"""`qrv gpt [-l] [--json] [--lba-size N] IMAGE...`: print and verify the GPT of
images or block-device files.

``-l`` lists each image as ``sfdisk -l`` does (:mod:`qrv.tools.gptlist`).
``--json`` prints one object per image (a list when there are several, or with
``-l``); an image without a usable table is an ``{"error": ...}`` object.
Each partition's object has ``size`` (sectors), ``bytes`` and ``type_name``.

Exit status (the worst over the images): 0 clean; 1 a table was read but
problems were found; 2 no usable table, or a usage error (missing or empty
file, not a GPT).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qrv.errors import QrvError, UsageError
from qrv.lib.gpt import (
    LBA_SIZES,
    GptErr,
    GptIssue,
    GptParseError,
    GptTable,
    detect_lba_size,
    gpt_parse,
)
from qrv.tools.gptlist import listing
from qrv.tools.imagefile import ImageFile
from qrv.tools.output import print_out

EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2
DEFAULT_LBA_SIZE = 512
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_UNIT_STEP = 1024


def human_size(nbytes: int) -> str:
    """16777216 -> '16 MiB'; 1536 -> '1.5 KiB'."""
    value = float(nbytes)
    for unit in _UNITS:
        if value < _UNIT_STEP or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
        value /= _UNIT_STEP
    raise AssertionError("unreachable")


def printable(text: str) -> str:
    """A name safe to print on one terminal line (control characters escaped)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def partition_line(table: GptTable, index: int) -> str:
    """``p1: LBA 34..32801 (16 MiB) type=... name="..."`` as devb-nvme prints it."""
    p = next(q for q in table.partitions if q.index == index)
    size = human_size(p.num_lbas * table.lba_size) if p.num_lbas > 0 else "invalid"
    return (
        f"p{p.index}: LBA {p.start_lba}..{p.end_lba} ({size}) type={p.type_guid} "
        f'name="{printable(p.name)}"'
    )


def print_partition_lines(table: GptTable) -> None:
    for p in table.partitions:
        print_out("  " + partition_line(table, p.index))


def table_json(table: GptTable) -> dict[str, Any]:
    """The --json object of issue 2 (plus num_lbas)."""
    return {
        "lba_size": table.lba_size,
        "num_lbas": table.num_lbas,
        "disk_guid": str(table.disk_guid),
        "first_usable_lba": table.first_usable_lba,
        "last_usable_lba": table.last_usable_lba,
        "header": table.header,
        "problems": table.problems,
        "partitions": [
            {
                "index": p.index,
                "start_lba": p.start_lba,
                "end_lba": p.end_lba,
                "size": p.num_lbas,
                "bytes": p.num_lbas * table.lba_size,
                "type_guid": str(p.type_guid),
                "type_name": p.type_name,
                "part_guid": str(p.part_guid),
                "attributes": p.attributes,
                "name": p.name,
            }
            for p in table.partitions
        ],
    }


def table_text(image: str, table: GptTable) -> list[str]:
    """The human listing: summary, one row per partition, then the problems."""
    lines = [
        f"{image}: GPT ({table.header} header at LBA {table.header_lba}), "
        f"{table.num_lbas} LBAs of {table.lba_size} B "
        f"({human_size(table.num_lbas * table.lba_size)})",
        f"disk GUID {table.disk_guid}, usable LBAs "
        f"{table.first_usable_lba}..{table.last_usable_lba}, "
        f"{table.num_entries} entries of {table.entry_size} B",
        "",
        f"{'#':>3} {'start':>12} {'end':>12} {'size':>10}  {'type':<56} name",
    ]
    for p in table.partitions:
        size = human_size(p.num_lbas * table.lba_size) if p.num_lbas > 0 else "-"
        kind = f"{p.type_guid} {p.type_name or ''}".rstrip()
        lines.append(
            f"{p.index:>3} {p.start_lba:>12} {p.end_lba:>12} {size:>10}  {kind:<56} "
            f"{printable(p.name)}"
        )
        if p.attributes:
            names = " ".join(p.attribute_names)
            lines.append(f"{'':>3} attributes 0x{p.attributes:016x}: {names}")
    if not table.partitions:
        lines.append("    (no partitions)")
    if table.issues:
        lines += ["", f"problems ({len(table.issues)}):"]
        lines += [f"  - {issue.message}" for issue in table.issues]
    return lines


def read_table(path: Path, lba_size: int | None = None) -> GptTable:
    """Open an image read-only and parse its GPT (LBA size detected unless given)."""
    with ImageFile.open_for_read(path) as image:
        if lba_size is None:
            lba_size = detect_lba_size(image.read, image.size_bytes) or DEFAULT_LBA_SIZE
        num_lbas, tail = divmod(image.size_bytes, lba_size)
        table = gpt_parse(image.read_lba_for(lba_size), lba_size, num_lbas)
    if tail:
        issue = GptIssue(
            GptErr.GPT_ERR_BAD_GEOMETRY,
            f"image is {image.size_bytes} bytes, not a whole number of {lba_size}-byte LBAs: "
            f"its last {tail} bytes are outside every LBA (qrv emu refuses such an image)",
        )
        table = dataclasses.replace(table, issues=(*table.issues, issue))
    return table


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (try 'qrv gpt --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="qrv gpt",
        description="Print and verify the GPT of images or block device files.",
        epilog="exit status: 0 clean, 1 problems found, 2 no usable table or usage error",
    )
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("-l", "--list", action="store_true", help="list as sfdisk -l does")
    p.add_argument("--json", action="store_true", help="print JSON (one object per image)")
    p.add_argument("--lba-size", type=int, choices=LBA_SIZES, help="default: detected")
    return p


def _one(image: str, lba_size: int | None) -> tuple[int, GptTable | str]:
    """(exit status, the table or the error line) of one image."""
    try:
        table = read_table(Path(image), lba_size)
    except GptParseError as exc:
        return EXIT_UNUSABLE, f"{exc.code.name}: {exc}"
    except QrvError as exc:
        return EXIT_UNUSABLE, str(exc)
    return (EXIT_PROBLEMS if table.issues else EXIT_CLEAN), table


def _json(image: str, result: GptTable | str) -> dict[str, Any]:
    if isinstance(result, str):
        return {"image": image, "error": result}
    return {"image": image, **table_json(result)}


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as done:  # --help
        return int(done.code or 0)
    results = [(image, *_one(image, args.lba_size)) for image in args.images]
    if args.json:
        docs = [_json(image, result) for image, _, result in results]
        many = args.list or len(docs) > 1
        print_out(json.dumps(docs if many else docs[0], indent=2, ensure_ascii=False))
    else:
        blocks = []
        for image, _, result in results:
            if isinstance(result, str):
                print(f"qrv gpt: {result}", file=sys.stderr)
            else:
                blocks.append(listing(image, result) if args.list else table_text(image, result))
        if blocks:
            print_out("\n\n".join("\n".join(b) for b in blocks))
    return max(status for _, status, _ in results)

"""`qrv fsck [--partition N] [--json] [--repair] IMAGE`: check a qrvfs.

One line per problem on stdout, then a summary.  Exit status: 0 clean; 1
problems found (and fixed, with --repair); 2 no usable filesystem or a usage
error."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qrv.errors import QrvError
from qrv.lib.qrvfs.check import CheckReport, check
from qrv.tools.fsargs import ToolParser
from qrv.tools.fsimage import FsImage

EXIT_CLEAN = 0
EXIT_PROBLEMS = 1
EXIT_UNUSABLE = 2


def report_json(image: str, report: CheckReport) -> dict[str, Any]:
    return {
        "image": image,
        "clean": not report.problems,
        "repaired": report.repaired,
        "problems": report.problems,
        "superblock": report.superblock.as_dict(),
        "files": report.files,
        "directories": report.directories,
        "symlinks": report.symlinks,
        "used_blocks": report.used_blocks,
    }


def summary(label: str, report: CheckReport) -> str:
    sb = report.superblock
    counts = (
        f"{report.files} files, {report.directories} directories, {report.symlinks} symlinks, "
        f"{report.used_blocks}/{sb.nblocks} data blocks"
    )
    if not report.problems:
        return f"{label}: clean, {counts}"
    state = "repaired" if report.repaired else "found"
    return f"{label}: {len(report.problems)} problem(s) {state}, {counts}"


def _parser() -> ToolParser:
    p = ToolParser(
        prog="qrv fsck",
        description="Check (and with --repair fix) the qrvfs of IMAGE or its GPT partition N.",
        epilog="exit status: 0 clean, 1 problems found (repaired with --repair), "
        "2 no usable filesystem or usage error",
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("--partition", type=int, metavar="N")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repair", action="store_true", help="fix what is found")
    return p


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as done:
        return int(done.code or 0)
    except QrvError as exc:
        print(f"qrv fsck: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    try:
        with FsImage(Path(args.image), writable=args.repair, partition=args.partition) as image:
            report = check(image.device, repair=args.repair)
            label = image.label
    except QrvError as exc:
        print(f"qrv fsck: {args.image}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    if args.json:
        print(json.dumps(report_json(args.image, report), indent=2, ensure_ascii=False))
    else:
        for problem in report.problems:
            print(f"{label}: {problem}")
        print(summary(label, report))
    return EXIT_PROBLEMS if report.problems else EXIT_CLEAN

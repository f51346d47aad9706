"""`qrv mkgpt [--qrv N] IMAGE SIZE_MIB...`: write a GPT to an image file.

Same usage and layout as the seed's scripts/mkgpt.py (partitions back to back
from the first usable LBA, Linux filesystem data type, names qrv-test-pN;
``--qrv N`` makes partition N type QRV named "qrv"), but it writes both copies
of the table in the crash-safe order, so sgdisk and sfdisk accept the image.
"""

from __future__ import annotations

import argparse
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qrv.errors import UsageError
from qrv.lib.gpt import (
    LBA_SIZES,
    GptGeometry,
    GptTable,
    PartitionSpec,
    build_gpt,
    gpt_parse,
    place_partitions,
)
from qrv.spec.gpt import LINUX_FILESYSTEM_GUID, QRV_GUID, TYPE_ALIASES
from qrv.tools.gpt import print_partition_lines
from qrv.tools.imagefile import ImageFile, parse_size
from qrv.tools.output import print_out

MIB = 1 << 20
QRV_NAME = "qrv"
SEED_IMAGE_MIB = 64
SEED_PART_MIB = (16, 16)

HELP_EPILOG = """\
Each SIZE_MIB may be SIZE[:TYPE[:NAME]]: TYPE is a GUID or one of
{aliases}
(empty = linux); NAME defaults to qrv-test-pN.
IMAGE must exist unless --size is given (then it is created, or grown; never
shrunk).  mkgpt refuses an image that already holds a partition table or
non-zero data where the table goes, unless --force.""".format(aliases=", ".join(TYPE_ALIASES))


@dataclass(frozen=True)
class PartRequest:
    """One SIZE_MIB argument: size and optional explicit type and name."""

    size_mib: int
    type_guid: uuid.UUID | None = None
    name: str | None = None


def parse_part_arg(text: str) -> PartRequest:
    """``SIZE[:TYPE[:NAME]]`` (the name may itself contain colons)."""
    size_text, _, rest = text.partition(":")
    type_text, _, name = rest.partition(":")
    try:
        size = int(size_text)
    except ValueError:
        raise UsageError(f"partition size {size_text!r} is not a whole number of MiB") from None
    if size < 1:
        raise UsageError(f"partition size {size} MiB must be at least 1")
    type_guid: uuid.UUID | None = None
    if type_text:
        type_guid = TYPE_ALIASES.get(type_text.lower())
        if type_guid is None:
            try:
                type_guid = uuid.UUID(type_text)
            except ValueError:
                raise UsageError(
                    f"partition type {type_text!r} is neither a GUID nor one of "
                    f"{', '.join(TYPE_ALIASES)}"
                ) from None
    return PartRequest(size, type_guid, name if ":" in rest else None)


def _specs(
    requests: Sequence[PartRequest], ranges: Sequence[tuple[int, int]], qrv: int | None
) -> list[PartitionSpec | None]:
    specs: list[PartitionSpec | None] = []
    for i, (req, (start, end)) in enumerate(zip(requests, ranges, strict=True), start=1):
        type_guid = req.type_guid or LINUX_FILESYSTEM_GUID
        name = req.name if req.name is not None else f"qrv-test-p{i}"
        if qrv == i:
            if req.type_guid is not None or req.name is not None:
                raise UsageError(f"--qrv {i} conflicts with the type/name given for partition {i}")
            type_guid, name = QRV_GUID, QRV_NAME
        specs.append(PartitionSpec(start, end, type_guid, uuid.uuid4(), name))
    return specs


def write_gpt(
    path: str | os.PathLike[str],
    parts: Sequence[int | PartRequest],
    *,
    lba_size: int = 512,
    align_mib: int = 0,
    size_bytes: int | None = None,
    qrv: int | None = None,
    force: bool = False,
    disk_guid: uuid.UUID | None = None,
) -> GptTable:
    """Write a new GPT (both copies) to ``path`` and return the table read back.

    ``parts`` are sizes in MiB (or PartRequests).  With ``size_bytes`` the file is
    created or grown to that size first.  Everything is checked before the first
    byte is written.  Raises UsageError / GptLayoutError (both QrvError).
    """
    requests = [p if isinstance(p, PartRequest) else PartRequest(p) for p in parts]
    if not requests:
        raise UsageError("no partitions given")
    if lba_size not in LBA_SIZES:
        raise UsageError(f"LBA size {lba_size} unsupported, expected 512 or 4096")
    if align_mib < 0:
        raise UsageError(f"--align-mib {align_mib} must not be negative")
    if qrv is not None and not 1 <= qrv <= len(requests):
        raise UsageError(
            f"--qrv {qrv}: N must be between 1 and the number of partitions ({len(requests)})"
        )
    with ImageFile.open_for_write(Path(path), size_bytes, lba_size) as image:
        geometry = GptGeometry.for_disk(image.size_bytes // lba_size, lba_size)
        align = max(1, align_mib * MIB // lba_size)
        ranges = place_partitions(geometry, [r.size_mib * MIB // lba_size for r in requests], align)
        writes = build_gpt(geometry, _specs(requests, ranges, qrv), disk_guid or uuid.uuid4())
        if not force:
            image.refuse_if_in_use(writes, lba_size)
        image.commit(writes, lba_size)
        return gpt_parse(image.read_lba_for(lba_size), lba_size, geometry.num_lbas)


def create_seed_image(
    path: str | os.PathLike[str],
    size_mib: int = SEED_IMAGE_MIB,
    part_mib: Sequence[int] = SEED_PART_MIB,
    *,
    lba_size: int = 512,
) -> GptTable:
    """The seed's NVMe image: a new ``size_mib`` file, as `qrv mkgpt IMAGE 16 16`."""
    return write_gpt(path, list(part_mib), size_bytes=size_mib * MIB, lba_size=lba_size)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (try 'qrv mkgpt --help')")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="qrv mkgpt",
        description="Write a GPT with partitions back to back to IMAGE.",
        epilog=HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("parts", metavar="SIZE_MIB", nargs="+", type=parse_part_arg)
    p.add_argument("--qrv", type=int, metavar="N", help="give partition N the QRV type, name qrv")
    p.add_argument("--lba-size", type=int, choices=LBA_SIZES, default=512, help="default 512")
    p.add_argument(
        "--align-mib",
        type=int,
        default=0,
        metavar="N",
        help="start partitions on N MiB boundaries (default: back to back)",
    )
    p.add_argument(
        "--size",
        type=parse_size,
        metavar="SIZE",
        help="create or grow IMAGE to SIZE bytes (suffixes K, M, G, T: binary)",
    )
    p.add_argument("--disk-guid", type=uuid.UUID, metavar="GUID", help="default: random")
    p.add_argument("--force", action="store_true", help="overwrite an existing table or data")
    return p


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as done:  # --help
        return int(done.code or 0)
    table = write_gpt(
        args.image,
        args.parts,
        lba_size=args.lba_size,
        align_mib=args.align_mib,
        size_bytes=args.size,
        qrv=args.qrv,
        force=args.force,
        disk_guid=args.disk_guid,
    )
    print_out(
        f"{args.image}: GPT written, {len(table.partitions)} partition(s), "
        f"{table.num_lbas} LBAs of {table.lba_size} B, disk GUID {table.disk_guid}"
    )
    print_partition_lines(table)
    return 0

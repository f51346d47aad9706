"""`qrv mkgpt [--qrv N] IMAGE SIZE_MIB...`: write a GPT to an image file.

Same usage and layout as the seed's scripts/mkgpt.py (partitions back to back
from the first usable LBA, Linux filesystem data type, names qrv-test-pN;
``--qrv N`` makes partition N type QRV named "qrv"), but it writes both copies
of the table in the crash-safe order, so sgdisk and sfdisk accept the image.
The last SIZE may be ``-``: the rest of the disk.  TYPE is a GUID, an alias or
an sgdisk type code (``8300``, ``ef00``, ...); ``--guid N=GUID`` and
``--attrs N=FLAGS`` set partition N's unique GUID and attribute bits.
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
from qrv.spec.gpt import (
    ATTR_NAMES,
    LINUX_FILESYSTEM_GUID,
    QRV_GUID,
    SGDISK_CODES,
    TYPE_ALIASES,
)
from qrv.tools.gpt import print_partition_lines
from qrv.tools.imagefile import ImageFile, parse_size
from qrv.tools.output import print_out

MIB = 1 << 20
QRV_NAME = "qrv"
SEED_IMAGE_MIB = 64
SEED_PART_MIB = (16, 16)

HELP_EPILOG = """\
Each SIZE_MIB may be SIZE[:TYPE[:NAME]]; the last SIZE may be - (the rest of the
disk).  TYPE is a GUID, an sgdisk code ({codes}) or one of
{aliases}
(empty = linux); NAME defaults to qrv-test-pN.
--guid N=GUID sets partition N's unique GUID (default random); --attrs N=FLAGS
its attribute bits: a comma list of {attrs} or bit numbers 0..63, or 0xHEX.
IMAGE must exist unless --size is given (then it is created, or grown; never
shrunk).  mkgpt refuses an image that already holds a partition table or
non-zero data where the table goes, unless --force.""".format(
    aliases=", ".join(TYPE_ALIASES),
    codes=", ".join(SGDISK_CODES),
    attrs=", ".join(ATTR_NAMES.values()),
)
REST = "-"
REST_ARG = "\0"  # "-:TYPE" as argparse sees it (an argument starting with - is an option)
ATTR_BITS = 64


@dataclass(frozen=True)
class PartRequest:
    """One SIZE_MIB argument: size and optional explicit type and name."""

    size_mib: int | None  # None: the rest of the disk
    type_guid: uuid.UUID | None = None
    name: str | None = None


def parse_part_arg(text: str) -> PartRequest:
    """``SIZE[:TYPE[:NAME]]`` (the name may itself contain colons)."""
    size_text, _, rest = text.partition(":")
    type_text, _, name = rest.partition(":")
    size: int | None = None
    if size_text not in (REST, REST_ARG):
        try:
            size = int(size_text)
        except ValueError:
            raise UsageError(
                f"partition size {size_text!r} is not a whole number of MiB (or - for the rest)"
            ) from None
        if size < 1:
            raise UsageError(f"partition size {size} MiB must be at least 1")
    type_guid: uuid.UUID | None = None
    if type_text:
        type_guid = TYPE_ALIASES.get(type_text.lower()) or SGDISK_CODES.get(type_text.lower())
        if type_guid is None:
            try:
                type_guid = uuid.UUID(type_text)
            except ValueError:
                raise UsageError(
                    f"partition type {type_text!r} is neither a GUID, an sgdisk code "
                    f"({', '.join(SGDISK_CODES)}) nor one of {', '.join(TYPE_ALIASES)}"
                ) from None
    return PartRequest(size, type_guid, name if ":" in rest else None)


def parse_attrs(text: str) -> int:
    """``required,62`` / ``0x1000000000000004``: attribute names, bit numbers or a mask."""
    if text.lower().startswith("0x"):
        try:
            value = int(text, 16)
        except ValueError:
            raise UsageError(f"attribute mask {text!r} is not hexadecimal") from None
        if not 0 <= value < 1 << ATTR_BITS:
            raise UsageError(f"attribute mask {text!r} does not fit in {ATTR_BITS} bits")
        return value
    by_name = {name: int(bit) for bit, name in ATTR_NAMES.items()}
    value = 0
    for item in filter(None, text.split(",")):
        if item in by_name:
            value |= by_name[item]
        elif item.isdigit() and int(item) < ATTR_BITS:
            value |= 1 << int(item)
        else:
            raise UsageError(
                f"attribute {item!r} is neither a bit number 0..63 nor one of "
                f"{', '.join(ATTR_NAMES.values())}"
            )
    return value


def parse_guid_arg(text: str) -> tuple[int, uuid.UUID]:
    """``N=GUID`` (--guid)."""
    index, guid = _numbered(text, "--guid")
    try:
        return index, uuid.UUID(guid)
    except ValueError:
        raise UsageError(f"--guid {text}: {guid!r} is not a GUID") from None


def parse_attrs_arg(text: str) -> tuple[int, int]:
    """``N=FLAGS`` (--attrs)."""
    index, flags = _numbered(text, "--attrs")
    return index, parse_attrs(flags)


def _numbered(text: str, option: str) -> tuple[int, str]:
    number, sep, value = text.partition("=")
    if not sep or not number.isdigit() or int(number) < 1:
        raise UsageError(f"{option} {text}: expected N=VALUE with N a partition number")
    return int(number), value


@dataclass(frozen=True)
class PartExtras:
    """Per-partition settings given by number: unique GUIDs and attribute bits."""

    guids: dict[int, uuid.UUID]
    attrs: dict[int, int]


def _sizes(requests: Sequence[PartRequest]) -> list[int | None]:
    for i, req in enumerate(requests[:-1], start=1):
        if req.size_mib is None:
            raise UsageError(f"partition {i}: only the last partition may take the rest (-)")
    return [r.size_mib for r in requests]


def _place(
    geometry: GptGeometry, sizes_mib: Sequence[int | None], align: int, lba_size: int
) -> list[tuple[int, int]]:
    """The ranges; a last size None takes every LBA from its start to the last usable."""
    lbas = [1 if s is None else s * MIB // lba_size for s in sizes_mib]
    ranges = place_partitions(geometry, lbas, align)
    if sizes_mib and sizes_mib[-1] is None:
        ranges[-1] = (ranges[-1][0], geometry.last_usable_lba)
    return ranges


def _specs(
    requests: Sequence[PartRequest],
    ranges: Sequence[tuple[int, int]],
    qrv: int | None,
    extras: PartExtras,
) -> list[PartitionSpec | None]:
    for option, given in (("--guid", extras.guids), ("--attrs", extras.attrs)):
        beyond = [n for n in given if n > len(requests)]
        if beyond:
            raise UsageError(f"{option} {beyond[0]}: there are {len(requests)} partition(s)")
    specs: list[PartitionSpec | None] = []
    for i, (req, (start, end)) in enumerate(zip(requests, ranges, strict=True), start=1):
        type_guid = req.type_guid or LINUX_FILESYSTEM_GUID
        name = req.name if req.name is not None else f"qrv-test-p{i}"
        if qrv == i:
            if req.type_guid is not None or req.name is not None:
                raise UsageError(f"--qrv {i} conflicts with the type/name given for partition {i}")
            type_guid, name = QRV_GUID, QRV_NAME
        guid = extras.guids.get(i) or uuid.uuid4()
        specs.append(PartitionSpec(start, end, type_guid, guid, name, extras.attrs.get(i, 0)))
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
    extras: PartExtras | None = None,
) -> GptTable:
    """Write a new GPT (both copies) to ``path`` and return the table read back.

    ``parts`` are sizes in MiB (or PartRequests).  With ``size_bytes`` the file is
    created or grown to that size first.  Everything is checked before the first
    byte is written.  Raises UsageError / GptLayoutError (both QrvError).
    """
    requests = [p if isinstance(p, PartRequest) else PartRequest(p) for p in parts]
    if not requests:
        raise UsageError("no partitions given")
    sizes = _sizes(requests)
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
        ranges = _place(geometry, sizes, align, lba_size)
        specs = _specs(requests, ranges, qrv, extras or PartExtras({}, {}))
        writes = build_gpt(geometry, specs, disk_guid or uuid.uuid4())
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
    p.add_argument(
        "--guid",
        type=parse_guid_arg,
        action="append",
        default=[],
        metavar="N=GUID",
        help="partition N's unique GUID (default: random)",
    )
    p.add_argument(
        "--attrs",
        type=parse_attrs_arg,
        action="append",
        default=[],
        metavar="N=FLAGS",
        help="partition N's attribute bits (names, bit numbers or 0xHEX)",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing table or data")
    return p


def main(argv: Sequence[str]) -> int:
    argv = [REST_ARG + a[1:] if a.startswith(REST + ":") else a for a in argv]
    try:
        args = _parser().parse_args(argv)
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
        extras=PartExtras(dict(args.guid), dict(args.attrs)),
    )
    print_out(
        f"{args.image}: GPT written, {len(table.partitions)} partition(s), "
        f"{table.num_lbas} LBAs of {table.lba_size} B, disk GUID {table.disk_guid}"
    )
    print_partition_lines(table)
    return 0

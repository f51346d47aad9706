"""Building a GPT: geometry of a new table, partition placement, and the sector
images to write in the crash-safe order (UEFI 5.3.2; as util-linux and gptfdisk):
backup array, backup header, primary array, primary header, protective MBR.

Pure functions: the caller writes the returned (lba, bytes) pairs.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qrv.lib.gpt.errors import GptLayoutError
from qrv.lib.gpt.names import encode_name
from qrv.lib.gpt.parse import LBA_SIZES
from qrv.spec.gpt import (
    GPT_DEFAULT_ENTRIES,
    GPT_ENTRY_SIZE,
    GPT_HEADER_SIZE,
    GPT_MAX_ARRAY_BYTES,
    GPT_REVISION_1_0,
    GPT_SIGNATURE,
    PRIMARY_HEADER_LBA,
    UNUSED_GUID,
    GptEntry,
    GptHeader,
    array_lbas,
    crc32,
    header_crc,
    pack_protective_mbr,
)

PRIMARY_ARRAY_LBA = 2  # right after the primary header
ATTRIBUTES_MAX = (1 << 64) - 1

Write = tuple[int, bytes]  # (lba, whole sectors)


@dataclass(frozen=True)
class GptGeometry:
    """Where a new table's structures go on a disk of ``num_lbas`` LBAs."""

    lba_size: int
    num_lbas: int
    num_entries: int
    entry_size: int
    array_lbas: int
    first_usable_lba: int
    last_usable_lba: int
    backup_array_lba: int
    backup_header_lba: int

    @classmethod
    def for_disk(
        cls,
        num_lbas: int,
        lba_size: int,
        num_entries: int = GPT_DEFAULT_ENTRIES,
        entry_size: int = GPT_ENTRY_SIZE,
    ) -> GptGeometry:
        """The standard layout: array at LBA 2, usable space between the two arrays."""
        if lba_size not in LBA_SIZES:
            raise GptLayoutError(f"LBA size {lba_size} unsupported, expected 512 or 4096")
        multiple = entry_size // GPT_ENTRY_SIZE
        if entry_size % GPT_ENTRY_SIZE or multiple < 1 or multiple & (multiple - 1):
            raise GptLayoutError(f"entry size {entry_size} is not 128 * 2^n")
        if not 0 < num_entries * entry_size <= GPT_MAX_ARRAY_BYTES:
            raise GptLayoutError(f"{num_entries} entries of {entry_size} bytes is out of range")
        n = array_lbas(num_entries, entry_size, lba_size)
        first = PRIMARY_ARRAY_LBA + n
        backup_header = num_lbas - 1
        backup_array = backup_header - n
        last = backup_array - 1
        if last < first:
            raise GptLayoutError(
                f"disk of {num_lbas} LBAs of {lba_size} bytes is too small for a GPT "
                f"(needs at least {2 * first + 1 - PRIMARY_HEADER_LBA})"
            )
        return cls(
            lba_size=lba_size,
            num_lbas=num_lbas,
            num_entries=num_entries,
            entry_size=entry_size,
            array_lbas=n,
            first_usable_lba=first,
            last_usable_lba=last,
            backup_array_lba=backup_array,
            backup_header_lba=backup_header,
        )


@dataclass(frozen=True)
class PartitionSpec:
    """A partition to write; ``end_lba`` is inclusive."""

    start_lba: int
    end_lba: int
    type_guid: uuid.UUID
    part_guid: uuid.UUID
    name: str = ""
    attributes: int = 0


def place_partitions(
    geometry: GptGeometry, sizes_lbas: Sequence[int], align_lbas: int = 1
) -> list[tuple[int, int]]:
    """Back-to-back (start, end) ranges from the first usable LBA, each start
    rounded up to a multiple of ``align_lbas``; refuse what does not fit."""
    if align_lbas < 1:
        raise GptLayoutError(f"alignment {align_lbas} LBAs must be at least 1")
    ranges = []
    next_lba = geometry.first_usable_lba
    for i, size in enumerate(sizes_lbas, start=1):
        if size < 1:
            raise GptLayoutError(f"partition {i} size must be at least one LBA")
        start = -(-next_lba // align_lbas) * align_lbas
        end = start + size - 1
        if end > geometry.last_usable_lba:
            raise GptLayoutError(
                f"partition {i} (LBA {start}..{end}) does not fit: the last usable LBA of a "
                f"{geometry.num_lbas}-LBA disk is {geometry.last_usable_lba}"
            )
        ranges.append((start, end))
        next_lba = end + 1
    return ranges


def _check_specs(geometry: GptGeometry, slots: Sequence[PartitionSpec | None]) -> None:
    if len(slots) > geometry.num_entries:
        raise GptLayoutError(
            f"{len(slots)} partitions but the table has {geometry.num_entries} entries"
        )
    used = sorted(
        ((s.start_lba, s.end_lba, i) for i, s in enumerate(slots, 1) if s is not None),
    )
    for start, end, index in used:
        if not geometry.first_usable_lba <= start <= end <= geometry.last_usable_lba:
            raise GptLayoutError(
                f"partition {index} (LBA {start}..{end}) is outside the usable range "
                f"{geometry.first_usable_lba}..{geometry.last_usable_lba}"
            )
    for (s1, e1, i1), (s2, e2, i2) in itertools.pairwise(used):
        if s2 <= e1:
            raise GptLayoutError(
                f"partition {i1} (LBA {s1}..{e1}) overlaps partition {i2} (LBA {s2}..{e2})"
            )
    for i, spec in enumerate(slots, 1):
        if spec is None:
            continue
        if spec.type_guid == UNUSED_GUID:
            raise GptLayoutError(f"partition {i} has the all-zero (unused) type GUID")
        if not 0 <= spec.attributes <= ATTRIBUTES_MAX:
            raise GptLayoutError(f"partition {i} attributes do not fit in 64 bits")


def entry_array(geometry: GptGeometry, slots: Sequence[PartitionSpec | None]) -> bytes:
    """The entry array, ``num_entries * entry_size`` bytes; None slots stay unused."""
    _check_specs(geometry, slots)
    out = bytearray(geometry.num_entries * geometry.entry_size)
    for i, spec in enumerate(slots):
        if spec is None:
            continue
        entry = GptEntry(
            type_guid=spec.type_guid.bytes_le,
            part_guid=spec.part_guid.bytes_le,
            starting_lba=spec.start_lba,
            ending_lba=spec.end_lba,
            attributes=spec.attributes,
            name=encode_name(spec.name),
        )
        offset = i * geometry.entry_size
        out[offset : offset + GPT_ENTRY_SIZE] = entry.pack()
    return bytes(out)


def _header_sector(header: GptHeader, lba_size: int) -> bytes:
    raw = header.pack()
    sealed = replace(header, header_crc32=header_crc(raw, GPT_HEADER_SIZE)).pack()
    return sealed.ljust(lba_size, b"\x00")


def build_gpt(
    geometry: GptGeometry, slots: Sequence[PartitionSpec | None], disk_guid: uuid.UUID
) -> list[Write]:
    """All sectors of a new GPT, in the crash-safe write order."""
    array = entry_array(geometry, slots)
    array_sectors = array.ljust(geometry.array_lbas * geometry.lba_size, b"\x00")
    primary = GptHeader(
        signature=GPT_SIGNATURE,
        revision=GPT_REVISION_1_0,
        header_size=GPT_HEADER_SIZE,
        header_crc32=0,
        reserved=0,
        my_lba=PRIMARY_HEADER_LBA,
        alternate_lba=geometry.backup_header_lba,
        first_usable_lba=geometry.first_usable_lba,
        last_usable_lba=geometry.last_usable_lba,
        disk_guid=disk_guid.bytes_le,
        partition_entry_lba=PRIMARY_ARRAY_LBA,
        num_partition_entries=geometry.num_entries,
        size_of_partition_entry=geometry.entry_size,
        partition_entry_array_crc32=crc32(array),
    )
    backup = replace(
        primary,
        my_lba=geometry.backup_header_lba,
        alternate_lba=PRIMARY_HEADER_LBA,
        partition_entry_lba=geometry.backup_array_lba,
    )
    return [
        (geometry.backup_array_lba, array_sectors),
        (geometry.backup_header_lba, _header_sector(backup, geometry.lba_size)),
        (PRIMARY_ARRAY_LBA, array_sectors),
        (PRIMARY_HEADER_LBA, _header_sector(primary, geometry.lba_size)),
        (0, pack_protective_mbr(geometry.num_lbas, geometry.lba_size)),
    ]


def apply_writes(image: bytearray, writes: Sequence[Write], lba_size: int) -> None:
    """Copy the writes into an in-memory disk image (tests, the built-in NVMe disk)."""
    for lba, data in writes:
        image[lba * lba_size : lba * lba_size + len(data)] = data

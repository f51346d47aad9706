"""gpt_parse: a strict GPT reader over a caller-supplied read_lba callback.

The library does no I/O of its own.  It reads LBA 0..1 (protective MBR and
primary header) in one call, each entry array in one call, and the backup
header: four or five calls for a whole disk.  Checks follow UEFI 2.10 5.3.2
("GPT Header" validity rules) in the order the issue lists them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from qrv.lib.gpt.checks import check_partitions, check_protective_mbr
from qrv.lib.gpt.errors import GptErr, GptIssue, GptParseError
from qrv.lib.gpt.header import check_header, fail
from qrv.lib.gpt.names import decode_name
from qrv.lib.gpt.table import GptPartition, GptTable, HeaderCopy
from qrv.spec.gpt import (
    GPT_ENTRY,
    GPT_HEADER_SIZE,
    GPT_SIGNATURE,
    MBR_SIZE,
    PRIMARY_HEADER_LBA,
    GptEntry,
    GptHeader,
    array_lbas,
    crc32,
    header_crc,
)

ReadLba = Callable[[int, int], bytes]
LBA_SIZES = (512, 4096)  # the logical block sizes qrv supports (issue 2)
MIN_DISK_LBAS = 3  # MBR, primary header and at least one more LBA


@dataclass(frozen=True)
class _Copy:
    """One header copy that passed every check, with its entry array."""

    header: GptHeader
    lba: int
    array: bytes


class _Reader:
    """Wraps read_lba: any failure or short read becomes GPT_ERR_READ."""

    def __init__(self, read_lba: ReadLba, lba_size: int) -> None:
        self._read_lba = read_lba
        self._lba_size = lba_size

    def read(self, lba: int, count: int) -> bytes:
        want = count * self._lba_size
        where = f"LBA {lba}" if count == 1 else f"LBAs {lba}..{lba + count - 1}"
        try:
            data = self._read_lba(lba, count)
        except Exception as exc:  # the callback's failure is a read error, whatever it is
            raise GptParseError(GptErr.GPT_ERR_READ, f"reading {where} failed: {exc}") from exc
        if not isinstance(data, bytes | bytearray | memoryview):
            raise GptParseError(
                GptErr.GPT_ERR_READ,
                f"reading {where} returned {type(data).__name__}, expected bytes",
            )
        if len(data) < want:
            raise GptParseError(
                GptErr.GPT_ERR_READ,
                f"short read at {where}: got {len(data)} bytes, expected {want}",
            )
        return bytes(data[:want])


def _read_copy(reader: _Reader, raw: bytes, lba: int, lba_size: int, num_lbas: int) -> _Copy:
    hdr = check_header(raw, lba, lba_size, num_lbas)
    count = array_lbas(hdr.num_partition_entries, hdr.size_of_partition_entry, lba_size)
    data = reader.read(hdr.partition_entry_lba, count)
    array = data[: hdr.num_partition_entries * hdr.size_of_partition_entry]
    computed = crc32(array)
    if computed != hdr.partition_entry_array_crc32:
        raise fail(
            GptErr.GPT_ERR_BAD_ENTRY_CRC,
            lba,
            f"partition entry array CRC32 is 0x{hdr.partition_entry_array_crc32:08x} "
            f"but the array sums to 0x{computed:08x}",
        )
    return _Copy(hdr, lba, array)


def _compare(primary: _Copy, backup: _Copy) -> list[GptIssue]:
    """What a backup must agree on with its primary (UEFI 5.3.2; as sgdisk -v)."""
    p, b = primary.header, backup.header
    fields = (
        ("disk GUID", p.disk_guid.hex(), b.disk_guid.hex()),
        ("first usable LBA", p.first_usable_lba, b.first_usable_lba),
        ("last usable LBA", p.last_usable_lba, b.last_usable_lba),
        ("entry count", p.num_partition_entries, b.num_partition_entries),
        ("entry size", p.size_of_partition_entry, b.size_of_partition_entry),
        ("AlternateLBA", PRIMARY_HEADER_LBA, b.alternate_lba),
    )
    issues = [
        GptIssue(GptErr.GPT_ERR_BACKUP, f"backup header {name} is {got}, primary says {want}")
        for name, want, got in fields
        if want != got
    ]
    if primary.array != backup.array:
        issues.append(GptIssue(GptErr.GPT_ERR_BACKUP, "backup partition entries differ"))
    return issues


def _partitions(copy: _Copy) -> tuple[GptPartition, ...]:
    stride = copy.header.size_of_partition_entry
    parts = []
    for i in range(copy.header.num_partition_entries):
        entry = GptEntry.unpack(copy.array[i * stride : i * stride + GPT_ENTRY.size])
        if not entry.used:
            continue
        parts.append(
            GptPartition(
                index=i + 1,
                start_lba=entry.starting_lba,
                end_lba=entry.ending_lba,
                type_guid=uuid.UUID(bytes_le=entry.type_guid),
                part_guid=uuid.UUID(bytes_le=entry.part_guid),
                attributes=entry.attributes,
                name=decode_name(entry.name),
            )
        )
    return tuple(parts)


def gpt_parse(read_lba: ReadLba, lba_size: int, num_lbas: int, *, strict: bool = False) -> GptTable:
    """Parse and verify the GPT of a disk of ``num_lbas`` blocks of ``lba_size`` bytes.

    ``read_lba(lba, count)`` must return ``count * lba_size`` bytes.  The primary
    header is used when valid; otherwise the backup (at the primary's
    AlternateLBA when that header is intact, else at the last LBA).  Problems
    that leave the table usable are reported in ``GptTable.issues``; with
    ``strict`` the first one is raised instead.  Raises GptParseError only.
    """
    if lba_size not in LBA_SIZES:
        raise GptParseError(
            GptErr.GPT_ERR_BAD_GEOMETRY, f"LBA size {lba_size} unsupported, expected 512 or 4096"
        )
    if num_lbas < MIN_DISK_LBAS:
        raise GptParseError(
            GptErr.GPT_ERR_BAD_GEOMETRY, f"disk of {num_lbas} LBAs is too small for a GPT"
        )
    reader = _Reader(read_lba, lba_size)
    head = reader.read(0, 2)
    issues = check_protective_mbr(head[:MBR_SIZE], num_lbas)
    last_lba = num_lbas - 1
    candidates = [last_lba]
    primary = _try_copy(reader, head[lba_size:], PRIMARY_HEADER_LBA, lba_size, num_lbas)
    pointer = _header_pointer(head[lba_size:], primary)
    if pointer is not None and pointer != last_lba:
        if PRIMARY_HEADER_LBA < pointer < num_lbas:
            candidates.insert(0, pointer)
        issues.append(
            GptIssue(
                GptErr.GPT_ERR_BACKUP,
                f"primary header's AlternateLBA is {pointer}, but the disk's last LBA is "
                f"{last_lba}" + (" (beyond the disk end)" if pointer >= num_lbas else ""),
            )
        )
    backup, backup_errors = _find_backup(reader, candidates, lba_size, num_lbas)
    used: _Copy
    copy_name: HeaderCopy
    if isinstance(primary, _Copy):
        if backup is None:
            issues += [GptIssue(e.code, f"backup {e.message}") for e in backup_errors]
        else:
            issues += _compare(primary, backup)
        used, copy_name = primary, "primary"
    elif backup is not None:
        issues.append(GptIssue(primary.code, f"primary {primary.message}"))
        if backup.header.alternate_lba != PRIMARY_HEADER_LBA:
            issues.append(
                GptIssue(
                    GptErr.GPT_ERR_BACKUP,
                    f"backup header's AlternateLBA is {backup.header.alternate_lba}, expected 1",
                )
            )
        used, copy_name = backup, "backup"
    else:
        why = "; ".join(e.message for e in backup_errors)
        raise GptParseError(primary.code, f"no usable GPT: primary {primary.message}; backup {why}")
    return _table(used, copy_name, lba_size, num_lbas, issues=issues, strict=strict)


def _try_copy(
    reader: _Reader, raw: bytes, lba: int, lba_size: int, num_lbas: int
) -> _Copy | GptParseError:
    """A valid copy, or why it is not (read errors are not caught: they end the parse)."""
    try:
        return _read_copy(reader, raw, lba, lba_size, num_lbas)
    except GptParseError as exc:
        if exc.code == GptErr.GPT_ERR_READ:
            raise
        return exc


def _header_pointer(raw: bytes, primary: _Copy | GptParseError) -> int | None:
    """The primary's AlternateLBA if the header itself can be trusted (its CRC holds)."""
    if isinstance(primary, _Copy):
        return primary.header.alternate_lba
    hdr = GptHeader.unpack(raw)
    trusted = (
        hdr.signature == GPT_SIGNATURE
        and GPT_HEADER_SIZE <= hdr.header_size <= len(raw)
        and header_crc(raw, hdr.header_size) == hdr.header_crc32
    )
    return hdr.alternate_lba if trusted else None


def _find_backup(
    reader: _Reader, candidates: list[int], lba_size: int, num_lbas: int
) -> tuple[_Copy | None, list[GptParseError]]:
    errors: list[GptParseError] = []
    for lba in dict.fromkeys(candidates):
        found = _try_copy(reader, reader.read(lba, 1), lba, lba_size, num_lbas)
        if isinstance(found, _Copy):
            return found, errors
        errors.append(found)
    return None, errors


def _table(
    copy: _Copy,
    copy_name: HeaderCopy,
    lba_size: int,
    num_lbas: int,
    *,
    issues: list[GptIssue],
    strict: bool,
) -> GptTable:
    hdr = copy.header
    parts = _partitions(copy)
    issues += check_partitions(parts, hdr.first_usable_lba, hdr.last_usable_lba)
    if strict and issues:
        raise GptParseError(issues[0].code, issues[0].message)
    return GptTable(
        disk_guid=uuid.UUID(bytes_le=hdr.disk_guid),
        lba_size=lba_size,
        num_lbas=num_lbas,
        first_usable_lba=hdr.first_usable_lba,
        last_usable_lba=hdr.last_usable_lba,
        header=copy_name,
        header_lba=copy.lba,
        alternate_lba=hdr.alternate_lba,
        partition_entry_lba=hdr.partition_entry_lba,
        num_entries=hdr.num_partition_entries,
        entry_size=hdr.size_of_partition_entry,
        partitions=parts,
        issues=tuple(issues),
    )

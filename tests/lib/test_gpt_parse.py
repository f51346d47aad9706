"""gpt_parse: the seed's self-test paths and every validation of issue 2, each
asserting its specific error code.  Layout facts come from the seed and UEFI 2.10."""

from __future__ import annotations

import uuid

import pytest

from qrv.errors import GptError
from qrv.lib.gpt import GptErr, GptParseError, GptTable, gpt_parse
from tests.lib.gpt_images import LINUX, MIB, Disk, make_disk, overlapping_disk, seed_disk

E = GptErr


def parse(disk: Disk, **kw: bool) -> GptTable:
    return gpt_parse(disk.read_lba, disk.lba_size, disk.num_lbas, **kw)


def fails(disk: Disk, code: GptErr) -> GptParseError:
    with pytest.raises(GptParseError) as info:
        parse(disk)
    assert info.value.code == code, info.value
    assert isinstance(info.value, GptError)
    return info.value


def codes(table: GptTable) -> list[GptErr]:
    return [issue.code for issue in table.issues]


# --- the seed's self-test paths --------------------------------------------------


def test_valid_seed_image() -> None:
    disk = seed_disk()
    table = parse(disk)
    assert table.clean and table.problems == []
    assert table.header == "primary"
    assert (table.lba_size, table.first_usable_lba, table.last_usable_lba) == (512, 34, 131038)
    got = [(p.index, p.start_lba, p.end_lba, p.type_guid, p.name) for p in table.partitions]
    assert got == [
        (1, 34, 32801, LINUX, "qrv-test-p1"),
        (2, 32802, 65569, LINUX, "qrv-test-p2"),
    ]
    assert table.partitions[0].num_lbas * 512 == 16 * MIB
    assert len(disk.calls) <= 4  # LBA 0-1, primary array, backup header, backup array


def test_seed_style_primary_only_image_parses_with_a_problem() -> None:
    disk = make_disk((32768, 32768), backup=False)
    table = parse(disk)
    assert table.header == "primary"
    assert codes(table) == [E.GPT_ERR_BAD_SIG]
    assert "backup" in table.problems[0]
    assert len(table.partitions) == 2


def test_plain_mbr_rejected() -> None:
    disk = make_disk((100,), num_lbas=4096)
    disk.mbr_set(0, 0x83, 2048, 2000)
    fails(disk, E.GPT_ERR_PLAIN_MBR)


def test_hybrid_mbr_is_read_with_a_problem() -> None:
    """As sgdisk and Linux: the GPT behind a hybrid MBR is used, the MBR reported."""
    disk = make_disk((100,), num_lbas=4096)
    disk.mbr_set(1, 0x0C, 34, 100)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_HYBRID_MBR]
    assert "0x0c" in table.problems[0]
    assert len(table.partitions) == 1
    with pytest.raises(GptParseError):
        parse(disk, strict=True)


def test_bad_header_crc_seed_style() -> None:
    disk = make_disk((100,), num_lbas=4096, backup=False)
    disk.buf[512 + 40] ^= 1  # first usable LBA changed, CRC not re-sealed
    fails(disk, E.GPT_ERR_BAD_HDR_CRC)


def test_bad_entry_crc_seed_style() -> None:
    disk = make_disk((100,), num_lbas=4096, backup=False)
    disk.buf[2 * 512 + 56] ^= 0x20  # a name byte of entry 1
    fails(disk, E.GPT_ERR_BAD_ENTRY_CRC)


# --- protective MBR ----------------------------------------------------------------


def test_no_boot_signature() -> None:
    disk = seed_disk()
    disk.buf[510:512] = b"\0\0"
    fails(disk, E.GPT_ERR_NO_PMBR)


def test_signature_but_no_entries() -> None:
    disk = seed_disk()
    disk.mbr_set(0, 0, 0, 0)
    fails(disk, E.GPT_ERR_NO_PMBR)


@pytest.mark.parametrize("slot", [1, 2, 3])
def test_protective_entry_in_any_slot(slot: int) -> None:
    disk = seed_disk()
    disk.mbr_set(0, 0, 0, 0)
    disk.mbr_set(slot, 0xEE, 1, disk.num_lbas - 1)
    assert parse(disk).clean


def test_two_protective_entries_are_a_problem() -> None:
    """sgdisk only warns, the seed's libgpt reads on: the table parses, the first 0xEE
    entry counts, and the second is reported."""
    disk = seed_disk()
    disk.mbr_set(2, 0xEE, 1, 100)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_BAD_PMBR]
    assert "2 0xEE entries (slots 1, 3)" in table.issues[0].message
    assert len(table.partitions) == 2


def test_protective_entry_oddities_are_problems() -> None:
    disk = seed_disk()
    disk.mbr_set(0, 0xEE, 2, disk.num_lbas + 5)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_BAD_PMBR, E.GPT_ERR_BAD_PMBR]


# --- header checks (both copies damaged alike, so there is nothing to fall back to) --


def both(disk: Disk, name: str, value: object, reseal: bool = True) -> Disk:
    for lba in disk.headers():
        disk.hdr_set(lba, name, value, reseal)
    return disk


def test_bad_signature() -> None:
    err = fails(both(seed_disk(), "signature", b"EFI PARX"), E.GPT_ERR_BAD_SIG)
    assert 'LBA 1: signature 45 46 49 20 50 41 52 58 ("EFI PARX"), expected "EFI PART";' in str(err)


def test_missing_header_signature_reads_as_text() -> None:
    table = parse(make_disk((32768, 32768), backup=False))
    assert table.problems[0].endswith('signature 00 00 00 00 00 00 00 00, expected "EFI PART"')


@pytest.mark.parametrize("rev", [0x00010001, 0x00020000, 0])
def test_bad_revision(rev: int) -> None:
    fails(both(seed_disk(), "revision", rev), E.GPT_ERR_BAD_REV)


@pytest.mark.parametrize("size", [0, 91, 513])
def test_bad_header_size(size: int) -> None:
    fails(both(seed_disk(), "header_size", size), E.GPT_ERR_BAD_HDR_SIZE)


def test_header_size_above_92_is_legal_and_crc_covers_it() -> None:
    disk = both(seed_disk(), "header_size", 96)
    assert parse(disk).clean
    disk.buf[512 + 94] = 1  # inside HeaderSize: now the CRC no longer matches
    disk.buf[(disk.num_lbas - 1) * 512 + 94] = 1
    fails(disk, E.GPT_ERR_BAD_HDR_CRC)


def test_header_size_4096_on_4k_lbas() -> None:
    assert parse(both(seed_disk(4096), "header_size", 4096)).clean


def test_bad_my_lba() -> None:
    disk = seed_disk()
    disk.hdr_set(1, "my_lba", 2)
    disk.hdr_set(disk.num_lbas - 1, "my_lba", 7)
    fails(disk, E.GPT_ERR_BAD_MY_LBA)


@pytest.mark.parametrize(
    "fields",
    [
        {"first_usable_lba": 131039},  # after last usable
        {"last_usable_lba": 131072},  # beyond the disk
        {"first_usable_lba": 0},  # includes the MBR and header
        {"last_usable_lba": 131071},  # contains the backup header
        # overlaps the primary array (and the backup array, so no copy is left)
        {"first_usable_lba": 20, "last_usable_lba": 131050},
    ],
)
def test_bad_usable_range(fields: dict[str, int]) -> None:
    disk = seed_disk()
    for field, value in fields.items():
        both(disk, field, value)
    fails(disk, E.GPT_ERR_BAD_GEOMETRY)


def test_usable_range_over_one_array_falls_back_to_the_other_copy() -> None:
    disk = seed_disk()
    disk.hdr_set(1, "first_usable_lba", 20)  # over the primary array only
    disk.hdr_set(disk.num_lbas - 1, "first_usable_lba", 20)
    table = parse(disk)
    assert table.header == "backup" and table.first_usable_lba == 20
    assert codes(table) == [E.GPT_ERR_BAD_GEOMETRY]
    assert "entry array (LBAs 2..33) overlaps the usable range" in table.problems[0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("size_of_partition_entry", 130),
        ("size_of_partition_entry", 384),  # 128 * 3 is not 128 * 2^n
        ("size_of_partition_entry", 64),
        ("num_partition_entries", 0),
        ("num_partition_entries", 1 << 20),  # 128 MiB array
    ],
)
def test_bad_entry_size_or_count(field: str, value: int) -> None:
    fails(both(seed_disk(), field, value), E.GPT_ERR_BAD_ENTRY_SIZE)


def test_entry_size_256_is_followed_as_the_stride() -> None:
    disk = make_disk((10, 20, 30), num_lbas=2048, entry_size=256, num_entries=64)
    table = parse(disk)
    assert table.clean and table.entry_size == 256
    assert [p.num_lbas for p in table.partitions] == [10, 20, 30]


def test_entry_array_inside_usable_range() -> None:
    disk = seed_disk()
    disk.hdr_set(1, "partition_entry_lba", 100)
    disk.hdr_set(disk.num_lbas - 1, "partition_entry_lba", 200)
    fails(disk, E.GPT_ERR_BAD_GEOMETRY)


def test_entry_array_past_the_disk_end() -> None:
    disk = seed_disk()
    disk.hdr_set(1, "partition_entry_lba", disk.num_lbas - 5)
    disk.hdr_set(disk.num_lbas - 1, "partition_entry_lba", disk.num_lbas - 2)
    fails(disk, E.GPT_ERR_BAD_GEOMETRY)


def test_entry_array_over_the_header() -> None:
    disk = seed_disk()
    disk.hdr_set(1, "partition_entry_lba", 1)
    disk.hdr_set(disk.num_lbas - 1, "partition_entry_lba", 0)
    fails(disk, E.GPT_ERR_BAD_GEOMETRY)


# --- fall back to the backup copy ------------------------------------------------------


def test_primary_crc_damaged_backup_used() -> None:
    disk = seed_disk()
    disk.buf[512 + 60] ^= 0xFF  # disk GUID byte, CRC not re-sealed
    table = parse(disk)
    assert table.header == "backup" and table.header_lba == disk.num_lbas - 1
    assert codes(table) == [E.GPT_ERR_BAD_HDR_CRC]
    assert table.problems[0].startswith("primary")
    assert [p.end_lba for p in table.partitions] == [32801, 65569]


def test_primary_array_damaged_backup_used() -> None:
    disk = seed_disk()
    disk.buf[2 * 512 + 60] ^= 1
    table = parse(disk)
    assert table.header == "backup"
    assert codes(table) == [E.GPT_ERR_BAD_ENTRY_CRC]
    assert table.partitions[0].name == "qrv-test-p1"


def test_primary_wiped_backup_used() -> None:
    disk = seed_disk()
    disk.buf[512 : 34 * 512] = bytes(33 * 512)
    table = parse(disk)
    assert table.header == "backup"
    assert codes(table) == [E.GPT_ERR_BAD_SIG]


def test_backup_damaged_primary_used_and_problem_reported() -> None:
    disk = seed_disk()
    disk.buf[(disk.num_lbas - 1) * 512 + 60] ^= 1
    table = parse(disk)
    assert table.header == "primary"
    assert codes(table) == [E.GPT_ERR_BAD_HDR_CRC]
    assert table.problems[0].startswith("backup")


def test_backup_array_damaged() -> None:
    disk = seed_disk()
    disk.buf[(disk.num_lbas - 33) * 512 + 60] ^= 1
    assert codes(parse(disk)) == [E.GPT_ERR_BAD_ENTRY_CRC]


def test_backup_differs_from_primary() -> None:
    disk = seed_disk()
    disk.hdr_set(disk.num_lbas - 1, "disk_guid", uuid.uuid4().bytes_le)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_BACKUP]
    assert "disk GUID" in table.problems[0]


def test_grown_image_backup_found_via_alternate_lba() -> None:
    disk = make_disk((1000,), num_lbas=4096)
    disk.buf += bytes(1024 * 512)  # the image was grown: backup no longer at the end
    table = parse(disk)
    assert table.header == "primary"
    assert codes(table) == [E.GPT_ERR_BACKUP]
    assert "4095" in table.problems[0] and "5119" in table.problems[0]


def test_grown_image_with_damaged_primary_array_uses_backup_at_pointer() -> None:
    disk = make_disk((1000,), num_lbas=4096)
    disk.buf += bytes(1024 * 512)
    disk.buf[2 * 512] ^= 1
    table = parse(disk)
    assert table.header == "backup" and table.header_lba == 4095
    assert E.GPT_ERR_BAD_ENTRY_CRC in codes(table)


def test_both_copies_bad_raises_primary_code() -> None:
    disk = seed_disk()
    disk.buf[512 + 60] ^= 1
    disk.buf[(disk.num_lbas - 1) * 512 + 60] ^= 1
    error = fails(disk, E.GPT_ERR_BAD_HDR_CRC)
    assert "primary" in str(error) and "backup" in str(error)


def test_truncated_image_primary_points_past_the_end() -> None:
    disk = make_disk((100,), num_lbas=4096)
    del disk.buf[4080 * 512 :]  # the last LBAs (backup array and header) are cut off
    table = parse(disk)
    assert table.header == "primary"
    assert codes(table) == [E.GPT_ERR_BAD_PMBR, E.GPT_ERR_BACKUP, E.GPT_ERR_BAD_SIG]
    assert "4095" in table.problems[1] and "beyond the disk end" in table.problems[1]


# --- partitions -------------------------------------------------------------------


def test_partition_outside_usable_range_is_a_problem() -> None:
    disk = seed_disk()
    disk.entry_set(2, "ending_lba", 131040)  # over the backup array
    disk.entry_set(1, "starting_lba", 33)  # over the primary array
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_PART_RANGE, E.GPT_ERR_PART_RANGE]
    assert "partition 1" in table.problems[0] and "partition 2" in table.problems[1]
    with pytest.raises(GptParseError) as info:
        parse(disk, strict=True)
    assert info.value.code == E.GPT_ERR_PART_RANGE


def test_partition_ending_before_it_starts() -> None:
    disk = seed_disk()
    disk.entry_set(1, "ending_lba", 30)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_PART_RANGE]
    assert "ends" in table.problems[0]


def test_every_overlap_is_named() -> None:
    disk = make_disk((100, 100, 100), num_lbas=4096)  # 34..133, 134..233, 234..333
    disk.entry_set(3, "starting_lba", 50)  # 3 now overlaps 1 and 2
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_PART_OVERLAP, E.GPT_ERR_PART_OVERLAP]
    assert table.problems == [
        "partition 1 (LBA 34..133) overlaps partition 3 (LBA 50..333)",
        "partition 2 (LBA 134..233) overlaps partition 3 (LBA 50..333)",
    ]
    with pytest.raises(GptParseError) as info:
        parse(disk, strict=True)
    assert info.value.code == E.GPT_ERR_PART_OVERLAP


def test_holes_keep_the_slot_index_and_attributes_kept() -> None:
    disk = make_disk((100, 100, 100), num_lbas=4096)
    disk.entry_set(2, "type_guid", bytes(16))  # slot 2 unused now
    disk.entry_set(3, "attributes", 1 << 63 | 1 << 2 | 1 << 40)
    table = parse(disk)
    assert [p.index for p in table.partitions] == [1, 3]
    assert table.partitions[1].attributes == 1 << 63 | 1 << 2 | 1 << 40


def test_4096_byte_lbas() -> None:
    disk = seed_disk(4096)
    table = parse(disk)
    assert table.clean
    # 128 * 128 B = 4 LBAs: array at 2..5, first usable 6, last usable N-6 (UEFI 5.3.2).
    assert (table.first_usable_lba, table.last_usable_lba) == (6, disk.num_lbas - 6)
    assert [(p.start_lba, p.end_lba) for p in table.partitions] == [(6, 4101), (4102, 8197)]


# --- reads and arguments -----------------------------------------------------------


def test_read_callback_exception_becomes_read_error() -> None:
    def broken(lba: int, count: int) -> bytes:
        raise OSError(5, "Input/output error")

    with pytest.raises(GptParseError) as info:
        gpt_parse(broken, 512, 1000)
    assert info.value.code == E.GPT_ERR_READ
    assert "Input/output error" in str(info.value)


@pytest.mark.parametrize("bad", [b"", b"x" * 100, None, 42])
def test_short_or_wrong_read_is_read_error(bad: object) -> None:
    with pytest.raises(GptParseError) as info:
        gpt_parse(lambda lba, count: bad, 512, 1000)  # type: ignore[arg-type,return-value]
    assert info.value.code == E.GPT_ERR_READ


def test_failing_backup_read_is_read_error() -> None:
    disk = seed_disk()

    def read(lba: int, count: int) -> bytes:
        if lba == disk.num_lbas - 1:
            raise RuntimeError("NVMe status 0x281")
        return disk.read_lba(lba, count)

    with pytest.raises(GptParseError) as info:
        gpt_parse(read, 512, disk.num_lbas)
    assert info.value.code == E.GPT_ERR_READ


@pytest.mark.parametrize(("lba_size", "num_lbas"), [(1024, 1000), (520, 1000), (512, 2)])
def test_bad_arguments(lba_size: int, num_lbas: int) -> None:
    with pytest.raises(GptParseError) as info:
        gpt_parse(seed_disk().read_lba, lba_size, num_lbas)
    assert info.value.code == E.GPT_ERR_BAD_GEOMETRY


def test_wrong_lba_size_is_not_a_gpt() -> None:
    disk = seed_disk(4096)
    with pytest.raises(GptParseError) as info:
        gpt_parse(lambda lba, n: bytes(disk.buf[lba * 512 : (lba + n) * 512]), 512, 131072)
    assert info.value.code == E.GPT_ERR_BAD_SIG


# --- resource bounds: many used entries -------------------------------------------------


def test_overlapping_pairs_are_counted_not_each_listed() -> None:
    # 2,000 entries over the same LBAs: 1,999,000 overlapping pairs, 16 of them named.
    disk = overlapping_disk([(10_000, 10_099)] * 2000, num_entries=2048)
    table = parse(disk)
    assert codes(table) == [E.GPT_ERR_PART_OVERLAP] * 17
    assert table.problems[0] == (
        "partition 1 (LBA 10000..10099) overlaps partition 2 (LBA 10000..10099)"
    )
    assert table.problems[-1] == "and 1998984 more overlapping pairs (1999000 in all)"


def test_worst_legal_table_reports_a_bounded_list() -> None:
    # 32,768 entries (the 4 MiB array cap): every one reversed, out of range or overlapping.
    n = 32768
    ranges = [(34 + i, 33 + i) if i % 3 == 0 else (10**12 + i, 10**12 + i) for i in range(n)]
    ranges[1::3] = [(40_000, 40_100)] * len(ranges[1::3])
    disk = overlapping_disk(ranges, num_entries=n)
    table = parse(disk)
    assert len(table.issues) <= 3 * 17
    counts = {code: codes(table).count(code) for code in set(codes(table))}
    assert counts == {E.GPT_ERR_PART_RANGE: 34, E.GPT_ERR_PART_OVERLAP: 17}
    reversed_count, outside_count = len(range(0, n, 3)), len(range(2, n, 3))
    overlaps = len(range(1, n, 3)) * (len(range(1, n, 3)) - 1) // 2
    assert (
        f"and {reversed_count - 16} more partitions that end before they start "
        f"({reversed_count} in all)"
    ) in table.problems
    assert (
        f"and {outside_count - 16} more partitions outside the usable range "
        f"({outside_count} in all)"
    ) in table.problems
    assert f"and {overlaps - 16} more overlapping pairs ({overlaps} in all)" in table.problems

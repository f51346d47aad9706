"""GPT parse benchmark: the worst legal entry array (issue 10).

A legal array holds up to 32,768 entries (4 MiB).  Prints the time
``gpt_parse`` takes on such a table whose entries all cover the same LBAs
(536,854,528 overlapping pairs, reported as 16 named plus one count), beside
the same-run baseline: the same array with the 32,768 partitions back to back
(no problems at all).  Not part of the tests.
"""

from __future__ import annotations

import statistics
import struct
import time
import uuid
import zlib

from qrv.lib.gpt import GptGeometry, PartitionSpec, apply_writes, build_gpt, gpt_parse
from qrv.spec.gpt import LINUX_FILESYSTEM_GUID, GptEntry

ENTRIES = 32768
ENTRY_SIZE = 128
LBA = 512
DISK_LBAS = 128 << 11  # 128 MiB
ROUNDS = 3
ARRAY_CRC = 88  # UEFI table 5-5 offsets
HEADER_CRC = 16
HEADER_SIZE = 92


def clean_image(geo: GptGeometry) -> bytearray:
    first = geo.first_usable_lba
    specs: list[PartitionSpec | None] = [
        PartitionSpec(first + i, first + i, LINUX_FILESYSTEM_GUID, uuid.uuid4(), f"p{i}")
        for i in range(ENTRIES)
    ]
    image = bytearray(DISK_LBAS * LBA)
    apply_writes(image, build_gpt(geo, specs, uuid.uuid4()), LBA)
    return image


def overlapping_image(geo: GptGeometry) -> bytearray:
    """Every entry covers the same 100 LBAs; both arrays and headers re-sealed."""
    image = bytearray(DISK_LBAS * LBA)
    apply_writes(image, build_gpt(geo, [], uuid.uuid4()), LBA)
    first = geo.first_usable_lba
    array = b"".join(
        GptEntry(
            LINUX_FILESYSTEM_GUID.bytes_le, uuid.uuid4().bytes_le, first, first + 99, 0, b""
        ).pack()
        for _ in range(ENTRIES)
    )
    crc = zlib.crc32(array)
    for header_lba, array_lba in ((1, 2), (geo.backup_header_lba, geo.backup_array_lba)):
        image[array_lba * LBA : array_lba * LBA + len(array)] = array
        base = header_lba * LBA
        struct.pack_into("<I", image, base + ARRAY_CRC, crc)
        struct.pack_into("<I", image, base + HEADER_CRC, 0)
        header_crc = zlib.crc32(image[base : base + HEADER_SIZE])
        struct.pack_into("<I", image, base + HEADER_CRC, header_crc)
    return image


def parse_seconds(image: bytearray) -> tuple[float, int]:
    def read(lba: int, count: int) -> bytes:
        return bytes(image[lba * LBA : (lba + count) * LBA])

    samples, issues = [], 0
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        table = gpt_parse(read, LBA, DISK_LBAS)
        samples.append(time.perf_counter() - t0)
        issues = len(table.issues)
    return statistics.median(samples), issues


def main() -> int:
    geo = GptGeometry.for_disk(DISK_LBAS, LBA, ENTRIES, ENTRY_SIZE)
    worst, worst_issues = parse_seconds(overlapping_image(geo))
    clean, clean_issues = parse_seconds(clean_image(geo))
    print(
        f"gpt_parse, {ENTRIES} entries all overlapping   median {worst * 1e3:8.1f} ms "
        f"({worst_issues} issues reported)"
    )
    print(
        f"baseline: {ENTRIES} entries back to back       median {clean * 1e3:8.1f} ms "
        f"({clean_issues} issues)"
    )
    print(f"ratio: overlapping / clean                 {worst / clean:8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

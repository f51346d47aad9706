"""In-memory disk images for the libgpt tests, and byte-level editors that work
from the UEFI 2.10 table offsets directly (not through qrv.spec.gpt), so a test
that corrupts a field and re-seals a CRC does not trust the code under test."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from qrv.lib.gpt import GptGeometry, PartitionSpec, apply_writes, build_gpt

MIB = 1 << 20
LINUX = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")

# UEFI 2.10 table 5-5: GPT header field -> (byte offset, struct format)
HDR: dict[str, tuple[int, str]] = {
    "signature": (0, "<8s"),
    "revision": (8, "<I"),
    "header_size": (12, "<I"),
    "header_crc32": (16, "<I"),
    "my_lba": (24, "<Q"),
    "alternate_lba": (32, "<Q"),
    "first_usable_lba": (40, "<Q"),
    "last_usable_lba": (48, "<Q"),
    "disk_guid": (56, "<16s"),
    "partition_entry_lba": (72, "<Q"),
    "num_partition_entries": (80, "<I"),
    "size_of_partition_entry": (84, "<I"),
    "partition_entry_array_crc32": (88, "<I"),
}
# UEFI 2.10 table 5-6: partition entry field -> (byte offset, struct format)
ENT: dict[str, tuple[int, str]] = {
    "type_guid": (0, "<16s"),
    "part_guid": (16, "<16s"),
    "starting_lba": (32, "<Q"),
    "ending_lba": (40, "<Q"),
    "attributes": (48, "<Q"),
    "name": (56, "<72s"),
}
MBR_TABLE = 446  # UEFI table 5-1
MBR_ENTRY = 16


@dataclass
class Disk:
    """A disk image in memory with a read_lba callback that counts its calls."""

    buf: bytearray
    lba_size: int
    calls: list[tuple[int, int]] = field(default_factory=list)

    @property
    def num_lbas(self) -> int:
        return len(self.buf) // self.lba_size

    def read_lba(self, lba: int, count: int) -> bytes:
        self.calls.append((lba, count))
        return bytes(self.buf[lba * self.lba_size : (lba + count) * self.lba_size])

    # --- header editing --------------------------------------------------------
    def hdr_get(self, lba: int, name: str) -> int:
        off, fmt = HDR[name]
        value: int = struct.unpack_from(fmt, self.buf, lba * self.lba_size + off)[0]
        return value

    def hdr_set(self, lba: int, name: str, value: object, reseal: bool = True) -> None:
        off, fmt = HDR[name]
        struct.pack_into(fmt, self.buf, lba * self.lba_size + off, value)
        if reseal:
            self.reseal(lba)

    def reseal(self, lba: int) -> None:
        """Recompute a header's CRC32 over HeaderSize bytes with the CRC field zeroed."""
        base = lba * self.lba_size
        size = self.hdr_get(lba, "header_size")
        raw = bytearray(self.buf[base : base + size])
        raw[16:20] = bytes(4)
        struct.pack_into("<I", self.buf, base + 16, zlib.crc32(raw) & 0xFFFFFFFF)

    def headers(self) -> list[int]:
        return [1, self.num_lbas - 1]

    # --- entry editing (both arrays, CRCs re-sealed) ---------------------------
    def entry_set(self, slot: int, name: str, value: object) -> None:
        """Set a field of entry ``slot`` (1-based) in every valid copy and re-seal."""
        off, fmt = ENT[name]
        for hdr_lba in self.headers():
            if self.buf[hdr_lba * self.lba_size : hdr_lba * self.lba_size + 8] != b"EFI PART":
                continue
            array = self.hdr_get(hdr_lba, "partition_entry_lba") * self.lba_size
            stride = self.hdr_get(hdr_lba, "size_of_partition_entry")
            count = self.hdr_get(hdr_lba, "num_partition_entries")
            struct.pack_into(fmt, self.buf, array + (slot - 1) * stride + off, value)
            crc = zlib.crc32(self.buf[array : array + count * stride]) & 0xFFFFFFFF
            self.hdr_set(hdr_lba, "partition_entry_array_crc32", crc)

    # --- MBR editing -------------------------------------------------------------
    def mbr_set(self, slot: int, os_type: int, start: int = 1, size: int = 0) -> None:
        """Fill MBR partition record ``slot`` (0-based; UEFI table 5-2)."""
        struct.pack_into(
            "<B3sB3sII", self.buf, MBR_TABLE + slot * MBR_ENTRY, 0, b"\0\2\0", os_type,
            b"\xff\xff\xff", start, size,
        )  # fmt: skip

    def mbr_type(self, slot: int) -> int:
        return self.buf[MBR_TABLE + slot * MBR_ENTRY + 4]


def make_disk(
    sizes_lbas: Sequence[int] = (),
    *,
    num_lbas: int = 64 * MIB // 512,
    lba_size: int = 512,
    names: Sequence[str] | None = None,
    entry_size: int = 128,
    num_entries: int = 128,
    backup: bool = True,
) -> Disk:
    """A disk with back-to-back Linux partitions from the first usable LBA.

    With ``backup=False`` only the pMBR, primary header and primary array are
    written, as the seed's mkgpt.py did.
    """
    geo = GptGeometry.for_disk(num_lbas, lba_size, num_entries, entry_size)
    specs: list[PartitionSpec | None] = []
    start = geo.first_usable_lba
    for i, size in enumerate(sizes_lbas, 1):
        name = names[i - 1] if names else f"qrv-test-p{i}"
        specs.append(PartitionSpec(start, start + size - 1, LINUX, uuid.uuid4(), name))
        start += size
    writes = build_gpt(geo, specs, uuid.uuid4())
    if not backup:
        writes = writes[2:]
    disk = Disk(bytearray(num_lbas * lba_size), lba_size)
    apply_writes(disk.buf, writes, lba_size)
    return disk


def seed_disk(lba_size: int = 512) -> Disk:
    """The seed's image: 64 MiB, two 16 MiB partitions."""
    part = 16 * MIB // lba_size
    return make_disk((part, part), num_lbas=64 * MIB // lba_size, lba_size=lba_size)


def overlapping_disk(
    ranges: Sequence[tuple[int, int]], *, num_entries: int, num_lbas: int = 64 * MIB // 512
) -> Disk:
    """A disk whose first ``len(ranges)`` entries hold the given (start, end) ranges as
    they are (overlapping, reversed or out of range), both arrays re-sealed once."""
    geo = GptGeometry.for_disk(num_lbas, 512, num_entries, 128)
    disk = Disk(bytearray(num_lbas * 512), 512)
    apply_writes(disk.buf, build_gpt(geo, [], uuid.uuid4()), 512)
    start_off, end_off = ENT["starting_lba"][0], ENT["ending_lba"][0]
    for hdr_lba in disk.headers():
        array = disk.hdr_get(hdr_lba, "partition_entry_lba") * 512
        for slot, (start, end) in enumerate(ranges):
            base = array + slot * 128
            disk.buf[base : base + 16] = LINUX.bytes_le
            disk.buf[base + 16 : base + 32] = uuid.UUID(int=slot + 1).bytes_le
            struct.pack_into("<QQ", disk.buf, base + start_off, start, end)
            assert end_off == start_off + 8
        crc = zlib.crc32(disk.buf[array : array + num_entries * 128]) & 0xFFFFFFFF
        disk.hdr_set(hdr_lba, "partition_entry_array_crc32", crc)
    return disk

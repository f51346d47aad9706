"""GUID Partition Table on-disk layouts (UEFI Spec 2.10 ch. 5), shared by libgpt
(the parser), the image writer and the host tools.

Every multi-byte field is little-endian (UEFI 5.3.1).  GUIDs are stored in
the mixed-endian form: the first three fields little-endian, the last two as
bytes, which is exactly ``uuid.UUID(bytes_le=...)`` (UEFI Appendix A).
"""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from enum import IntEnum, IntFlag

# --- Legacy / protective MBR (UEFI 5.2.1, 5.2.3) -------------------------------------

MBR_SIZE = 512  # the MBR is the first 512 bytes of LBA 0, whatever the LBA size
MBR_PART_TABLE_OFFSET = 446
MBR_PART_ENTRY_SIZE = 16
MBR_PART_COUNT = 4
MBR_SIGNATURE_OFFSET = 510
MBR_SIGNATURE = 0xAA55  # bytes 0x55 0xAA at offset 510
MBR_SIZE_CAP = 0xFFFFFFFF  # SizeInLBA saturates for disks beyond 2^32 LBAs (UEFI 5.2.3)
PMBR_START_LBA = 1  # the 0xEE entry starts at the GPT header (UEFI table 5-4)
PMBR_START_CHS = b"\x00\x02\x00"  # CHS of LBA 1
PMBR_END_CHS = b"\xff\xff\xff"  # "beyond CHS" (UEFI table 5-4)


class MbrType(IntEnum):
    """OS type bytes the GPT code cares about (UEFI 5.2.2, 5.2.3)."""

    EMPTY = 0x00
    GPT_PROTECTIVE = 0xEE
    EFI_SYSTEM = 0xEF


MBR_ENTRY_FMT = "<B3sB3sII"  # boot indicator, start CHS, OS type, end CHS, start LBA, size
MBR_ENTRY = struct.Struct(MBR_ENTRY_FMT)
assert MBR_ENTRY.size == MBR_PART_ENTRY_SIZE


@dataclass(frozen=True)
class MbrEntry:
    """One of the four MBR partition records (UEFI table 5-2)."""

    boot_indicator: int
    start_chs: bytes
    os_type: int
    end_chs: bytes
    start_lba: int
    size_lba: int

    @classmethod
    def unpack(cls, raw: bytes) -> MbrEntry:
        return cls(*MBR_ENTRY.unpack(raw))

    def pack(self) -> bytes:
        return MBR_ENTRY.pack(
            self.boot_indicator,
            self.start_chs,
            self.os_type,
            self.end_chs,
            self.start_lba,
            self.size_lba,
        )


def mbr_entries(sector: bytes) -> list[MbrEntry]:
    """The four partition records of an MBR sector (at least 512 bytes)."""
    return [
        MbrEntry.unpack(
            sector[
                MBR_PART_TABLE_OFFSET + i * MBR_PART_ENTRY_SIZE : MBR_PART_TABLE_OFFSET
                + (i + 1) * MBR_PART_ENTRY_SIZE
            ]
        )
        for i in range(MBR_PART_COUNT)
    ]


def mbr_signature(sector: bytes) -> int:
    """The 16-bit boot signature at offset 510 (0xAA55 when valid)."""
    value: int = struct.unpack_from("<H", sector, MBR_SIGNATURE_OFFSET)[0]
    return value


def pack_protective_mbr(num_lbas: int, lba_size: int) -> bytes:
    """A whole LBA 0 holding a protective MBR covering the disk (UEFI 5.2.3)."""
    entry = MbrEntry(
        boot_indicator=0,
        start_chs=PMBR_START_CHS,
        os_type=MbrType.GPT_PROTECTIVE,
        end_chs=PMBR_END_CHS,
        start_lba=PMBR_START_LBA,
        size_lba=min(num_lbas - 1, MBR_SIZE_CAP),
    )
    sector = bytearray(lba_size)
    sector[MBR_PART_TABLE_OFFSET : MBR_PART_TABLE_OFFSET + MBR_PART_ENTRY_SIZE] = entry.pack()
    struct.pack_into("<H", sector, MBR_SIGNATURE_OFFSET, MBR_SIGNATURE)
    return bytes(sector)


# --- GPT header (UEFI 5.3.2, table 5-5) -------------------------------------------

GPT_SIGNATURE = b"EFI PART"
GPT_REVISION_1_0 = 0x00010000
GPT_HEADER_SIZE = 92  # the defined fields; HeaderSize may be larger, up to the LBA size
PRIMARY_HEADER_LBA = 1
HEADER_CRC_OFFSET = 16  # HeaderCRC32 is zeroed while the CRC is computed (UEFI 5.3.2)

GPT_HEADER_FMT = "<8sIIIIQQQQ16sQIII"
GPT_HEADER = struct.Struct(GPT_HEADER_FMT)
assert GPT_HEADER.size == GPT_HEADER_SIZE


@dataclass(frozen=True)
class GptHeader:
    """The fields of a GPT header (UEFI table 5-5), GUIDs as raw 16-byte fields."""

    signature: bytes
    revision: int
    header_size: int
    header_crc32: int
    reserved: int
    my_lba: int
    alternate_lba: int
    first_usable_lba: int
    last_usable_lba: int
    disk_guid: bytes
    partition_entry_lba: int
    num_partition_entries: int
    size_of_partition_entry: int
    partition_entry_array_crc32: int

    @classmethod
    def unpack(cls, raw: bytes) -> GptHeader:
        return cls(*GPT_HEADER.unpack_from(raw, 0))

    def pack(self) -> bytes:
        return GPT_HEADER.pack(
            self.signature,
            self.revision,
            self.header_size,
            self.header_crc32,
            self.reserved,
            self.my_lba,
            self.alternate_lba,
            self.first_usable_lba,
            self.last_usable_lba,
            self.disk_guid,
            self.partition_entry_lba,
            self.num_partition_entries,
            self.size_of_partition_entry,
            self.partition_entry_array_crc32,
        )


def header_crc(raw: bytes, header_size: int) -> int:
    """CRC32 of the first ``header_size`` bytes with the CRC field taken as zero."""
    data = bytearray(raw[:header_size])
    data[HEADER_CRC_OFFSET : HEADER_CRC_OFFSET + 4] = bytes(4)
    return crc32(bytes(data))


def crc32(data: bytes) -> int:
    """The UEFI CRC32 (the IEEE 802.3 polynomial, as zlib computes it; UEFI Appendix A)."""
    return zlib.crc32(data) & 0xFFFFFFFF


# --- Partition entries (UEFI 5.3.3, table 5-6) ------------------------------------

GPT_ENTRY_SIZE = 128  # the minimum; SizeOfPartitionEntry is 128 * 2^n
GPT_DEFAULT_ENTRIES = 128
GPT_MIN_ARRAY_BYTES = 16384  # space the spec reserves for the array (UEFI 5.3.2)
GPT_MAX_ARRAY_BYTES = 4 << 20  # qrv's cap (as util-linux): refuse absurd allocations
GPT_NAME_BYTES = 72
GPT_NAME_UNITS = GPT_NAME_BYTES // 2  # 36 UTF-16LE code units

GPT_ENTRY_FMT = "<16s16sQQQ72s"
GPT_ENTRY = struct.Struct(GPT_ENTRY_FMT)
assert GPT_ENTRY.size == GPT_ENTRY_SIZE


@dataclass(frozen=True)
class GptEntry:
    """One partition entry (UEFI table 5-6); an all-zero type GUID marks it unused."""

    type_guid: bytes
    part_guid: bytes
    starting_lba: int
    ending_lba: int
    attributes: int
    name: bytes

    @classmethod
    def unpack(cls, raw: bytes) -> GptEntry:
        return cls(*GPT_ENTRY.unpack_from(raw, 0))

    def pack(self) -> bytes:
        return GPT_ENTRY.pack(
            self.type_guid,
            self.part_guid,
            self.starting_lba,
            self.ending_lba,
            self.attributes,
            self.name,
        )

    @property
    def used(self) -> bool:
        return self.type_guid != UNUSED_GUID.bytes_le


class GptAttr(IntFlag):
    """Partition attribute bits 0..2 (UEFI table 5-7); 3..47 reserved, 48..63 type-specific."""

    REQUIRED = 1 << 0
    NO_BLOCK_IO_PROTOCOL = 1 << 1
    LEGACY_BIOS_BOOTABLE = 1 << 2


ATTR_NAMES: dict[GptAttr, str] = {
    GptAttr.REQUIRED: "required",
    GptAttr.NO_BLOCK_IO_PROTOCOL: "no-block-io",
    GptAttr.LEGACY_BIOS_BOOTABLE: "legacy-bios-bootable",
}
ATTR_TYPE_SPECIFIC_SHIFT = 48


# --- Partition type GUIDs (UEFI table 5-7 and the common OS registries) -----------

UNUSED_GUID = uuid.UUID(int=0)
LINUX_FILESYSTEM_GUID = uuid.UUID("0fc63daf-8483-4772-8e79-3d69d8477de4")
QRV_GUID = uuid.UUID("51525611-322e-4017-bae8-e4d9c9d4e979")
EFI_SYSTEM_GUID = uuid.UUID("c12a7328-f81f-11d2-ba4b-00a0c93ec93b")

TYPE_NAMES: dict[uuid.UUID, str] = {
    EFI_SYSTEM_GUID: "EFI System",
    uuid.UUID("024dee41-33e7-11d3-9d69-0008c781f39f"): "MBR partition scheme",
    uuid.UUID("21686148-6449-6e6f-744e-656564454649"): "BIOS boot",
    LINUX_FILESYSTEM_GUID: "Linux filesystem",
    uuid.UUID("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"): "Linux swap",
    uuid.UUID("e6d6d379-f507-44c2-a23c-238f2a3df928"): "Linux LVM",
    uuid.UUID("a19d880f-05fc-4d3b-a006-743f0f84911e"): "Linux RAID",
    uuid.UUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"): "Linux root (x86-64)",
    uuid.UUID("72ec70a6-cf74-40e6-bd49-4bda08e8f224"): "Linux root (RISC-V 64)",
    uuid.UUID("933ac7e1-2eb4-4f13-b844-0e14e2aef915"): "Linux home",
    uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"): "Microsoft basic data",
    uuid.UUID("e3c9e316-0b5c-4db8-817d-f92df00215ae"): "Microsoft reserved",
    uuid.UUID("516e7cb4-6ecf-11d6-8ff8-00022d09712b"): "FreeBSD UFS",
    uuid.UUID("48465300-0000-11aa-aa11-00306543ecac"): "Apple HFS+",
    QRV_GUID: "QRV",
}

# Short names accepted on the command line (mkgpt SIZE:TYPE:NAME).
TYPE_ALIASES: dict[str, uuid.UUID] = {
    "linux": LINUX_FILESYSTEM_GUID,
    "qrv": QRV_GUID,
    "efi": EFI_SYSTEM_GUID,
    "bios": uuid.UUID("21686148-6449-6e6f-744e-656564454649"),
    "swap": uuid.UUID("0657fd6d-a4ab-43c4-84e5-0933c84b4f4f"),
    "lvm": uuid.UUID("e6d6d379-f507-44c2-a23c-238f2a3df928"),
    "raid": uuid.UUID("a19d880f-05fc-4d3b-a006-743f0f84911e"),
    "home": uuid.UUID("933ac7e1-2eb4-4f13-b844-0e14e2aef915"),
    "msdata": uuid.UUID("ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"),
}


# sgdisk's 4-hex type codes (gdisk parttypes.cc) for the types above
SGDISK_CODES: dict[str, uuid.UUID] = {
    "8300": LINUX_FILESYSTEM_GUID,
    "8200": TYPE_ALIASES["swap"],
    "8e00": TYPE_ALIASES["lvm"],
    "fd00": TYPE_ALIASES["raid"],
    "8302": TYPE_ALIASES["home"],
    "8304": uuid.UUID("4f68bce3-e8cd-4db1-96e7-fbcaf984b709"),
    "ef00": EFI_SYSTEM_GUID,
    "ef01": uuid.UUID("024dee41-33e7-11d3-9d69-0008c781f39f"),
    "ef02": TYPE_ALIASES["bios"],
    "0700": TYPE_ALIASES["msdata"],
    "0c01": uuid.UUID("e3c9e316-0b5c-4db8-817d-f92df00215ae"),
    "a503": uuid.UUID("516e7cb4-6ecf-11d6-8ff8-00022d09712b"),
    "af00": uuid.UUID("48465300-0000-11aa-aa11-00306543ecac"),
}


def type_name(guid: uuid.UUID) -> str | None:
    """A friendly name for a well-known partition type, else None."""
    return TYPE_NAMES.get(guid)


def array_lbas(num_entries: int, entry_size: int, lba_size: int) -> int:
    """LBAs an entry array occupies: ceil(count * size / lba_size) (UEFI 5.3.2)."""
    return -(-num_entries * entry_size // lba_size)

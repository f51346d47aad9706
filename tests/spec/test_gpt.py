"""qrv.spec.gpt against the UEFI 2.10 tables and well-known on-disk values."""

from __future__ import annotations

import uuid

from qrv.spec.gpt import (
    EFI_SYSTEM_GUID,
    GPT_ENTRY,
    GPT_HEADER,
    LINUX_FILESYSTEM_GUID,
    MBR_ENTRY,
    QRV_GUID,
    GptEntry,
    GptHeader,
    array_lbas,
    crc32,
    header_crc,
    mbr_entries,
    mbr_signature,
    pack_protective_mbr,
    type_name,
)


def test_struct_sizes_match_uefi_tables() -> None:
    assert GPT_HEADER.size == 92  # UEFI table 5-5
    assert GPT_ENTRY.size == 128  # UEFI table 5-6
    assert MBR_ENTRY.size == 16  # UEFI table 5-2


def test_header_field_offsets() -> None:
    # Distinct values, then check each lands at the offset UEFI table 5-5 gives.
    hdr = GptHeader(
        b"EFI PART", 0x00010000, 92, 0x11223344, 0, 0x0101, 0x0202, 0x0303, 0x0404,
        bytes(range(16)), 0x0505, 0x0606, 0x0707, 0x08080808,
    )  # fmt: skip
    raw = hdr.pack()
    assert raw[0:8] == b"EFI PART"
    assert raw[8:12] == bytes.fromhex("00000100")
    assert raw[12:16] == (92).to_bytes(4, "little")
    assert raw[16:20] == bytes.fromhex("44332211")
    assert raw[24:32] == (0x0101).to_bytes(8, "little")
    assert raw[32:40] == (0x0202).to_bytes(8, "little")
    assert raw[40:48] == (0x0303).to_bytes(8, "little")
    assert raw[48:56] == (0x0404).to_bytes(8, "little")
    assert raw[56:72] == bytes(range(16))
    assert raw[72:80] == (0x0505).to_bytes(8, "little")
    assert raw[80:84] == (0x0606).to_bytes(4, "little")
    assert raw[84:88] == (0x0707).to_bytes(4, "little")
    assert raw[88:92] == bytes.fromhex("08080808")
    assert GptHeader.unpack(raw) == hdr


def test_entry_field_offsets() -> None:
    entry = GptEntry(b"T" * 16, b"P" * 16, 34, 32801, 1 << 63, b"n\0" + bytes(70))
    raw = entry.pack()
    assert raw[32:40] == (34).to_bytes(8, "little")
    assert raw[40:48] == (32801).to_bytes(8, "little")
    assert raw[48:56] == (1 << 63).to_bytes(8, "little")
    assert raw[56:58] == b"n\0"
    assert GptEntry.unpack(raw) == entry
    assert entry.used
    assert not GptEntry(bytes(16), b"P" * 16, 0, 0, 0, bytes(72)).used


def test_crc32_is_the_ieee_check_value() -> None:
    # The standard CRC-32 check value (CRC catalogue "CRC-32/ISO-HDLC").
    assert crc32(b"123456789") == 0xCBF43926


def test_header_crc_zeroes_the_crc_field() -> None:
    raw = bytearray(92)
    raw[16:20] = b"\xff\xff\xff\xff"
    assert header_crc(bytes(raw), 92) == crc32(bytes(92))


def test_guid_on_disk_bytes_are_mixed_endian() -> None:
    # EFI System Partition GUID as it sits on disk (UEFI table 5-7 / Appendix A).
    assert EFI_SYSTEM_GUID.bytes_le == bytes.fromhex("28732ac11ff8d211ba4b00a0c93ec93b")
    assert LINUX_FILESYSTEM_GUID.bytes_le == bytes.fromhex("af3dc60f838472478e793d69d8477de4")
    assert str(QRV_GUID) == "51525611-322e-4017-bae8-e4d9c9d4e979"
    assert type_name(LINUX_FILESYSTEM_GUID) == "Linux filesystem"
    assert type_name(uuid.UUID(int=5)) is None


def test_protective_mbr_layout() -> None:
    sector = pack_protective_mbr(131072, 512)
    assert len(sector) == 512
    assert sector[510:512] == b"\x55\xaa"
    assert mbr_signature(sector) == 0xAA55
    entries = mbr_entries(sector)
    assert entries[0].os_type == 0xEE
    assert (entries[0].start_lba, entries[0].size_lba) == (1, 131071)
    assert all(e.os_type == 0 for e in entries[1:])


def test_protective_mbr_size_saturates() -> None:
    # UEFI 5.2.3: SizeInLBA is 0xFFFFFFFF when the disk is too big for the field.
    sector = pack_protective_mbr((1 << 33) + 7, 4096)
    assert len(sector) == 4096
    assert mbr_entries(sector)[0].size_lba == 0xFFFFFFFF


def test_array_lbas() -> None:
    assert array_lbas(128, 128, 512) == 32
    assert array_lbas(128, 128, 4096) == 4
    assert array_lbas(1, 128, 512) == 1
    assert array_lbas(5, 256, 512) == 3

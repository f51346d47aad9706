"""Validity checks of one GPT header copy (UEFI 2.10 5.3.2), in the order issue 2
lists them: signature, revision, header size, header CRC32, MyLBA, usable range,
entry size and count, entry array placement."""

from __future__ import annotations

from qrv.lib.gpt.errors import GptErr, GptParseError
from qrv.spec.gpt import (
    GPT_ENTRY_SIZE,
    GPT_HEADER_SIZE,
    GPT_MAX_ARRAY_BYTES,
    GPT_REVISION_1_0,
    GPT_SIGNATURE,
    GptHeader,
    array_lbas,
    header_crc,
)


def readable(raw: bytes) -> str:
    """Bytes as a person reads them: hex, then the text in quotes when it is printable ASCII."""
    text = " ".join(f"{b:02x}" for b in raw)
    if raw and all(0x20 <= b < 0x7F for b in raw):
        text += f' ("{raw.decode("ascii")}")'
    return text


def fail(code: GptErr, lba: int, text: str) -> GptParseError:
    return GptParseError(code, f"GPT header at LBA {lba}: {text}")


def check_header(raw: bytes, lba: int, lba_size: int, num_lbas: int) -> GptHeader:
    """Field checks of one header sector, in order; raise on the first failure."""
    hdr = GptHeader.unpack(raw)
    if hdr.signature != GPT_SIGNATURE:
        raise fail(
            GptErr.GPT_ERR_BAD_SIG,
            lba,
            f'signature {readable(hdr.signature)}, expected "{GPT_SIGNATURE.decode()}"',
        )
    if hdr.revision != GPT_REVISION_1_0:
        raise fail(
            GptErr.GPT_ERR_BAD_REV,
            lba,
            f"revision 0x{hdr.revision:08x}, expected 0x{GPT_REVISION_1_0:08x} (1.0)",
        )
    if not GPT_HEADER_SIZE <= hdr.header_size <= lba_size:
        raise fail(
            GptErr.GPT_ERR_BAD_HDR_SIZE,
            lba,
            f"header size {hdr.header_size}, expected {GPT_HEADER_SIZE}..{lba_size}",
        )
    computed = header_crc(raw, hdr.header_size)
    if computed != hdr.header_crc32:
        raise fail(
            GptErr.GPT_ERR_BAD_HDR_CRC,
            lba,
            f"header CRC32 is 0x{hdr.header_crc32:08x} but the header sums to 0x{computed:08x}",
        )
    if hdr.my_lba != lba:
        raise fail(GptErr.GPT_ERR_BAD_MY_LBA, lba, f"MyLBA is {hdr.my_lba}, expected {lba}")
    first, last = hdr.first_usable_lba, hdr.last_usable_lba
    if not 0 < first <= last < num_lbas:
        raise fail(
            GptErr.GPT_ERR_BAD_GEOMETRY,
            lba,
            f"usable range {first}..{last} is not an ordered range inside the disk "
            f"(LBAs 0..{num_lbas - 1})",
        )
    for what, where in (("the header itself", lba), ("the alternate header", hdr.alternate_lba)):
        if first <= where <= last:
            raise fail(
                GptErr.GPT_ERR_BAD_GEOMETRY,
                lba,
                f"usable range {first}..{last} contains {what} (LBA {where})",
            )
    if hdr.alternate_lba == lba:
        raise fail(GptErr.GPT_ERR_BAD_GEOMETRY, lba, "AlternateLBA points at the header itself")
    _check_entry_array(hdr, lba, num_lbas, lba_size)
    return hdr


def _check_entry_array(hdr: GptHeader, lba: int, num_lbas: int, lba_size: int) -> None:
    """Entry size 128 * 2^n, a bounded count, the array inside the disk and outside the
    usable range and both headers (UEFI 5.3.2, 5.3.3)."""
    size, count = hdr.size_of_partition_entry, hdr.num_partition_entries
    multiple = size // GPT_ENTRY_SIZE
    if size < GPT_ENTRY_SIZE or size % GPT_ENTRY_SIZE or multiple & (multiple - 1):
        raise fail(
            GptErr.GPT_ERR_BAD_ENTRY_SIZE,
            lba,
            f"partition entry size {size}, expected 128 * 2^n",
        )
    if not 0 < count * size <= GPT_MAX_ARRAY_BYTES:
        raise fail(
            GptErr.GPT_ERR_BAD_ENTRY_SIZE,
            lba,
            f"{count} entries of {size} bytes: the array must hold 1 entry "
            f"and at most {GPT_MAX_ARRAY_BYTES} bytes",
        )
    start = hdr.partition_entry_lba
    end = start + array_lbas(count, size, lba_size) - 1
    problem = None
    if start <= 0 or end >= num_lbas:
        problem = f"lies outside the disk (LBAs 0..{num_lbas - 1})"
    elif start <= hdr.last_usable_lba and hdr.first_usable_lba <= end:
        problem = f"overlaps the usable range {hdr.first_usable_lba}..{hdr.last_usable_lba}"
    elif start <= lba <= end or start <= hdr.alternate_lba <= end:
        problem = "overlaps a GPT header"
    if problem is not None:
        raise fail(
            GptErr.GPT_ERR_BAD_GEOMETRY,
            lba,
            f"partition entry array (LBAs {start}..{end}) {problem}",
        )

"""Guessing the LBA size of an image: look for the "EFI PART" signature where the
primary header (LBA 1) or the backup header (last LBA) would be for each size."""

from __future__ import annotations

from collections.abc import Callable

from qrv.lib.gpt.parse import LBA_SIZES
from qrv.spec.gpt import GPT_SIGNATURE, PRIMARY_HEADER_LBA

ReadBytes = Callable[[int, int], bytes]  # (byte offset, length) -> bytes


def detect_lba_size(read_bytes: ReadBytes, size_bytes: int) -> int | None:
    """The LBA size whose primary (preferred) or backup header carries the GPT
    signature, or None when no header is found at either size."""
    sig_len = len(GPT_SIGNATURE)
    for lba_size in LBA_SIZES:
        offset = PRIMARY_HEADER_LBA * lba_size
        if offset + sig_len <= size_bytes and read_bytes(offset, sig_len) == GPT_SIGNATURE:
            return lba_size
    for lba_size in LBA_SIZES:
        last = size_bytes // lba_size - 1
        if last > PRIMARY_HEADER_LBA and read_bytes(last * lba_size, sig_len) == GPT_SIGNATURE:
            return lba_size
    return None

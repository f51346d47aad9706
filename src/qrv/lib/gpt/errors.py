"""libgpt error codes and exceptions (named after the seed's GPT_ERR_* codes)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from qrv.errors import GptError


class GptErr(IntEnum):
    """Why a GPT (or one copy of it) was rejected, or what problem was seen."""

    GPT_ERR_READ = 1  # the read callback failed or returned too little
    GPT_ERR_NO_PMBR = 2  # no 0x55AA boot signature, or an MBR with no entries at all
    GPT_ERR_PLAIN_MBR = 3  # an MBR partition table without a 0xEE protective entry
    GPT_ERR_HYBRID_MBR = 4  # 0xEE plus other MBR partitions (hybrid: the GPT is read, reported)
    GPT_ERR_BAD_PMBR = 5  # protective MBR malformed (several 0xEE, wrong start or size)
    GPT_ERR_BAD_SIG = 6  # header signature is not "EFI PART"
    GPT_ERR_BAD_REV = 7  # header revision is not 1.0
    GPT_ERR_BAD_HDR_SIZE = 8  # HeaderSize outside 92 .. LBA size
    GPT_ERR_BAD_HDR_CRC = 9  # header CRC32 mismatch
    GPT_ERR_BAD_MY_LBA = 10  # MyLBA is not the LBA the header was read from
    GPT_ERR_BAD_GEOMETRY = 11  # usable range / array placement / disk size inconsistent
    GPT_ERR_BAD_ENTRY_SIZE = 12  # entry size not 128 * 2^n, or entry count out of bounds
    GPT_ERR_BAD_ENTRY_CRC = 13  # partition entry array CRC32 mismatch
    GPT_ERR_PART_RANGE = 14  # a partition ends before it starts or leaves the usable range
    GPT_ERR_PART_OVERLAP = 15  # two partitions share LBAs
    GPT_ERR_BACKUP = 16  # backup header missing, misplaced or different from the primary


class GptParseError(GptError):
    """A GPT that cannot be used; ``code`` says why."""

    def __init__(self, code: GptErr, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"GptParseError({self.code.name}, {self.message!r})"


class GptLayoutError(GptError):
    """A table the writer was asked to build does not fit or is inconsistent."""


@dataclass(frozen=True)
class GptIssue:
    """A problem found in a table that was still usable."""

    code: GptErr
    message: str

    def __str__(self) -> str:
        return self.message

"""Table-level checks: the protective MBR (UEFI 5.2.3) and the used partition
entries (UEFI 5.3.3: inside the usable range, no overlaps)."""

from __future__ import annotations

from collections.abc import Sequence

from qrv.lib.gpt.errors import GptErr, GptIssue, GptParseError
from qrv.lib.gpt.table import GptPartition
from qrv.spec.gpt import (
    MBR_SIGNATURE,
    MBR_SIZE_CAP,
    PMBR_START_LBA,
    MbrType,
    mbr_entries,
    mbr_signature,
)


def check_protective_mbr(sector: bytes, num_lbas: int) -> list[GptIssue]:
    """Reject anything but a protective MBR; return its minor problems.

    One 0xEE entry is required, in any of the four slots.  A plain MBR (no
    0xEE) and a hybrid MBR (0xEE plus other partitions) raise distinct codes.
    """
    signature = mbr_signature(sector)
    if signature != MBR_SIGNATURE:
        raise GptParseError(
            GptErr.GPT_ERR_NO_PMBR,
            f"no protective MBR: boot signature at LBA 0 is 0x{signature:04x}, "
            f"expected 0x{MBR_SIGNATURE:04x} (bytes 55 aa)",
        )
    entries = mbr_entries(sector)
    protective = [(i, e) for i, e in enumerate(entries) if e.os_type == MbrType.GPT_PROTECTIVE]
    others = [
        (i, e)
        for i, e in enumerate(entries)
        if e.os_type not in (MbrType.EMPTY, MbrType.GPT_PROTECTIVE)
    ]
    kinds = ", ".join(f"slot {i + 1} type 0x{e.os_type:02x}" for i, e in others)
    if not protective and others:
        raise GptParseError(
            GptErr.GPT_ERR_PLAIN_MBR,
            f"plain MBR partition table ({kinds}), not a GPT: no 0xEE protective entry",
        )
    if not protective:
        raise GptParseError(
            GptErr.GPT_ERR_NO_PMBR,
            "no protective MBR: LBA 0 has a boot signature but no 0xEE entry",
        )
    if others:
        raise GptParseError(
            GptErr.GPT_ERR_HYBRID_MBR,
            f"hybrid MBR (0xEE plus {kinds}) is not supported: "
            "a protective MBR holds a single 0xEE entry",
        )
    if len(protective) > 1:
        raise GptParseError(
            GptErr.GPT_ERR_BAD_PMBR,
            f"protective MBR has {len(protective)} 0xEE entries, expected exactly one",
        )
    slot, entry = protective[0]
    issues: list[GptIssue] = []
    if entry.start_lba != PMBR_START_LBA:
        issues.append(
            GptIssue(
                GptErr.GPT_ERR_BAD_PMBR,
                f"protective MBR entry (slot {slot + 1}) starts at LBA {entry.start_lba}, "
                f"expected {PMBR_START_LBA}",
            )
        )
    expected_size = min(num_lbas - 1, MBR_SIZE_CAP)
    if entry.size_lba > expected_size:
        issues.append(
            GptIssue(
                GptErr.GPT_ERR_BAD_PMBR,
                f"protective MBR entry covers {entry.size_lba} LBAs, "
                f"more than the disk's {expected_size}",
            )
        )
    return issues


def _label(p: GptPartition) -> str:
    return f"partition {p.index} (LBA {p.start_lba}..{p.end_lba})"


def check_partitions(
    parts: Sequence[GptPartition], first_usable: int, last_usable: int
) -> list[GptIssue]:
    """Every used entry must have start <= end, lie in [first, last] and overlap no other.

    Overlaps are found for every pair (sorted sweep), each named.
    """
    issues: list[GptIssue] = []
    ordered: list[GptPartition] = []
    for p in parts:
        if p.start_lba > p.end_lba:
            issues.append(
                GptIssue(
                    GptErr.GPT_ERR_PART_RANGE,
                    f"partition {p.index} ends (LBA {p.end_lba}) before it starts "
                    f"(LBA {p.start_lba})",
                )
            )
            continue
        if p.start_lba < first_usable or p.end_lba > last_usable:
            issues.append(
                GptIssue(
                    GptErr.GPT_ERR_PART_RANGE,
                    f"{_label(p)} lies outside the usable range {first_usable}..{last_usable}",
                )
            )
        ordered.append(p)
    ordered.sort(key=lambda p: (p.start_lba, p.index))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.start_lba > a.end_lba:
                break
            first, second = sorted((a, b), key=lambda p: p.index)
            issues.append(
                GptIssue(
                    GptErr.GPT_ERR_PART_OVERLAP,
                    f"{_label(first)} overlaps {_label(second)}",
                )
            )
    return issues

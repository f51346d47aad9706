"""Table-level checks: the protective MBR (UEFI 5.2.3) and the used partition
entries (UEFI 5.3.3: inside the usable range, no overlaps)."""

from __future__ import annotations

import heapq
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
    0xEE) is refused.  A hybrid MBR (0xEE plus other partitions) is a problem
    reported, and the GPT behind it is read, as sgdisk and Linux do.  Several
    0xEE entries are a problem, not a refusal (sgdisk only warns; the seed's libgpt
    reads such a disk): the first one is checked.
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
    issues: list[GptIssue] = []
    if others:
        issues.append(
            GptIssue(
                GptErr.GPT_ERR_HYBRID_MBR,
                f"hybrid MBR (0xEE plus {kinds}): the GPT is used and the MBR partitions "
                "are ignored (a protective MBR holds a single 0xEE entry)",
            )
        )
    slot, entry = protective[0]
    if len(protective) > 1:
        # sgdisk only warns and the seed's libgpt reads on: the first entry counts
        slots = ", ".join(str(i + 1) for i, _ in protective)
        issues.append(
            GptIssue(
                GptErr.GPT_ERR_BAD_PMBR,
                f"protective MBR has {len(protective)} 0xEE entries (slots {slots}), "
                f"expected exactly one; slot {slot + 1} is used",
            )
        )
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


ISSUES_LISTED = 16
"""Problems of one kind named one by one; the rest are counted in one more line."""


def _label(p: GptPartition) -> str:
    return f"partition {p.index} (LBA {p.start_lba}..{p.end_lba})"


class _Bounded:
    """The issues of one kind: the first :data:`ISSUES_LISTED` named, the rest counted."""

    def __init__(self, code: GptErr, more: str) -> None:
        self.code, self.more = code, more
        self.listed: list[GptIssue] = []
        self.count = 0

    @property
    def full(self) -> bool:
        return self.count >= ISSUES_LISTED

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.listed) < ISSUES_LISTED:
            self.listed.append(GptIssue(self.code, message))

    def skip(self, n: int) -> None:
        """Count `n` issues without naming them (the list is already full)."""
        self.count += n

    def issues(self) -> list[GptIssue]:
        rest = self.count - len(self.listed)
        if rest <= 0:
            return self.listed
        summary = f"and {rest} more {self.more} ({self.count} in all)"
        return [*self.listed, GptIssue(self.code, summary)]


def check_partitions(
    parts: Sequence[GptPartition], first_usable: int, last_usable: int
) -> list[GptIssue]:
    """Every used entry must have start <= end, lie in [first, last] and overlap no other.

    Overlaps are found by a sort and sweep (``O(n log n)`` for the 32,768
    entries a legal array may hold, however many pairs overlap).  Of each
    kind of problem the first :data:`ISSUES_LISTED` are named and the rest
    counted in one closing line, so a hostile table yields a short report.
    """
    reversed_ = _Bounded(GptErr.GPT_ERR_PART_RANGE, "partitions that end before they start")
    outside = _Bounded(GptErr.GPT_ERR_PART_RANGE, "partitions outside the usable range")
    ordered: list[GptPartition] = []
    for p in parts:
        if p.start_lba > p.end_lba:
            reversed_.add(
                f"partition {p.index} ends (LBA {p.end_lba}) before it starts (LBA {p.start_lba})"
            )
            continue
        if p.start_lba < first_usable or p.end_lba > last_usable:
            outside.add(f"{_label(p)} lies outside the usable range {first_usable}..{last_usable}")
        ordered.append(p)
    overlaps = _overlaps(ordered)
    return reversed_.issues() + outside.issues() + overlaps


def _overlaps(parts: list[GptPartition]) -> list[GptIssue]:
    """Every overlapping pair counted, the first ones named (sweep in start order).

    Sorted by start, the partitions still open when ``b`` starts (a heap by
    end LBA, ended ones popped) are exactly those that overlap ``b``.
    """
    found = _Bounded(GptErr.GPT_ERR_PART_OVERLAP, "overlapping pairs")
    open_: list[tuple[int, int, GptPartition]] = []  # (end_lba, index, partition)
    for b in sorted(parts, key=lambda p: (p.start_lba, p.index)):
        while open_ and open_[0][0] < b.start_lba:
            heapq.heappop(open_)
        if found.full:
            found.skip(len(open_))
        else:
            for _, _, a in sorted(open_, key=lambda e: (e[2].start_lba, e[1])):
                first, second = (a, b) if a.index < b.index else (b, a)
                found.add(f"{_label(first)} overlaps {_label(second)}")
        heapq.heappush(open_, (b.end_lba, b.index, b))
    return found.issues()

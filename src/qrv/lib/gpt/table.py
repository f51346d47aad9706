"""The result of parsing a GPT: a table of used partitions plus the problems seen."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from qrv.lib.gpt.errors import GptIssue
from qrv.lib.gpt.names import attribute_names
from qrv.spec.gpt import type_name

HeaderCopy = Literal["primary", "backup"]


@dataclass(frozen=True)
class GptPartition:
    """A used partition entry; ``index`` is its 1-based slot in the entry array."""

    index: int
    start_lba: int
    end_lba: int
    type_guid: uuid.UUID
    part_guid: uuid.UUID
    attributes: int
    name: str

    @property
    def num_lbas(self) -> int:
        """Inclusive range: end - start + 1 (UEFI table 5-6)."""
        return self.end_lba - self.start_lba + 1

    @property
    def type_name(self) -> str | None:
        return type_name(self.type_guid)

    @property
    def attribute_names(self) -> list[str]:
        return attribute_names(self.attributes)


@dataclass(frozen=True)
class GptTable:
    """A usable GPT: which header copy it came from, its partitions and its problems."""

    disk_guid: uuid.UUID
    lba_size: int
    num_lbas: int
    first_usable_lba: int
    last_usable_lba: int
    header: HeaderCopy
    header_lba: int
    alternate_lba: int
    partition_entry_lba: int
    num_entries: int
    entry_size: int
    partitions: tuple[GptPartition, ...]
    issues: tuple[GptIssue, ...] = field(default=())

    @property
    def problems(self) -> list[str]:
        """Every problem seen, as text (empty for a clean table)."""
        return [issue.message for issue in self.issues]

    @property
    def clean(self) -> bool:
        return not self.issues

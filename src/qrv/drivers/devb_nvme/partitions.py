"""Which GPT entries devb-nvme serves, and over which LBAs.

libgpt reports every problem of a table; the driver decides what it serves:

* an entry that ends before it starts is not served;
* an entry that starts outside the table's usable LBAs (on the GPT's own
  structures, or past the last usable LBA) is not served;
* an entry that starts inside but ends past the last usable LBA is served
  clipped to that LBA, as Linux truncates a partition that runs beyond the
  end of its disk: what the table describes is readable up to the disk's end,
  and nothing beyond is offered.

Each refusal or clip is one log line naming the entry and the reason.  The
usable range lies inside the namespace (libgpt checks the header), so a
served range never reaches past the disk.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.lib.gpt import GptPartition, GptTable


@dataclass(frozen=True)
class Served:
    """A partition as served: its entry and the LBA range [start, end] given to it."""

    part: GptPartition
    start_lba: int
    end_lba: int

    @property
    def num_lbas(self) -> int:
        return self.end_lba - self.start_lba + 1


def plan(table: GptTable) -> tuple[list[Served], list[str]]:
    """The partitions to serve and a log line for each entry refused or clipped."""
    first, last = table.first_usable_lba, table.last_usable_lba
    served: list[Served] = []
    notes: list[str] = []
    for p in table.partitions:
        name = f"p{p.index}"
        if p.end_lba < p.start_lba:
            notes.append(
                f"{name} not served: it ends (LBA {p.end_lba}) before it starts (LBA {p.start_lba})"
            )
        elif not first <= p.start_lba <= last:
            notes.append(
                f"{name} not served: it starts at LBA {p.start_lba}, "
                f"outside the usable LBAs {first}..{last}"
            )
        elif p.end_lba > last:
            notes.append(
                f"{name} runs past the last usable LBA {last} (ends at LBA {p.end_lba}): "
                f"served as LBA {p.start_lba}..{last}"
            )
            served.append(Served(p, p.start_lba, last))
        else:
            served.append(Served(p, p.start_lba, p.end_lba))
    return served, notes

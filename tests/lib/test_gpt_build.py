"""The table builder: geometry (UEFI 5.3.2 and what sgdisk / fdisk write), placement,
refusals and the crash-safe write order."""

from __future__ import annotations

import uuid

import pytest

from qrv.lib.gpt import GptGeometry, GptLayoutError, PartitionSpec, build_gpt, place_partitions
from tests.lib.gpt_images import LINUX


def test_geometry_512() -> None:
    # sgdisk -o on 64 MiB: first usable 34, last usable 131038 (sfdisk --json firstlba/lastlba).
    g = GptGeometry.for_disk(131072, 512)
    assert (g.first_usable_lba, g.last_usable_lba) == (34, 131038)
    assert (g.backup_array_lba, g.backup_header_lba, g.array_lbas) == (131039, 131071, 32)


def test_geometry_4096() -> None:
    # fdisk -b 4096: entries at LBA 2..5, first usable 6, last usable N-6.
    g = GptGeometry.for_disk(16384, 4096)
    assert (g.first_usable_lba, g.last_usable_lba, g.backup_array_lba) == (6, 16378, 16379)


@pytest.mark.parametrize(("num_lbas", "lba_size"), [(67, 512), (10, 4096), (1000, 1024)])
def test_geometry_refuses_tiny_disks_and_odd_lba_sizes(num_lbas: int, lba_size: int) -> None:
    with pytest.raises(GptLayoutError):
        GptGeometry.for_disk(num_lbas, lba_size)


def test_smallest_512_disk() -> None:
    g = GptGeometry.for_disk(68, 512)  # MBR + 2 headers + 2 arrays + 1 usable LBA
    assert g.first_usable_lba == g.last_usable_lba == 34


def test_place_back_to_back_and_aligned() -> None:
    g = GptGeometry.for_disk(131072, 512)
    assert place_partitions(g, [32768, 32768]) == [(34, 32801), (32802, 65569)]
    assert place_partitions(g, [100, 100], align_lbas=2048) == [(2048, 2147), (4096, 4195)]
    with pytest.raises(GptLayoutError, match="does not fit"):
        place_partitions(g, [65536, 65536])
    with pytest.raises(GptLayoutError, match="at least one LBA"):
        place_partitions(g, [0])


def spec(start: int, end: int, name: str = "") -> PartitionSpec:
    return PartitionSpec(start, end, LINUX, uuid.uuid4(), name)


@pytest.mark.parametrize(
    ("slots", "match"),
    [
        ([spec(34, 100), spec(100, 200)], "overlaps"),
        ([spec(33, 100)], "outside the usable range"),
        ([spec(34, 131039)], "outside the usable range"),
        ([spec(50, 40)], "outside the usable range"),
        ([spec(34, 40, "x" * 37)], "UTF-16 code units"),
        ([PartitionSpec(34, 40, uuid.UUID(int=0), uuid.uuid4())], "unused"),
        ([PartitionSpec(34, 40, LINUX, uuid.uuid4(), "", 1 << 64)], "64 bits"),
        ([None] * 129, "128 entries"),
    ],
)
def test_build_refusals(slots: list[PartitionSpec | None], match: str) -> None:
    with pytest.raises(GptLayoutError, match=match):
        build_gpt(GptGeometry.for_disk(131072, 512), slots, uuid.uuid4())


def test_write_order_is_crash_safe() -> None:
    # backup array, backup header, primary array, primary header, protective MBR.
    g = GptGeometry.for_disk(131072, 512)
    writes = build_gpt(g, [spec(34, 100)], uuid.uuid4())
    assert [lba for lba, _ in writes] == [131039, 131071, 2, 1, 0]
    assert [len(data) for _, data in writes] == [16384, 512, 16384, 512, 512]
    assert writes[1][1][:8] == writes[3][1][:8] == b"EFI PART"

"""Property tests (hypothesis): corruption never escapes as a foreign exception,
and any valid layout survives a write/parse round trip."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.lib.gpt import (
    GptGeometry,
    GptParseError,
    PartitionSpec,
    apply_writes,
    build_gpt,
    gpt_parse,
)
from tests.lib.gpt_images import Disk, make_disk

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A name is at most 36 UTF-16 code units: characters (no NUL, no lone surrogates).
names = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00\uffff"), max_size=36
).filter(lambda s: len(s.encode("utf-16-le")) <= 72)


@st.composite
def disks(draw: st.DrawFn) -> Disk:
    lba_size = draw(st.sampled_from([512, 4096]))
    sizes = draw(st.lists(st.integers(1, 8), max_size=4))
    return make_disk(sizes, num_lbas=draw(st.integers(100, 200)), lba_size=lba_size)


@SETTINGS
@given(
    disk=disks(),
    edits=st.lists(st.tuples(st.integers(0, 1 << 30), st.integers(0, 255)), min_size=1, max_size=8),
    meta_only=st.booleans(),
    truncate=st.integers(0, 3),
)
def test_corruption_raises_only_gpt_parse_error(
    disk: Disk, edits: list[tuple[int, int]], meta_only: bool, truncate: int
) -> None:
    size = len(disk.buf)
    head = 40 * disk.lba_size  # MBR, primary header and array
    for where, value in edits:
        if meta_only:  # aim at the structures: the first or the last 40 LBAs
            offset = where % (2 * head)
            offset = offset if offset < head else size - 2 * head + offset
        else:
            offset = where % size
        disk.buf[offset] = value
    num_lbas = disk.num_lbas - truncate  # the caller may also get the size wrong
    try:
        table = gpt_parse(disk.read_lba, disk.lba_size, num_lbas)
    except GptParseError:
        return
    for p in table.partitions:
        assert 1 <= p.index <= table.num_entries
    assert table.header in ("primary", "backup")


@st.composite
def layouts(draw: st.DrawFn) -> tuple[GptGeometry, list[PartitionSpec | None], uuid.UUID]:
    lba_size = draw(st.sampled_from([512, 4096]))
    entry_size = draw(st.sampled_from([128, 256]))
    num_entries = draw(st.integers(1, 40))
    geo = GptGeometry.for_disk(draw(st.integers(100, 400)), lba_size, num_entries, entry_size)
    slots: list[PartitionSpec | None] = []
    lba = geo.first_usable_lba
    for _ in range(draw(st.integers(0, num_entries))):
        if draw(st.booleans()):
            slots.append(None)  # a hole
            continue
        start = lba + draw(st.integers(0, 5))
        end = start + draw(st.integers(0, 10))
        if end > geo.last_usable_lba:
            break
        slots.append(
            PartitionSpec(
                start,
                end,
                draw(st.uuids().filter(lambda u: u.int != 0)),
                draw(st.uuids()),
                draw(names),
                draw(st.integers(0, (1 << 64) - 1)),
            )
        )
        lba = end + 1
    return geo, slots, draw(st.uuids())


@SETTINGS
@given(layout=layouts())
def test_write_then_parse_round_trips(
    layout: tuple[GptGeometry, list[PartitionSpec | None], uuid.UUID],
) -> None:
    geo, slots, disk_guid = layout
    buf = bytearray(geo.num_lbas * geo.lba_size)
    apply_writes(buf, build_gpt(geo, slots, disk_guid), geo.lba_size)
    disk = Disk(buf, geo.lba_size)
    table = gpt_parse(disk.read_lba, geo.lba_size, geo.num_lbas)
    assert table.clean, table.problems
    assert table.disk_guid == disk_guid
    assert (table.first_usable_lba, table.last_usable_lba) == (
        geo.first_usable_lba,
        geo.last_usable_lba,
    )
    expected = [
        (i, s.start_lba, s.end_lba, s.type_guid, s.part_guid, s.attributes, s.name)
        for i, s in enumerate(slots, 1)
        if s is not None
    ]
    got = [
        (p.index, p.start_lba, p.end_lba, p.type_guid, p.part_guid, p.attributes, p.name)
        for p in table.partitions
    ]
    assert got == expected

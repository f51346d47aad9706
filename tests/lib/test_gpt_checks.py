"""check_partitions against a brute-force reference (hypothesis): every overlapping pair
is counted, the named ones are real and come first in start order, and each kind of
problem is bounded to ISSUES_LISTED named plus one count."""

from __future__ import annotations

import itertools
import re
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.lib.gpt import GptErr
from qrv.lib.gpt.checks import ISSUES_LISTED, check_partitions
from qrv.lib.gpt.table import GptPartition

FIRST, LAST = 34, 400
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LABEL = re.compile(r"partition (\d+) \(LBA \d+\.\.\d+\) overlaps partition (\d+) \(LBA")
MORE = re.compile(r"and (\d+) more overlapping pairs \((\d+) in all\)")

ranges = st.lists(
    st.tuples(st.integers(0, LAST + 50), st.integers(0, 120)).map(lambda t: (t[0], t[0] + t[1])),
    max_size=40,
)


def partitions(spans: list[tuple[int, int]]) -> list[GptPartition]:
    return [
        GptPartition(i, start, end, uuid.UUID(int=1), uuid.UUID(int=i), 0, f"p{i}")
        for i, (start, end) in enumerate(spans, 1)
    ]


def brute_force_pairs(parts: list[GptPartition]) -> set[tuple[int, int]]:
    return {
        (a.index, b.index)
        for a, b in itertools.combinations(parts, 2)
        if a.start_lba <= b.end_lba and b.start_lba <= a.end_lba
    }


def check(spans: list[tuple[int, int]]) -> None:
    parts = partitions(spans)
    issues = check_partitions(parts, FIRST, LAST)
    overlaps = [i.message for i in issues if i.code == GptErr.GPT_ERR_PART_OVERLAP]
    expected = brute_force_pairs(parts)
    named = [tuple(int(n) for n in m.groups()) for m in map(LABEL.match, overlaps) if m]
    assert len(named) == min(len(expected), ISSUES_LISTED)
    assert set(named) <= expected and len(set(named)) == len(named)
    total = len(named)
    if len(overlaps) > len(named):
        summary = MORE.fullmatch(overlaps[-1])
        assert summary is not None, overlaps[-1]
        total = int(summary.group(2))
        assert int(summary.group(1)) == total - len(named)
    assert total == len(expected)
    ranged = [i for i in issues if i.code == GptErr.GPT_ERR_PART_RANGE]
    bad = [p for p in parts if not FIRST <= p.start_lba <= p.end_lba <= LAST]
    assert len(ranged) <= 2 * (ISSUES_LISTED + 1) and (not bad) == (not ranged)


@SETTINGS
@given(ranges)
def test_overlaps_match_brute_force(spans: list[tuple[int, int]]) -> None:
    check(spans)


@pytest.mark.slow
@settings(SETTINGS, max_examples=2000)
@given(ranges)
def test_overlaps_match_brute_force_many(spans: list[tuple[int, int]]) -> None:
    check(spans)


def test_listed_pairs_come_in_start_order() -> None:
    # 3 starts first but 1 and 2 start before it: pairs are named as the sweep meets them
    issues = check_partitions(partitions([(100, 200), (150, 160), (50, 300)]), FIRST, LAST)
    assert [i.message for i in issues] == [
        "partition 1 (LBA 100..200) overlaps partition 3 (LBA 50..300)",
        "partition 2 (LBA 150..160) overlaps partition 3 (LBA 50..300)",
        "partition 1 (LBA 100..200) overlaps partition 2 (LBA 150..160)",
    ]

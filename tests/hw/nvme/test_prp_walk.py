"""prp_segments (NVMe 1.4 §4.3) against a page-by-page reference walk: PRP1 at any dword
offset, PRP2 as a page or a list (at an offset inside its page, chained across list pages),
pages in order (one segment) or scattered, misaligned entries."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.hw.nvme.prp import INVALID_PRP_OFFSET, prp_segments
from qrv.hw.pcidev import DmaError
from qrv.spec.nvme import Status

PAGE = 4096
RAM_PAGES = 256  # data pages 0..127, list pages from 128 on
LIST_BASE = 128 * PAGE


class Ram:
    def __init__(self) -> None:
        self.data = bytearray(RAM_PAGES * PAGE)

    def read(self, addr: int, size: int) -> bytes:
        if addr < 0 or addr + size > len(self.data):
            raise DmaError(f"{addr:#x}")
        return bytes(self.data[addr : addr + size])


def reference(ram: Ram, prp1: int, prp2: int, length: int) -> list[tuple[int, int]] | Status:
    """One entry at a time, as the specification reads; adjacent pieces merged."""
    pieces = [(prp1, min(length, PAGE - prp1 % PAGE))]
    left = length - pieces[0][1]
    if 0 < left <= PAGE:
        if prp2 % PAGE:
            return INVALID_PRP_OFFSET
        pieces.append((prp2, left))
    elif left > 0:
        addr = prp2
        while left > 0:
            entry = struct.unpack("<Q", ram.read(addr, 8))[0]
            last_slot = (addr + 8) % PAGE == 0
            if last_slot and left > PAGE:  # the last entry of a list page: the next list
                if entry % PAGE:
                    return INVALID_PRP_OFFSET
                addr = entry
                continue
            if entry % PAGE:
                return INVALID_PRP_OFFSET
            pieces.append((entry, min(PAGE, left)))
            left -= PAGE
            addr += 8
    merged: list[tuple[int, int]] = []
    for addr, n in pieces:
        if merged and merged[-1][0] + merged[-1][1] == addr:
            merged[-1] = (merged[-1][0], merged[-1][1] + n)
        else:
            merged.append((addr, n))
    return merged


@st.composite
def transfers(draw: st.DrawFn) -> tuple[Ram, int, int, int]:
    ram = Ram()
    offset = draw(st.integers(0, PAGE // 4 - 1)) * 4
    length = draw(st.integers(1, 40 * PAGE))
    pages = -(-(offset + length) // PAGE)
    if draw(st.booleans()):
        start = draw(st.integers(0, 127 - pages))
        frames = list(range(start, start + pages))
    else:
        frames = draw(st.lists(st.integers(0, 127), min_size=pages, max_size=pages))
    addrs = [f * PAGE for f in frames]
    if draw(st.integers(0, 9)) == 0 and pages > 1:  # one misaligned entry
        at = draw(st.integers(1, pages - 1))
        addrs[at] += draw(st.sampled_from([8, 512, PAGE - 8]))
    prp1 = addrs[0] + offset
    if pages <= 2:
        return ram, prp1, addrs[1] if pages == 2 else 0, length
    list_addr = LIST_BASE + draw(st.integers(0, PAGE // 8 - 1)) * 8
    rest, addr, next_page = addrs[1:], list_addr, LIST_BASE + PAGE
    while rest:
        slots = (PAGE - addr % PAGE) // 8
        if len(rest) <= slots:
            ram.data[addr : addr + 8 * len(rest)] = struct.pack(f"<{len(rest)}Q", *rest)
            break
        chunk = [*rest[: slots - 1], next_page]
        ram.data[addr : addr + 8 * slots] = struct.pack(f"<{slots}Q", *chunk)
        rest, addr, next_page = rest[slots - 1 :], next_page, next_page + PAGE
    return ram, prp1, list_addr, length


def check(case: tuple[Ram, int, int, int]) -> None:
    ram, prp1, prp2, length = case
    assert prp_segments(ram.read, prp1, prp2, length, PAGE) == reference(ram, prp1, prp2, length)


@settings(max_examples=100, deadline=None)
@given(transfers())
def test_walk_matches_the_reference(case: tuple[Ram, int, int, int]) -> None:
    check(case)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None)
@given(transfers())
def test_walk_matches_the_reference_many(case: tuple[Ram, int, int, int]) -> None:
    check(case)


def test_a_contiguous_list_is_one_segment_and_a_gap_splits_it() -> None:
    ram = Ram()
    entries = [p * PAGE for p in range(11, 40)]
    ram.data[LIST_BASE : LIST_BASE + 8 * len(entries)] = struct.pack(f"<{len(entries)}Q", *entries)
    length = 30 * PAGE - 100
    assert prp_segments(ram.read, 10 * PAGE, LIST_BASE, length, PAGE) == [(10 * PAGE, length)]
    ram.data[LIST_BASE + 8 * 5 : LIST_BASE + 8 * 6] = struct.pack("<Q", 90 * PAGE)
    assert prp_segments(ram.read, 10 * PAGE, LIST_BASE, length, PAGE) == [
        (10 * PAGE, 6 * PAGE),
        (90 * PAGE, PAGE),
        (17 * PAGE, length - 7 * PAGE),
    ]

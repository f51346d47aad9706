"""SGL data pointers for I/O commands (NVMe 1.4 §4.4) on the built-in model: every
descriptor shape the model accepts, each rejection with its status, and a property test
of random SGLs against the bytes they name."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.hw.nvme.sgl import decode_descriptor, sgl_segments
from qrv.hw.pcidev import DmaError
from qrv.spec.nvme import AdminOpcode, Cns, Command, IdentifyController, NvmOpcode
from tests.hw.nvme.conftest import Rig
from tests.hw.nvme.host import (
    SGL_BIT_BUCKET,
    SGL_DATA_BLOCK,
    SGL_LAST_SEGMENT,
    SGL_SEGMENT,
    sgl_command,
    sgl_descriptor,
)
from tests.hw.nvme.test_admin import OK, status
from tests.hw.nvme.test_io import sector

LBA = 512
SEGMENT_DESCRIPTOR_INVALID = (0, 0x0D, True)
DESCRIPTOR_COUNT_INVALID = (0, 0x0E, True)
DATA_LENGTH_INVALID = (0, 0x0F, True)
DESCRIPTOR_TYPE_INVALID = (0, 0x11, True)
DATA_TRANSFER = (0, 0x04, False)


def read(r: Rig, first: bytes, slba: int, nlb: int) -> tuple[int, int, bool]:
    return status(r.host.command(1, sgl_command(NvmOpcode.READ, first, slba=slba, nlb=nlb)))


def test_identify_announces_sgls(ready: Rig) -> None:
    assert IdentifyController.unpack(ready.host.identify(Cns.CONTROLLER)[1]).sgls & 0b11 == 1


def test_data_block_in_the_sqe(ready: Rig) -> None:
    h = ready.host
    buf = h.buffer(2 * LBA) + 8  # SGLs need no alignment
    assert read(ready, sgl_descriptor(buf, 2 * LBA, SGL_DATA_BLOCK), 10, 2) == OK
    assert h.bus.read(buf, 2 * LBA) == sector(10) + sector(11)


def test_segment_chain_write_then_read(ready: Rig) -> None:
    """A Segment whose last descriptor points to a Last Segment; zero-length blocks are
    allowed anywhere."""
    h = ready.host
    blocks = [h.buffer(4096) + 3, h.buffer(4096), h.buffer(4096) + 100]
    payload = os.urandom(3 * LBA)
    for i, addr in enumerate(blocks):
        h.bus.write(addr, payload[i * LBA : (i + 1) * LBA])
    seg, last = h.buffer(4096), h.buffer(4096)
    h.bus.write(
        seg,
        sgl_descriptor(blocks[0], LBA, SGL_DATA_BLOCK)
        + sgl_descriptor(0, 0, SGL_DATA_BLOCK)
        + sgl_descriptor(last, 32, SGL_LAST_SEGMENT),
    )
    h.bus.write(
        last,
        sgl_descriptor(blocks[1], LBA, SGL_DATA_BLOCK)
        + sgl_descriptor(blocks[2], LBA, SGL_DATA_BLOCK),
    )
    first = sgl_descriptor(seg, 48, SGL_SEGMENT)
    cqe = h.command(1, sgl_command(NvmOpcode.WRITE, first, slba=40, nlb=3))
    assert status(cqe) == OK
    back = h.buffer(3 * LBA)
    assert read(ready, sgl_descriptor(back, 3 * LBA, SGL_DATA_BLOCK), 40, 3) == OK
    assert h.bus.read(back, 3 * LBA) == payload


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("too-short", DATA_LENGTH_INVALID),
        ("too-long", DATA_LENGTH_INVALID),
        ("bit-bucket", DESCRIPTOR_TYPE_INVALID),
        ("reserved-type", DESCRIPTOR_TYPE_INVALID),
        ("offset-subtype", DESCRIPTOR_TYPE_INVALID),
        ("segment-length-0", SEGMENT_DESCRIPTOR_INVALID),
        ("segment-length-24", SEGMENT_DESCRIPTOR_INVALID),
        ("segment-in-last-segment", SEGMENT_DESCRIPTOR_INVALID),
        ("segment-not-last", DESCRIPTOR_COUNT_INVALID),
        ("segment-loop", DESCRIPTOR_COUNT_INVALID),
        ("segment-outside-memory", DATA_TRANSFER),
    ],
)
def test_invalid_sgls(ready: Rig, name: str, expected: tuple[int, int, bool]) -> None:
    h = ready.host
    buf, seg = h.buffer(4096), h.buffer(4096)
    block = sgl_descriptor(buf, LBA, SGL_DATA_BLOCK)
    lists = {
        "segment-in-last-segment": block + sgl_descriptor(seg, 16, SGL_SEGMENT),
        "segment-not-last": sgl_descriptor(seg, 16, SGL_SEGMENT) + block,
        "segment-loop": sgl_descriptor(seg, 16, SGL_SEGMENT),
    }
    h.bus.write(seg, lists.get(name, block))
    first = {
        "too-short": sgl_descriptor(buf, LBA - 1, SGL_DATA_BLOCK),
        "too-long": sgl_descriptor(buf, LBA + 1, SGL_DATA_BLOCK),
        "bit-bucket": sgl_descriptor(buf, LBA, SGL_BIT_BUCKET),
        "reserved-type": sgl_descriptor(buf, LBA, 0x6),
        "offset-subtype": sgl_descriptor(buf, LBA, SGL_DATA_BLOCK, 1),
        "segment-length-0": sgl_descriptor(seg, 0, SGL_LAST_SEGMENT),
        "segment-length-24": sgl_descriptor(seg, 24, SGL_LAST_SEGMENT),
        "segment-in-last-segment": sgl_descriptor(seg, 32, SGL_LAST_SEGMENT),
        "segment-not-last": sgl_descriptor(seg, 32, SGL_SEGMENT),
        "segment-loop": sgl_descriptor(seg, 16, SGL_SEGMENT),
        "segment-outside-memory": sgl_descriptor(0x1000, 16, SGL_LAST_SEGMENT),
    }[name]
    assert read(ready, first, 0, 1) == expected


def test_admin_commands_refuse_sgls(ready: Rig) -> None:
    cqe = ready.host.admin(Command(AdminOpcode.IDENTIFY, flags=0x40, cdw10=Cns.CONTROLLER))
    assert status(cqe) == (0, 0x02, True)


# -- the SGL walk as a function: random lists against the bytes they name ---------------------

MEMORY = 1 << 16


class FakeMemory:
    def __init__(self) -> None:
        self.data = bytearray(MEMORY)

    def read(self, addr: int, size: int) -> bytes:
        if addr + size > MEMORY:
            raise DmaError(f"{addr:#x}+{size}")
        return bytes(self.data[addr : addr + size])


@st.composite
def sgls(draw: st.DrawFn) -> tuple[list[list[tuple[int, int]]], int]:
    """Lists of data blocks, one list per segment (the first in the SQE when alone)."""
    lists = draw(
        st.lists(
            st.lists(
                st.tuples(st.integers(0x8000, 0xF000), st.integers(0, 700)), min_size=1, max_size=4
            ),
            min_size=1,
            max_size=4,
        )
    )
    return lists, sum(n for blocks in lists for _, n in blocks)


Shape = tuple[list[list[tuple[int, int]]], int]


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(sgls())
def test_sgl_walk_names_the_blocks_in_order(shape: Shape) -> None:
    check_walk(shape)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sgls())
def test_sgl_walk_names_the_blocks_in_order_many(shape: Shape) -> None:
    check_walk(shape)


def check_walk(shape: Shape) -> None:
    """Data Blocks spread over chained lists resolve to those blocks in order; one byte
    less to transfer is refused."""
    lists, total = shape
    mem = FakeMemory()
    # each list at its own 1 KiB slot below 0x8000: data blocks, then a pointer to the next
    addrs = [0x400 * (i + 1) for i in range(len(lists))]
    for i, blocks in enumerate(lists):
        raw = b"".join(sgl_descriptor(a, n, SGL_DATA_BLOCK) for a, n in blocks)
        if i + 1 < len(lists):
            nxt_len = 16 * (len(lists[i + 1]) + (1 if i + 2 < len(lists) else 0))
            kind = SGL_SEGMENT if i + 2 < len(lists) else SGL_LAST_SEGMENT
            raw += sgl_descriptor(addrs[i + 1], nxt_len, kind)
        mem.data[addrs[i] : addrs[i] + len(raw)] = raw
    first_len = 16 * (len(lists[0]) + (1 if len(lists) > 1 else 0))
    kind = SGL_SEGMENT if len(lists) > 1 else SGL_LAST_SEGMENT
    first = decode_descriptor(sgl_descriptor(addrs[0], first_len, kind))
    segs = sgl_segments(mem.read, first, total)
    assert segs == [(a, n) for blocks in lists for a, n in blocks if n]
    if total:
        shorter = sgl_segments(mem.read, first, total - 1)
        assert not isinstance(shorter, list)

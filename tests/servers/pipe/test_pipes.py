"""The pipe's state machine against a model: bytes in order, EOF, EPIPE, blocking."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.servers.pipe.pipes import CAPACITY, PIPE_BUF, Pipe, Waiter
from qrv.spec.iomsg import EPIPE


def test_eof_only_when_no_writer_is_left() -> None:
    p = Pipe(1, readers=1, writers=1)
    assert p.read(10) is None  # empty, a writer left: block
    assert p.write(b"abc") == 3
    assert p.read(2) == b"ab"
    p.writers = 0
    assert p.read(10) == b"c"  # buffered data first
    assert p.read(10) == b""


def test_epipe_when_no_reader_is_left_and_blocked_writers_get_it() -> None:
    p = Pipe(1, readers=1, writers=1)
    assert p.write(bytes(CAPACITY)) == CAPACITY
    assert p.write(b"x") is None
    p.blocked_writers.append(Waiter(7, object(), data=b"x"))
    p.readers = 0
    [answer] = p.wake()
    assert (answer.rcvid, answer.err) == (7, EPIPE)
    assert p.write(b"y") == -EPIPE


def test_small_writes_are_atomic_large_ones_take_the_room() -> None:
    p = Pipe(1, readers=1, writers=1)
    assert p.write(bytes(CAPACITY - 10)) == CAPACITY - 10
    assert p.write(bytes(PIPE_BUF)) is None  # fits only in part: waits whole
    assert p.write(bytes(PIPE_BUF + 1)) == 10  # larger than PIPE_BUF: what fits


def test_forget_drops_a_closed_open_s_requests() -> None:
    p = Pipe(1, readers=1, writers=1)
    gone = object()
    p.blocked_readers.append(Waiter(3, gone, nbytes=4))
    p.forget(gone)
    p.write(b"data")
    assert p.wake() == []


OPS = st.lists(st.tuples(st.booleans(), st.integers(1, 3 * PIPE_BUF)), max_size=40)


@settings(max_examples=30, deadline=None)
@given(OPS)
def test_bytes_arrive_in_order(ops: list[tuple[bool, int]]) -> None:
    _check_order(ops)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(OPS)
def test_bytes_arrive_in_order_many(ops: list[tuple[bool, int]]) -> None:
    _check_order(ops)


def _check_order(ops: list[tuple[bool, int]]) -> None:
    """Writers and readers blocking and waking: what is read is what went in, in order."""
    p = Pipe(1, readers=1, writers=1)
    went_in = bytearray()
    read = bytearray()
    blocked: dict[int, bytes] = {}

    def settle() -> None:
        for a in p.wake():
            read.extend(a.data)
            if a.rcvid in blocked:
                went_in.extend(blocked.pop(a.rcvid)[: a.count])

    for rcvid, (is_write, n) in enumerate(ops, 1):
        if is_write:
            data = bytes((rcvid + i) & 0xFF for i in range(n))
            took = p.write(data)
            if took is None:
                p.blocked_writers.append(Waiter(rcvid, None, data=data))
                blocked[rcvid] = data
            else:
                went_in.extend(data[:took])
        else:
            got = p.read(n)
            if got is None:
                p.blocked_readers.append(Waiter(rcvid, None, nbytes=n))
            else:
                read.extend(got)
        settle()
        assert len(p.buf) <= CAPACITY
    p.writers = 0
    while chunk := p.read(CAPACITY):
        read.extend(chunk)
        settle()
    assert bytes(read) == bytes(went_in)

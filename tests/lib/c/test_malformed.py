"""The resmgr framework validates every message before a handler sees it (issue 10).

Short messages get EBADMSG, out-of-range fields EINVAL, results that do not
fit the reply EOVERFLOW; the server is alive afterwards (a second request on
the same connection succeeds).  The handlers here are memfs's, which do no
checks of their own: what these tests see is the framework's doing.
"""

from __future__ import annotations

import errno
import struct

import pytest
from hypothesis import given

from qrv.kernel import Kernel
from qrv.lib.c import close, lseek, open, pread
from qrv.spec.iomsg import O_RDWR, S_IFBLK, SEEK_CUR, SEEK_END, SEEK_SET
from tests.lib.c import rawmsg as rm
from tests.lib.c.memfs import memfs
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow

DATA = bytes(range(256)) * 4
RW = S_IFBLK | 0o666
PATH = "/dev/mem"
RO = "/dev/ro"


@pytest.fixture
def mem(sysk) -> Kernel:
    k, _ = sysk
    pid = k.spawn(memfs({PATH: (RW, DATA), RO: (S_IFBLK | 0o444, DATA)}), ["memfs"])
    assert k.wait_ready(pid, None, rm.T)
    return k


def errno_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as ei:
        call()
    return ei.value.errno


def assert_alive(fd: int) -> None:
    assert pread(fd, 16, 256) == DATA[256:272]


@pytest.mark.parametrize("mtype", [rm.READ, rm.WRITE, rm.STAT, rm.DEVCTL, rm.LSEEK, rm.MSG])
def test_short_messages_are_ebadmsg(mem, mtype: int) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        raw = rm.header(mtype, *([0] * (len(rm.HEADERS[mtype]) - 2)))
        for cut in (2, len(raw) - 1):
            assert rm.send(fd, raw[:cut]).err == errno.EBADMSG
        assert_alive(fd)


def test_short_close_and_short_offset(mem) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        assert rm.send(fd, b"\x16\x01\x04").err == errno.EBADMSG  # 3 bytes of _IO_CLOSE
        assert rm.send(fd, rm.read(16, 0)[:-1]).err == errno.EBADMSG  # offset cut short
        assert_alive(fd)


@pytest.mark.parametrize("offset", [-1, -512, -(2**63)])
def test_negative_offsets_in_raw_read_and_write(mem, offset: int) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        assert rm.send(fd, rm.read(16, offset)).err == errno.EINVAL
        write = rm.header(rm.WRITE, 24, 4, rm.XTYPE_OFFSET, 0) + struct.pack("<q", offset)
        assert rm.send(fd, write + b"abcd").err == errno.EINVAL
        assert_alive(fd)
        assert pread(fd, len(DATA), 0) == DATA  # nothing was written anywhere


def test_negative_byte_counts(mem) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        assert rm.send(fd, rm.read(-1)).err == errno.EINVAL
        assert rm.send(fd, rm.header(rm.WRITE, 16, -4, 0, 0) + b"abcd").err == errno.EINVAL
        assert rm.send(fd, rm.header(rm.DEVCTL, 16, 0x40040101, -1, 0)).err == errno.EINVAL
        assert_alive(fd)


def test_write_longer_than_its_message(mem) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        assert rm.send(fd, rm.header(rm.WRITE, 16, 100, 0, 0) + b"abcd").err == errno.EBADMSG
        assert_alive(fd)


def test_connect_messages(mem) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        handle = 1  # the memfs's only attach
        assert rm.send(fd, rm.connect(b"\xff\xfe", handle=handle)).err == errno.EINVAL
        assert rm.send(fd, rm.connect(b"", handle=handle, path_len=99)).err == errno.EBADMSG
        long_path = b"x" * 5000
        assert rm.send(fd, rm.connect(long_path, handle=handle)).err == errno.ENAMETOOLONG
        assert_alive(fd)


def test_lseek_past_the_largest_offset_is_eoverflow(mem) -> None:
    with mem.adopt("client"):
        fd = open(PATH, O_RDWR)
        assert errno_of(lambda: lseek(fd, 2**63 - 512, SEEK_END)) == errno.EOVERFLOW
        assert lseek(fd, 2**63 - 1, SEEK_SET) == 2**63 - 1
        assert errno_of(lambda: lseek(fd, 1, SEEK_CUR)) == errno.EOVERFLOW
        assert lseek(fd, 0, SEEK_CUR) == 2**63 - 1  # the failed seeks moved nothing
        assert_alive(fd)
        close(fd)


def _fuzz(raw: bytes) -> None:
    fd = open(PATH, O_RDWR)
    try:
        rm.check_shape(raw, rm.send(fd, raw))
    finally:
        close(fd)
    fd = open(RO)  # the fuzzed file may have been written
    try:
        assert_alive(fd)
    finally:
        close(fd)


@FEW
@given(raw=any_message)
def test_arbitrary_messages(mem, raw: bytes) -> None:
    with mem.adopt("fuzz"):
        _fuzz(raw)


@slow
@MANY
@given(raw=any_message)
def test_arbitrary_messages_many(mem, raw: bytes) -> None:
    with mem.adopt("fuzz"):
        _fuzz(raw)

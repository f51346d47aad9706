"""devb-nvme against malformed and hostile messages (issue 10).

The image carries a position pattern (every aligned 8-byte word holds its own
byte offset on the disk), so any byte a path returns shows where on the disk
it came from: a partition node must never return a byte outside its range,
whatever offset and count a raw ``_IO_READ`` carries.  Expected bytes come
from the pattern, never from the code under test.
"""

from __future__ import annotations

import errno
import os
import struct
from array import array
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.emu import BuiltinMachine
from qrv.lib.c import close, lseek, open, pread
from qrv.spec.iomsg import SEEK_CUR, SEEK_END, SEEK_SET
from qrv.tools.mkgpt import create_seed_image
from tests.lib.c import rawmsg as rm
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow
from tests.system.stack import Stack, booted

MIB = 1 << 20
LBA = 512
DISK = 4 * MIB  # the seed's layout scaled down: two 1 MiB partitions, back to back
PART = 1 * MIB
PATTERN_LBAS = (34, DISK // LBA - 33)  # between the primary and the backup GPT
# path -> (first byte on the disk, size in bytes)
PATHS = {
    "/dev/nvme0n1": (0, DISK),
    "/dev/nvme0n1p1": (34 * LBA, PART),
    "/dev/nvme0n1p2": (34 * LBA + PART, PART),
}


def pattern(start: int, end: int) -> bytes:
    """The image's bytes [start, end) inside the patterned area (8-byte aligned)."""
    return array("Q", range(start, end, 8)).tobytes()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("img") / "nvme.img"
    create_seed_image(path, size_mib=DISK // MIB, part_mib=(PART // MIB, PART // MIB))
    lo, hi = (lba * LBA for lba in PATTERN_LBAS)
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), pattern(lo, hi), lo)
    return path.read_bytes()


@pytest.fixture(scope="module")
def stack(image: bytes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    path = tmp_path_factory.mktemp("boot") / "nvme.img"
    path.write_bytes(image)
    with booted(BuiltinMachine(path)) as st:
        yield st


def expected(image: bytes, path: str, offset: int, nbytes: int) -> bytes:
    """What a read of `nbytes` at `offset` of `path` must return: the image, clipped to the path."""
    base, size = PATHS[path]
    end = min(offset + nbytes, size)
    return image[base + offset : base + end] if offset < end else b""


def assert_alive(st: Stack, image: bytes) -> None:
    assert st.driver_status() is None, "devb-nvme exited"
    fd = open("/dev/nvme0n1p1")
    try:
        assert pread(fd, LBA, LBA) == expected(image, "/dev/nvme0n1p1", LBA, LBA)
    finally:
        close(fd)


def errno_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as ei:
        call()
    return ei.value.errno


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("offset", [-512, -1, -(2**63)])
def test_negative_raw_read_offset_is_einval(stack, image, path: str, offset: int) -> None:
    with stack.kernel.adopt("client"):
        fd = open(path)
        try:
            assert rm.send(fd, rm.read(LBA, offset)).err == errno.EINVAL
        finally:
            close(fd)
        assert_alive(stack, image)


def test_lseek_past_2_63_is_eoverflow(stack, image) -> None:
    with stack.kernel.adopt("client"):
        fd = open("/dev/nvme0n1p1")
        try:
            assert errno_of(lambda: lseek(fd, 2**63 - 512, SEEK_END)) == errno.EOVERFLOW
            assert lseek(fd, 2**63 - 1, SEEK_SET) == 2**63 - 1
            assert errno_of(lambda: lseek(fd, 1, SEEK_CUR)) == errno.EOVERFLOW
            assert rm.send(fd, rm.read(LBA)).data == b""  # reading there: end of file
        finally:
            close(fd)
        assert_alive(stack, image)


def test_dd_with_a_2_gib_block(stack, image) -> None:
    status, out, err = stack.sh("dd if=/dev/nvme0n1p1 bs=2G count=1")
    assert status == 0, err
    assert out == expected(image, "/dev/nvme0n1p1", 0, PART)
    assert err.splitlines()[:2] == ["0+1 records in", "0+1 records out"]
    with stack.kernel.adopt("client"):
        assert_alive(stack, image)


OFFSETS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-2 * LBA, 2 * LBA),
    st.sampled_from([PART - 1, PART, PART + 1, DISK - 1, DISK, 2**63 - 1]),
    st.integers(0, DISK + LBA),
)
COUNTS = st.one_of(
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-2, 3 * LBA),
    st.sampled_from([2**31 - 1, PART, PART + 1]),
)


def _read_check(st_: Stack, image: bytes, path: str, offset: int, nbytes: int) -> None:
    fd = open(path)
    try:
        reply = rm.send(fd, rm.read(nbytes, offset), max(nbytes, 0))
    finally:
        close(fd)
    if offset < 0 or nbytes < 0:
        assert reply.err == errno.EINVAL
    else:
        assert reply.ok, errno.errorcode.get(reply.err)
        assert reply.data == expected(image, path, offset, nbytes)


@FEW
@given(path=st.sampled_from(list(PATHS)), offset=OFFSETS, nbytes=COUNTS)
def test_raw_reads_stay_inside_the_path(stack, image, path: str, offset: int, nbytes: int) -> None:
    with stack.kernel.adopt("fuzz"):
        _read_check(stack, image, path, offset, nbytes)


@slow
@MANY
@given(path=st.sampled_from(list(PATHS)), offset=OFFSETS, nbytes=COUNTS)
def test_raw_reads_stay_inside_the_path_many(
    stack, image, path: str, offset: int, nbytes: int
) -> None:
    with stack.kernel.adopt("fuzz"):
        _read_check(stack, image, path, offset, nbytes)


def _fuzz(st_: Stack, image: bytes, path: str, raw: bytes) -> None:
    fd = open(path)
    try:
        reply = rm.send(fd, raw, DISK)
        rm.check_shape(raw, reply)
        if reply.ok and struct.unpack_from("<H", raw)[0] == rm.READ:
            _t, _c, nbytes, xtype, _z = struct.unpack_from("<HHiII", raw)
            offset = struct.unpack_from("<q", raw, 16)[0] if xtype & 0xFF == rm.XTYPE_OFFSET else 0
            assert reply.data == expected(image, path, offset, nbytes)
    finally:
        close(fd)
    assert_alive(st_, image)


@FEW
@given(path=st.sampled_from(list(PATHS)), raw=any_message)
def test_arbitrary_messages(stack, image, path: str, raw: bytes) -> None:
    with stack.kernel.adopt("fuzz"):
        _fuzz(stack, image, path, raw)


@slow
@MANY
@given(path=st.sampled_from(list(PATHS)), raw=any_message)
def test_arbitrary_messages_many(stack, image, path: str, raw: bytes) -> None:
    with stack.kernel.adopt("fuzz"):
        _fuzz(stack, image, path, raw)


def test_a_read_larger_than_the_cap_is_short_and_the_driver_lives(tmp_path) -> None:
    """What a client asks for never sizes the driver's buffers: one read returns at most
    MAX_READ_BYTES (a short count), and the rest follows on the next read."""
    from qrv.drivers.devb_nvme.blockdev import MAX_READ_BYTES

    path = tmp_path / "big.img"
    size = 2 * MAX_READ_BYTES + 64 * MIB
    create_seed_image(path, size_mib=size // MIB, part_mib=(PART // MIB, PART // MIB))
    lo = size // 2
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), pattern(lo, lo + MAX_READ_BYTES + LBA), lo)
    with booted(BuiltinMachine(path)) as st, st.kernel.adopt("client"):
        fd = open("/dev/nvme0n1")
        try:
            got = rm.send(fd, rm.read(2**31 - 1, lo), 2**31 - 1).data
            assert len(got) == MAX_READ_BYTES
            assert got == pattern(lo, lo + MAX_READ_BYTES)
            assert pread(fd, LBA, lo + MAX_READ_BYTES) == pattern(
                lo + MAX_READ_BYTES, lo + MAX_READ_BYTES + LBA
            )
        finally:
            close(fd)
        assert st.driver_status() is None, "devb-nvme exited"

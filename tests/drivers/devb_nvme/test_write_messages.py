"""devb-nvme ``rw`` against hostile messages on a partition node (issue 10).

Arbitrary messages, and raw ``_IO_WRITE`` messages with any offset and count,
go to ``/dev/nvme0n1p1`` opened read-write: each is answered with an errno or
a well-formed reply, the driver keeps serving, and no byte of the disk
outside p1 changes (compared with the image as written, read back through
``/dev/nvme0n1``).
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.emu import BuiltinMachine
from qrv.lib.c import close, open, pread, pwrite
from qrv.spec.iomsg import O_RDWR
from qrv.tools.mkgpt import create_seed_image
from tests.lib.c import rawmsg as rm
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow
from tests.system.stack import Stack, booted

MIB = 1 << 20
DISK = 4 * MIB
P1 = (34 * 512, MIB)  # first byte, size: the seed's layout scaled down (two 1 MiB partitions)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("rw") / "nvme.img"
    create_seed_image(path, size_mib=DISK // MIB, part_mib=(1, 1))
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(DISK - 2 * P1[0]), P1[0])
    return path.read_bytes()


@pytest.fixture(scope="module")
def rw(image: bytes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    path = tmp_path_factory.mktemp("rwboot") / "nvme.img"
    path.write_bytes(image)
    with booted(BuiltinMachine(path, writable=True), writable=True) as stack:
        yield stack


def outside_p1(fd: int) -> bytes:
    start, size = P1
    return pread(fd, start, 0) + pread(fd, DISK - start - size, start + size)


def raw_write(offset: int | None, nbytes: int, payload: bytes) -> bytes:
    if offset is None:
        return rm.header(rm.WRITE, 16, nbytes, 0, 0) + payload
    return rm.header(rm.WRITE, 24, nbytes, rm.XTYPE_OFFSET, 0) + struct.pack("<q", offset) + payload


OFFSETS = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-1024, 1024),
    st.integers(P1[1] - 1024, P1[1] + 1024),
)
PAYLOADS = st.binary(max_size=2048)


@st.composite
def writes(draw: st.DrawFn) -> bytes:
    payload = draw(PAYLOADS)
    nbytes = draw(st.just(len(payload)) | st.integers(-(2**31), 2**31 - 1))
    return raw_write(draw(OFFSETS), nbytes, payload)


def _fuzz(st_: Stack, image: bytes, raw: bytes) -> None:
    assert st_.driver_status() is None, "devb-nvme exited"
    fd = open("/dev/nvme0n1p1", O_RDWR)
    try:
        reply = rm.send(fd, raw)
        rm.check_shape(raw, reply)
        if reply.ok and raw[:2] == b"\x02\x01":
            nbytes = struct.unpack_from("<i", raw, 4)[0]
            assert 0 <= reply.status <= nbytes
    finally:
        close(fd)
    disk = open("/dev/nvme0n1")
    try:
        start, size = P1
        want = image[:start] + image[start + size :]
        assert outside_p1(disk) == want, "a write on p1 changed the disk outside p1"
    finally:
        close(disk)


@FEW
@given(raw=any_message | writes())
def test_messages_on_a_writable_partition(rw, image, raw: bytes) -> None:
    with rw.kernel.adopt("fuzz"):
        _fuzz(rw, image, raw)


@slow
@MANY
@given(raw=any_message | writes())
def test_messages_on_a_writable_partition_many(rw, image, raw: bytes) -> None:
    with rw.kernel.adopt("fuzz"):
        _fuzz(rw, image, raw)


@pytest.mark.parametrize("offset", [-1, -512, -(2**63)])
def test_negative_raw_write_offset_is_einval(rw, image, offset: int) -> None:
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1p1", O_RDWR)
        try:
            assert rm.send(fd, raw_write(offset, 512, b"x" * 512)).err == errno.EINVAL
            assert pwrite(fd, b"alive", 0) == 5 and pread(fd, 5, 0) == b"alive"
        finally:
            close(fd)
        disk = open("/dev/nvme0n1")
        try:
            assert pread(disk, 512, P1[0] - 512) == image[P1[0] - 512 : P1[0]]
        finally:
            close(disk)

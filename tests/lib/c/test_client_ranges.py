"""The client library answers out-of-range arguments with an errno, as C's -1/errno (issue 10).

Before, the message packing raised ``struct.error``.  EINVAL for values no
call accepts (flags, whence, byte counts beyond ssize_t), EOVERFLOW for
offsets beyond off_t; nothing reaches the server, which keeps serving.
"""

from __future__ import annotations

import errno

import pytest

from qrv.lib.c import close, devctl, lseek, open, pread, pwrite, read, write
from qrv.lib.c.posix import stat
from qrv.spec.iomsg import DCMD_ALL_GETFLAGS, O_RDWR, S_IFBLK, SEEK_SET
from tests.lib.c.memfs import memfs

DATA = bytes(range(256))
PATH = "/dev/mem"
T = 5.0


@pytest.fixture
def mem(sysk):  # type: ignore[no-untyped-def]
    k, _ = sysk
    pid = k.spawn(memfs({PATH: (S_IFBLK | 0o666, DATA)}), ["memfs"])
    assert k.wait_ready(pid, None, T)
    with k.adopt("client"):
        fd = open(PATH, O_RDWR)
        yield fd
        assert pread(fd, 8, 8) == DATA[8:16]  # the server still answers
        close(fd)


def errno_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as ei:
        call()
    return ei.value.errno


@pytest.mark.parametrize("flags", [2**32, 2**40, -1, -(2**31)])
def test_open_flags_out_of_range(mem, flags: int) -> None:
    assert errno_of(lambda: open(PATH, flags)) == errno.EINVAL


def test_open_mode_out_of_range(mem) -> None:
    assert errno_of(lambda: open(PATH, 0, 2**32)) == errno.EINVAL
    assert errno_of(lambda: open(PATH, 0, -1)) == errno.EINVAL


@pytest.mark.parametrize(
    ("path", "err"),
    [
        ("/dev/m\0em", errno.EINVAL),  # C would see "/dev/m": refuse instead of opening that
        ("/dev/\udcff", errno.EINVAL),  # a surrogate-escaped byte: no UTF-8 spelling
        ("/" + "x" * 5000, errno.ENAMETOOLONG),
    ],
)
def test_open_unusable_paths(mem, path: str, err: int) -> None:
    assert errno_of(lambda: open(path)) == err
    assert errno_of(lambda: stat(path)) == err


@pytest.mark.parametrize("nbytes", [2**31, 2**63, 2**64])
def test_read_and_pread_byte_count_beyond_ssize(mem, nbytes: int) -> None:
    assert errno_of(lambda: read(mem, nbytes)) == errno.EINVAL
    assert errno_of(lambda: pread(mem, nbytes, 0)) == errno.EINVAL


def test_read_of_the_largest_count_works(mem) -> None:
    assert pread(mem, 2**31 - 1, 250) == DATA[250:]


@pytest.mark.parametrize("offset", [2**63, 2**64, 2**100])
def test_pread_pwrite_offset_beyond_off_t(mem, offset: int) -> None:
    assert errno_of(lambda: pread(mem, 1, offset)) == errno.EOVERFLOW
    assert errno_of(lambda: pwrite(mem, b"x", offset)) == errno.EOVERFLOW


def test_pwrite_negative_offset(mem) -> None:
    assert errno_of(lambda: pwrite(mem, b"x", -1)) == errno.EINVAL


class HugeBytes(bytes):
    """A buffer that claims 2 GiB (len) without holding it: what pwrite checks is its size."""

    def __len__(self) -> int:
        return 2**31


def test_write_byte_count_beyond_ssize(mem) -> None:
    assert errno_of(lambda: write(mem, HugeBytes(b"x"))) == errno.EINVAL
    assert errno_of(lambda: pwrite(mem, HugeBytes(b"x"), 0)) == errno.EINVAL


@pytest.mark.parametrize("whence", [2**15, -(2**15) - 1, 2**40])
def test_lseek_whence_outside_int16(mem, whence: int) -> None:
    assert errno_of(lambda: lseek(mem, 0, whence)) == errno.EINVAL


@pytest.mark.parametrize("offset", [2**63, -(2**63) - 1, 2**80])
def test_lseek_offset_outside_int64(mem, offset: int) -> None:
    assert errno_of(lambda: lseek(mem, offset, SEEK_SET)) == errno.EOVERFLOW


@pytest.mark.parametrize("nbytes", [2**31, -1])
def test_devctl_byte_count_out_of_range(mem, nbytes: int) -> None:
    assert errno_of(lambda: devctl(mem, DCMD_ALL_GETFLAGS, b"", nbytes)) == errno.EINVAL


def test_devctl_command_beyond_32_bits(mem) -> None:
    assert errno_of(lambda: devctl(mem, DCMD_ALL_GETFLAGS | 1 << 32)) == errno.EINVAL

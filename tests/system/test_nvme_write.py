"""The write path end to end on the built-in board: devb-nvme ``rw`` over the model's
write cache.  Expected contents come from a host-side bytearray model and the image
file itself (os.pread), never from the code under test."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.emu import BuiltinMachine
from qrv.lib.c.posix import close, devctl, devctl_info, fstat, fsync, open, pread, pwrite, write
from qrv.spec.blk import (
    DCMD_BLK_DISCARD,
    DCMD_BLK_FLUSH,
    DCMD_BLK_REREAD,
    DCMD_BLK_ZERO,
    BlkRange,
)
from qrv.spec.iomsg import O_APPEND, O_DSYNC, O_RDONLY, O_RDWR, O_SYNC, O_WRONLY
from qrv.tools.mkgpt import create_seed_image, write_gpt
from tests.system.stack import CONTROLLER_LS, Stack, booted, image_bytes

MiB = 1 << 20
DISK = 8 * MiB
P1_START, P1_LBAS = 2048, 4096  # aligned to 1 MiB: p1 is the 2 MiB from 1 MiB
NODES = {"/dev/nvme0n1": (0, DISK), "/dev/nvme0n1p1": (P1_START * 512, P1_LBAS * 512)}


def small_image(path: Path) -> Path:
    write_gpt(path, [2, 2], size_bytes=DISK, align_mib=1)
    with path.open("r+b") as f:  # recognisable contents everywhere after the GPT
        os.pwrite(f.fileno(), os.urandom(DISK - 2 * MiB), MiB)
    return path


@pytest.fixture
def image(tmp_path: Path) -> Path:
    return small_image(tmp_path / "nvme.img")


@pytest.fixture
def rw(image: Path) -> Iterator[Stack]:
    with booted(BuiltinMachine(image, writable=True), writable=True) as stack:
        yield stack


# -- the property: the nodes agree with a bytearray model, and so does the image ---------

WRITE = st.tuples(
    st.sampled_from(sorted(NODES)),
    st.integers(0, 3 * MiB),
    st.integers(1, 70_000),
    st.sampled_from(["pwrite", "read", "o_sync", "fsync"]),
)


def run_property(tmp_path: Path, ops: list[tuple[str, int, int, str]]) -> None:
    img = small_image(tmp_path / f"prop-{os.urandom(4).hex()}.img")
    model = bytearray(img.read_bytes())
    machine = BuiltinMachine(img, writable=True)
    with booted(machine, writable=True) as stack, stack.kernel.adopt("client"):
        for node, offset, length, kind in ops:
            base, size = NODES[node]
            fd = open(node, O_RDWR | (O_SYNC if kind == "o_sync" else 0))
            try:
                if kind == "read":
                    want = bytes(model[base + offset : base + min(offset + length, size)])
                    assert pread(fd, length, offset) == (want if offset < size else b"")
                    continue
                data = os.urandom(length)
                if offset >= size:
                    with pytest.raises(OSError) as err:
                        pwrite(fd, data, offset)
                    assert err.value.errno == errno.ENOSPC
                    continue
                done = pwrite(fd, data, offset)
                assert done == min(length, size - offset)
                model[base + offset : base + offset + done] = data[:done]
                if kind == "fsync":
                    fsync(fd)
                if kind != "pwrite":  # durable now: on the image while still running
                    got = image_bytes(img, base + offset, done)
                    assert got == data[:done]
            finally:
                close(fd)
    assert img.read_bytes() == model  # after shutdown, byte for byte
    img.unlink()


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(WRITE, min_size=1, max_size=12))
def test_writes_and_reads_agree_with_a_model(
    tmp_path: Path, ops: list[tuple[str, int, int, str]]
) -> None:
    run_property(tmp_path, ops)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(WRITE, min_size=1, max_size=30))
def test_writes_and_reads_agree_with_a_model_many(
    tmp_path: Path, ops: list[tuple[str, int, int, str]]
) -> None:
    run_property(tmp_path, ops)


# -- partition range ---------------------------------------------------------------------


def test_p1_writes_never_touch_bytes_outside_p1(rw: Stack, image: Path) -> None:
    before = image.read_bytes()
    p1_start, p1_size = NODES["/dev/nvme0n1p1"]
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1p1", O_WRONLY)
        try:
            assert pwrite(fd, b"\xff" * 5000, p1_size - 1234) == 1234  # clipped at the end
            assert pwrite(fd, b"\xee" * 700, 0) == 700  # unaligned start and end
            assert pwrite(fd, b"\xdd" * 3, 511) == 3  # straddles an LBA boundary
            for offset in (p1_size, p1_size + 1, 1 << 40):
                with pytest.raises(OSError) as err:
                    pwrite(fd, b"x", offset)
                assert err.value.errno == errno.ENOSPC
            assert pwrite(fd, b"", p1_size + 7) == 0  # nothing to write: no error
            fsync(fd)
        finally:
            close(fd)
        fd = open("/dev/nvme0n1p1", O_WRONLY | O_APPEND)
        try:  # an O_APPEND write starts at the end, whatever the offset (Linux: ENOSPC)
            for call in (lambda: write(fd, b"y"), lambda: pwrite(fd, b"y", 0)):
                with pytest.raises(OSError) as err:
                    call()
                assert err.value.errno == errno.ENOSPC
        finally:
            close(fd)
    after = image.read_bytes()
    assert after[:p1_start] == before[:p1_start]
    assert after[p1_start + p1_size :] == before[p1_start + p1_size :]
    p1 = after[p1_start : p1_start + p1_size]
    assert p1[-1234:] == b"\xff" * 1234 and p1[:700] == b"\xee" * 511 + b"\xdd" * 3 + b"\xee" * 186
    assert p1[700:1024] == before[p1_start + 700 : p1_start + 1024]  # RMW kept the rest


def test_write_moves_the_offset_and_is_durable_only_after_fsync(rw: Stack, image: Path) -> None:
    base = NODES["/dev/nvme0n1p1"][0]
    old = image_bytes(image, base, 8192)
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1p1", O_RDWR)
        try:
            assert write(fd, b"A" * 4096) == 4096 and write(fd, b"B" * 4096) == 4096
            assert pread(fd, 8192, 0) == b"A" * 4096 + b"B" * 4096
            assert image_bytes(image, base, 8192) == old  # in the device's write cache
            fsync(fd)
            assert image_bytes(image, base, 8192) == b"A" * 4096 + b"B" * 4096
        finally:
            close(fd)


@pytest.mark.parametrize("flag", [O_SYNC, O_DSYNC])
def test_o_sync_writes_with_fua(rw: Stack, image: Path, flag: int) -> None:
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1", O_WRONLY | flag)
        try:
            pwrite(fd, b"S" * 1000, 3 * MiB + 100)
            assert image_bytes(image, 3 * MiB + 100, 1000) == b"S" * 1000
        finally:
            close(fd)


def test_writes_larger_than_mdts_and_the_receive_buffer(rw: Stack, image: Path) -> None:
    data = os.urandom(2 * MiB + 777)  # 1 MiB bounce buffer, 64 KiB receive buffer
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1", O_RDWR)
        try:
            assert pwrite(fd, data, 2 * MiB + 5) == len(data)
            assert pread(fd, len(data), 2 * MiB + 5) == data
            fsync(fd)
        finally:
            close(fd)
    assert image_bytes(image, 2 * MiB + 5, len(data)) == data


# -- devctls -------------------------------------------------------------------------------


def test_discard_zero_and_flush_devctls(rw: Stack, image: Path) -> None:
    base = NODES["/dev/nvme0n1p1"][0]
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1p1", O_RDWR)
        try:
            pwrite(fd, b"Q" * 8192, 0)
            devctl(fd, DCMD_BLK_DISCARD, BlkRange(512, 1024).pack())
            devctl(fd, DCMD_BLK_ZERO, BlkRange(4096, 512).pack())
            want = b"Q" * 512 + bytes(1024) + b"Q" * 2560 + bytes(512) + b"Q" * 3584
            assert pread(fd, 8192, 0) == want
            devctl(fd, DCMD_BLK_FLUSH)
            assert image_bytes(image, base, 8192) == want
            for bad in (BlkRange(100, 512), BlkRange(0, 100), BlkRange(0, 3 * MiB)):
                with pytest.raises(OSError) as err:
                    devctl(fd, DCMD_BLK_ZERO, bad.pack())
                assert err.value.errno == errno.EINVAL
        finally:
            close(fd)
        fd = open("/dev/nvme0n1p1", O_RDONLY)
        try:
            with pytest.raises(OSError) as err:
                devctl(fd, DCMD_BLK_DISCARD, BlkRange(0, 512).pack())
            assert err.value.errno == errno.EBADF
            devctl(fd, DCMD_BLK_FLUSH)  # flushing needs no write access
            fsync(fd)
        finally:
            close(fd)


def test_reread_partition_table(rw: Stack, image: Path, tmp_path: Path) -> None:
    new = tmp_path / "new.img"
    write_gpt(new, [1, 1, 3], size_bytes=DISK)
    table = new.read_bytes()
    with rw.kernel.adopt("client"):
        fd = open("/dev/nvme0n1", O_RDWR)
        p1 = open("/dev/nvme0n1p1", O_RDONLY)
        try:
            with pytest.raises(OSError) as err:
                devctl(fd, DCMD_BLK_REREAD)
            assert err.value.errno == errno.EBUSY  # a partition node is open
            with pytest.raises(OSError) as err:
                devctl(p1, DCMD_BLK_REREAD)
            assert err.value.errno == errno.EINVAL  # only on the namespace node
            close(p1)
            p1 = -1
            pwrite(fd, table[: 34 * 512], 0)  # primary GPT
            pwrite(fd, table[-33 * 512 :], DISK - 33 * 512)  # backup GPT
            count, _ = devctl_info(fd, DCMD_BLK_REREAD)
            assert count == 3
        finally:
            if p1 >= 0:
                close(p1)
            close(fd)
        assert fstat(open("/dev/nvme0n1p3", O_RDONLY)).size == 3 * MiB
    _, out, _ = rw.sh("ls /dev")
    assert out.decode().split() == [
        "null",
        "nvme0",
        "nvme0n1",
        "nvme0n1p1",
        "nvme0n1p2",
        "nvme0n1p3",
        "pci",
        "pipe",
        "zero",
    ]


def test_reread_needs_root(rw: Stack) -> None:
    with rw.kernel.adopt("user", uid=100):
        fd = open("/dev/nvme0n1", O_RDONLY)
        try:
            with pytest.raises(OSError) as err:
                devctl(fd, DCMD_BLK_REREAD)
            assert err.value.errno == errno.EPERM
        finally:
            close(fd)


# -- permissions and the read-only default ------------------------------------------------


def test_rw_nodes_are_root_writable_only(rw: Stack) -> None:
    _, out, _ = rw.sh("ls -l /dev")
    nodes = [line for line in out.decode().splitlines() if "nvme" in line]
    assert nodes[0] == CONTROLLER_LS  # the controller node: root's alone, as on Linux
    assert nodes[1:] and all(line.startswith("brw-r--r--  1     0     0 ") for line in nodes[1:])
    with rw.kernel.adopt("user", uid=100, gid=100):
        with pytest.raises(OSError) as err:
            open("/dev/nvme0n1p1", O_WRONLY)
        assert err.value.errno == errno.EACCES
        fd = open("/dev/nvme0n1p1", O_RDONLY)  # reading is for everyone
        close(fd)


def test_without_rw_everything_is_read_only_and_the_image_untouched(tmp_path: Path) -> None:
    img = tmp_path / "seed.img"
    create_seed_image(img)
    digest, mtime = hashlib.sha256(img.read_bytes()).digest(), img.stat().st_mtime_ns
    with booted(BuiltinMachine(img)) as stack, stack.kernel.adopt("client"):
        for node in ("/dev/nvme0n1", "/dev/nvme0n1p1"):
            for flags in (O_WRONLY, O_RDWR, O_WRONLY | O_SYNC):
                with pytest.raises(OSError) as err:
                    open(node, flags)
                assert err.value.errno == errno.EROFS
        fd = open("/dev/nvme0n1", O_RDONLY)
        try:
            fsync(fd)
            devctl(fd, DCMD_BLK_FLUSH)
            with pytest.raises(OSError) as err:
                devctl(fd, DCMD_BLK_ZERO, BlkRange(0, 512).pack())
            assert err.value.errno == errno.EBADF
        finally:
            close(fd)
    assert hashlib.sha256(img.read_bytes()).digest() == digest
    assert img.stat().st_mtime_ns == mtime

"""/dev/null and /dev/zero, served by procnto (as QNX's procnto does)."""

from __future__ import annotations

import errno

import pytest

from qrv.lib.c import ipc
from qrv.lib.c.posix import (
    close,
    devctl,
    fstat,
    fsync,
    listdir,
    lseek,
    open,
    pread,
    read,
    stat,
    write,
)
from qrv.spec.iomsg import (
    DCMD_ALL_GETFLAGS,
    IO_READ,
    O_RDONLY,
    O_RDWR,
    O_WRONLY,
    S_IFCHR,
    SEEK_END,
    IoType,
)


def test_null_reads_eof_and_takes_every_write(sysk) -> None:
    k, _ = sysk
    with k.adopt("c", uid=100, gid=100):  # crw-rw-rw-: anyone
        fd = open("/dev/null", O_RDWR)
        try:
            assert read(fd, 100) == b""
            assert write(fd, b"x" * 200_000) == 200_000  # more than one receive buffer
            assert lseek(fd, 123, SEEK_END) == 0
            fsync(fd)
            assert int.from_bytes(devctl(fd, DCMD_ALL_GETFLAGS), "little") == O_RDWR
        finally:
            close(fd)


def test_zero_reads_zeros(sysk) -> None:
    k, _ = sysk
    with k.adopt("c"):
        fd = open("/dev/zero", O_RDONLY)
        try:
            assert read(fd, 5000) == bytes(5000)
            assert pread(fd, 7, 1 << 40) == bytes(7)
            st = fstat(fd)
            assert (st.mode, st.uid, st.size) == (S_IFCHR | 0o666, 0, 0)
        finally:
            close(fd)
        fd = open("/dev/zero", O_WRONLY)
        assert write(fd, b"gone") == 4
        close(fd)
        assert stat("/dev/null").mode == S_IFCHR | 0o666
        assert listdir("/dev") == ["null", "zero"]


def test_malformed_messages_get_errors(sysk) -> None:
    k, _ = sysk
    with k.adopt("c"):
        fd = open("/dev/zero", O_RDONLY)
        try:
            for raw in (IoType.READ.to_bytes(2, "little"), IoType.WRITE.to_bytes(2, "little")):
                with pytest.raises(OSError) as err:
                    ipc.MsgSend(fd, raw, 16)
                assert err.value.errno == errno.EBADMSG  # shorter than its header
            negative = IO_READ.pack(IoType.WRITE, IO_READ.size, -5, 0, 0)
            with pytest.raises(OSError) as err:
                ipc.MsgSend(fd, negative, 0)
            assert err.value.errno == errno.EINVAL
            with pytest.raises(OSError) as err:
                ipc.MsgSend(fd, IoType.CHMOD.to_bytes(2, "little") + bytes(6), 0)
            assert err.value.errno == errno.ENOSYS
        finally:
            close(fd)

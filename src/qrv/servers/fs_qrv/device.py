"""The block device under fs-qrv: a partition node of devb-nvme opened like any
file, read and written with ``pread``/``pwrite`` (4 KiB blocks), flushed with
``fsync`` (an NVMe Flush)."""

from __future__ import annotations

import errno

from qrv.lib.c import posix
from qrv.lib.qrvfs import BlockDevice, FsDeviceError
from qrv.spec.iomsg import EACCES, EPERM, EROFS, O_RDONLY, O_RDWR


def _failed(path: str, what: str, exc: OSError) -> FsDeviceError:
    return FsDeviceError(exc.errno or errno.EIO, f"{path}: {what}: {exc.strerror or exc}")


class NodeDevice:
    """An open partition node; ``read_only`` when it had to be opened so."""

    def __init__(self, path: str, *, want_write: bool) -> None:
        self.path = path
        self.fell_back = False
        self.fd = -1
        if want_write:
            try:
                self.fd = posix.open(path, O_RDWR)
            except OSError as exc:
                if exc.errno not in (EROFS, EACCES, EPERM):
                    raise
                self.fell_back = True
        if self.fd < 0:
            self.fd = posix.open(path, O_RDONLY)
        self.read_only = self.fell_back or not want_write
        size = posix.fstat(self.fd).size
        self.device = BlockDevice(
            self._pread, size, None if self.read_only else self._pwrite, self._flush
        )

    def _pread(self, offset: int, length: int) -> bytes:
        try:
            return posix.pread(self.fd, length, offset)
        except OSError as exc:
            raise _failed(self.path, "read", exc) from None

    def _pwrite(self, offset: int, data: bytes) -> None:
        try:
            done = posix.pwrite(self.fd, data, offset)
        except OSError as exc:
            raise _failed(self.path, "write", exc) from None
        if done != len(data):
            raise FsDeviceError(errno.EIO, f"{self.path}: short write ({done} of {len(data)})")

    def _flush(self) -> None:
        if self.read_only:
            return
        try:
            posix.fsync(self.fd)
        except OSError as exc:
            raise _failed(self.path, "flush", exc) from None

    def close(self) -> None:
        if self.fd >= 0:
            posix.close(self.fd)
            self.fd = -1

"""Errors of the qrvfs core: each carries the errno a resource manager replies with."""

from __future__ import annotations

import errno as _errno
import os

from qrv.errors import QrvfsError


class FsError(QrvfsError):
    """An operation refused with ``errno`` (ENOENT, EEXIST, ENOSPC, ...)."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err

    @classmethod
    def of(cls, err: int, what: str) -> FsError:
        """``what: strerror`` (e.g. ``/a/b: No such file or directory``)."""
        return cls(err, f"{what}: {os.strerror(err)}")


class FsCorrupt(FsError):
    """The image contradicts the format (out-of-range block, bad directory, ...): EIO."""

    def __init__(self, message: str) -> None:
        super().__init__(_errno.EIO, f"corrupt filesystem: {message}")


class FsDeviceError(FsError):
    """The block device failed or refused an access (short read, write to read-only)."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(err, message)

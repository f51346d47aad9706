"""A qrvfs mounted by fs-qrv at /mnt in a kernel, and calls run as a process of a
given uid: the setting of the pjdfstest-style cases (one file per call)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from qrv.kernel import Kernel
from qrv.lib.c import chmod, close, open, write
from qrv.lib.qrvfs import format_device
from qrv.lib.qrvfs.check import check
from qrv.spec.iomsg import O_CREAT, O_WRONLY
from tests.kernel.system import Console, sysk
from tests.lib.qrvfs.memdev import mem_device
from tests.servers.fs_qrv.test_fs_qrv import disk_server, in_process
from tests.userland.shell import run

__all__ = ["Mounted", "mounted", "small", "sysk"]

USER, OTHER = 1000, 2000
"""A non-root user owning the test directory, and a stranger."""


@dataclass
class Mounted:
    k: Kernel
    img: bytearray

    def call(self, fn: Callable[[], object], uid: int = 0) -> object:
        """`fn()` in a process of `uid` (gid = uid): its result or the OSError it raised."""
        return in_process(self.k, fn, uid)

    def err(self, fn: Callable[[], object], uid: int = 0) -> int:
        """The errno `fn()` fails with (0 when it succeeds)."""
        got = self.call(fn, uid)
        return got.errno or -1 if isinstance(got, OSError) else 0

    def ok(self, fn: Callable[[], object], uid: int = 0) -> object:
        got = self.call(fn, uid)
        assert not isinstance(got, OSError), got
        return got

    def fsck_clean(self) -> bool:
        assert run(self.k, "umount -f /mnt").status == 0
        return check(mem_device(self.img)).problems == []


def _mount(k: Kernel, size: int, ninodes: int) -> Mounted:
    img = bytearray(size)
    format_device(mem_device(img), ninodes=ninodes, nlog=48, now=lambda: 100)
    pid = k.spawn(disk_server(img), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    r = run(k, "mount /dev/disk /mnt")
    assert r.status == 0, r.errtext
    return Mounted(k, img)


@pytest.fixture
def mounted(sysk: tuple[Kernel, Console]) -> Iterator[Mounted]:
    """4 MiB, 64 inodes; the root directory is world-writable (0777, as /tmp)."""
    m = _mount(sysk[0], 4 << 20, 64)
    m.ok(lambda: chmod("/mnt", 0o777))
    yield m


@pytest.fixture
def small(sysk: tuple[Kernel, Console]) -> Iterator[Mounted]:
    """A filesystem that fills up: 16 inodes, 1 MiB."""
    yield _mount(sysk[0], 1 << 20, 16)


def create(path: str, data: bytes = b"", mode: int = 0o644) -> None:
    """A regular file holding `data` (for a case's setup)."""
    fd = open(path, O_CREAT | O_WRONLY, mode)
    try:
        if data:
            write(fd, data)
    finally:
        close(fd)

from collections.abc import Iterator

import pytest

from qrv.kernel import Kernel
from qrv.spec.iomsg import S_IFBLK, S_IFCHR
from tests.kernel.system import Console, sysk
from tests.lib.c.memfs import BLOCK_RO, memfs

__all__ = ["BIG", "BLOB", "box", "sysk"]

BLOB = bytes((i * 7 + i // 256) & 0xFF for i in range(3000)) + b"\0" * 64 + b"tail\n"
"""3069 bytes: a pattern, a run of zeros (squeezed to ``*``), a partial last line."""
BIG_SIZE = 4 << 20
SECTOR = 512
MARK = b"EFI PART" + bytes(range(256))
BIG = bytes(BIG_SIZE - SECTOR) + MARK + bytes(SECTOR - len(MARK))
"""4 MiB of zeros with a marker in its last 512-byte block."""


@pytest.fixture
def box(sysk: tuple[Kernel, Console]) -> Iterator[Kernel]:
    """A kernel with a memfs of test devices: /dev/blob, /dev/big, /dev/ram (32 B, writable)."""
    k, _ = sysk
    files = {
        "/dev/blob": (BLOCK_RO, BLOB),
        "/dev/big": (BLOCK_RO, BIG),
        "/dev/ram": (S_IFBLK | 0o666, bytes(32)),
        "/dev/tty": (S_IFCHR | 0o666, b""),
    }
    pid = k.spawn(memfs(files), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    yield k

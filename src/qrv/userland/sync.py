"""sync: make every mounted filesystem's and writable block device's data durable.

First each mount (``/proc/mount``) is ``fsync``ed through its directory: fs-qrv
commits its journal and writes its cache back.  Then each block device
under ``/dev`` with a write permission bit (a node devb-nvme
serves ``rw``) is opened read-only and ``fsync``ed: the driver flushes the
device's volatile write cache.  A device that fails is reported as
``sync: PATH: strerror`` (status 1) and the others are still synced.
Read-only nodes hold nothing to flush and are left alone.  Arguments are an
error (status 2), as POSIX sync takes none.
"""

from __future__ import annotations

from qrv.lib.c import close, fsync, listdir, open, stat
from qrv.spec.iomsg import O_RDONLY, S_IFBLK, S_IFMT
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, err, fail
from qrv.userland.df import mounts

DEV = "/dev"
WRITE_BITS = 0o222


def writable_block_devices() -> list[str]:
    """Paths of the block devices in /dev that someone may write."""
    found = []
    for name in listdir(DEV):
        path = f"{DEV}/{name}"
        try:
            mode = stat(path).mode
        except OSError:
            continue  # gone since the listing
        if mode & S_IFMT == S_IFBLK and mode & WRITE_BITS:
            found.append(path)
    return found


def _sync(path: str) -> int:
    try:
        fd = open(path, O_RDONLY)
    except OSError as exc:
        return fail("sync", path, exc)
    try:
        fsync(fd)
    except OSError as exc:
        return fail("sync", path, exc)
    finally:
        close(fd)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        if argv[1] != "--help":
            kind = "option" if argv[1].startswith("-") else "argument"
            err(f"sync: unknown {kind} '{argv[1]}'")
        err("usage: sync")
        return EXIT_USAGE
    try:
        paths = [where for _dev, where in mounts()] + writable_block_devices()
    except OSError as exc:
        return fail("sync", DEV, exc)
    failed = [path for path in paths if _sync(path)]
    return EXIT_FAILURE if failed else 0

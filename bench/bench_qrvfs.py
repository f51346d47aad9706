"""qrvfs host-side benchmark: the filesystem core over an image file.

* sequential read of a 16 MiB file through the library, beside os.pread of
  the same image (the raw device) in the same run;
* create + write 4 KiB + fsync for 1,000 files through the library (journal
  on), beside the same on the host's own filesystem (ratio reported).

(The same figures through fs-qrv inside the system come with fs-qrv.)
Not part of the tests.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qrv.lib.qrvfs import Filesystem
from qrv.tools.fsimage import FsImage
from qrv.tools.mkfs import make_filesystem

MIB = 1 << 20
FILE_MIB = 16
CHUNK = 64 * 1024
FILES = 1000
PAGE = 4096


def seconds(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_read(image: Path) -> None:
    make_filesystem(image, size_mib=FILE_MIB + 8, force=True)
    data = os.urandom(FILE_MIB * MIB)
    with FsImage(image, writable=True) as img:
        fs = Filesystem.mount(img.device)
        fs.write_file("/big", data)
        fs.unmount()
    with FsImage(image, writable=False) as img:
        fs = Filesystem.mount(img.device, cache_blocks=256)
        inum = fs.lookup("/big")

        def through_fs() -> None:
            for off in range(0, FILE_MIB * MIB, CHUNK):
                fs.read(inum, off, CHUNK)

        t_fs = seconds(through_fs)
    fd = os.open(image, os.O_RDONLY)
    try:
        t_raw = seconds(lambda: [os.pread(fd, CHUNK, o) for o in range(0, FILE_MIB * MIB, CHUNK)])
    finally:
        os.close(fd)
    mb = FILE_MIB
    print(f"sequential read {mb} MiB, {CHUNK // 1024} KiB reads:")
    print(f"  qrvfs library      {mb / t_fs:8.1f} MiB/s")
    print(f"  os.pread (raw)     {mb / t_raw:8.1f} MiB/s   ratio {t_raw / t_fs:.3f}x")


def bench_create(image: Path, host_dir: Path) -> None:
    make_filesystem(image, size_mib=64, inodes=2048, force=True)
    page = os.urandom(PAGE)
    with FsImage(image, writable=True) as img:
        fs = Filesystem.mount(img.device)

        def through_fs() -> None:
            for i in range(FILES):
                inum = fs.create(f"/f{i}", exclusive=True)
                fs.write(inum, 0, page)
                fs.fsync()

        t_fs = seconds(through_fs)
        fs.unmount()

    def on_host() -> None:
        for i in range(FILES):
            fd = os.open(host_dir / f"f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.write(fd, page)
            os.fsync(fd)
            os.close(fd)

    t_host = seconds(on_host)
    print(f"create + write 4 KiB + fsync, {FILES} files:")
    print(f"  qrvfs library      {FILES / t_fs:8.0f} files/s")
    print(f"  host filesystem    {FILES / t_host:8.0f} files/s   ratio {t_host / t_fs:.3f}x")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "host").mkdir()
        bench_read(base / "read.img")
        bench_create(base / "create.img", base / "host")


if __name__ == "__main__":
    main()

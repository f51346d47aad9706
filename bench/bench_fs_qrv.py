"""fs-qrv in the running system, beside same-run baselines.

* sequential read (64 KiB reads) of a 16 MiB file through fs-qrv beside a raw
  read of the same partition node through devb-nvme (goal: >= 0.5x);
* create + write 4 KiB + fsync for 1,000 files through fs-qrv beside the same
  on the host's own filesystem (ratio reported).

The reads run in turns (fs-qrv, then raw, ``--rounds`` times); the figures are
the medians, with the range of the per-turn ratios (a busy host moves both).

Both machines (QEMU when installed).

    python bench/bench_fs_qrv.py [--machine builtin|qemu|both] [--files N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import booted, machines_available
from qrv.emu import boot_programs
from qrv.lib.c import close, fsync, open, read, spawn, stat, waitpid, write
from qrv.lib.c.proc import delay
from qrv.lib.qrvfs import Filesystem
from qrv.servers.fs_qrv import main as fs_qrv
from qrv.spec.iomsg import O_CREAT, O_EXCL, O_RDONLY, O_WRONLY
from qrv.tools.fsimage import FsImage
from qrv.tools.mkfs import make_filesystem
from qrv.tools.mkgpt import create_seed_image
from qrv.userland import umount

MiB = 1 << 20
FILE_SIZE = 16 * MiB
CHUNK = 64 * 1024
PAGE = 4096
READY_S = 30.0


def make_image(path: Path) -> None:
    create_seed_image(path, size_mib=96, part_mib=(48, 16))
    make_filesystem(path, partition=1, inodes=2048)
    with FsImage(path, writable=True, partition=1) as img:
        fs = Filesystem.mount(img.device)
        fs.write_file("/big", os.urandom(FILE_SIZE))
        fs.unmount()


def read_all(path: str) -> tuple[int, float]:
    fd = open(path, O_RDONLY)
    moved, t0 = 0, time.perf_counter()
    try:
        while moved < FILE_SIZE:
            data = read(fd, CHUNK)
            if not data:
                break
            moved += len(data)
    finally:
        close(fd)
    return moved, time.perf_counter() - t0


def creates(directory: str, files: int) -> float:
    page = os.urandom(PAGE)
    t0 = time.perf_counter()
    for i in range(files):
        fd = open(f"{directory}/f{i}", O_CREAT | O_EXCL | O_WRONLY, 0o644)
        write(fd, page)
        fsync(fd)
        close(fd)
    return time.perf_counter() - t0


def host_creates(directory: Path, files: int) -> float:
    page = os.urandom(PAGE)
    t0 = time.perf_counter()
    for i in range(files):
        fd = os.open(directory / f"f{i}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.write(fd, page)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - t0


def bench_machine(name: str, image: Path, files: int, host_dir: Path, rounds: int) -> None:
    def workload(argv: list[str]) -> int:
        del argv
        pid = spawn(fs_qrv.main, ["fs-qrv", "/dev/nvme0n1p1", "/mnt"], name="fs-qrv")
        deadline = time.monotonic() + READY_S
        while True:
            try:
                stat(f"/proc/mount/{pid}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("fs-qrv did not come up") from None
                delay(0.01)
        fs_rates, raw_rates = [], []
        for _ in range(rounds):  # in turns, so the host's load falls on both alike
            fs_bytes, t_fs = read_all("/mnt/big")
            raw_bytes, t_raw = read_all("/dev/nvme0n1p1")
            fs_rates.append(fs_bytes / t_fs / MiB)
            raw_rates.append(raw_bytes / t_raw / MiB)
        print(f"\n== {name} machine")
        print(f"{'workload':<34}{'fs-qrv':>14}{'baseline':>14}{'ratio':>8}")
        s_fs, s_raw = statistics.median(fs_rates), statistics.median(raw_rates)
        print(
            f"{'seq read 16 MiB (vs devb-nvme)':<34}{s_fs:>9.1f} MiB/s{s_raw:>9.1f} MiB/s"
            f"{s_fs / s_raw:>7.2f}x"
        )
        turns = sorted(f / r for f, r in zip(fs_rates, raw_rates, strict=True))
        print(f"  medians of {rounds} turns; ratio per turn {turns[0]:.2f}x .. {turns[-1]:.2f}x")
        t_c = creates("/mnt", files)
        (host_dir / name).mkdir()
        t_h = host_creates(host_dir / name, files)
        print(
            f"{f'create+4K+fsync x{files} (vs host)':<34}{files / t_c:>9.0f} f/s  "
            f"{files / t_h:>9.0f} f/s  {t_h / t_c:>7.3f}x"
        )
        waitpid(spawn(umount.main, ["umount", "/mnt"]), 60)
        waitpid(pid, 60)
        return 0

    with booted(name, image, boot_programs(True), writable=True) as system:
        system.run(workload, timeout=3600)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--machine", choices=("builtin", "qemu", "both"), default="both")
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3, help="read turns (fs-qrv, then raw)")
    args = p.parse_args()
    machines = machines_available(args.machine)
    with tempfile.TemporaryDirectory() as tmp:
        for name in machines:
            image = Path(tmp) / f"{name}.img"
            make_image(image)
            bench_machine(name, image, args.files, Path(tmp), args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

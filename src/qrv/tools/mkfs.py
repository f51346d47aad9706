"""`qrv mkfs [--size MIB] [--inodes N] [--log BLOCKS] [--partition N] [--force]
IMAGE [DIR]`: format an image (or its GPT partition N) with qrvfs v2, laid
out as the real mkfs-qrv does, and optionally populate it from DIR (regular
files, directories and symbolic links, with the host's modes, owners and
times; other kinds are skipped with a note)."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

from qrv.errors import UsageError
from qrv.lib.qrvfs import Filesystem, format_device
from qrv.lib.qrvfs.journal import min_log_blocks
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    INODES_PER_BLOCK,
    LOG_TARGETS_MAX,
    REAL_DEFAULT_INODES,
    REAL_DEFAULT_SIZE_MIB,
    Superblock,
    plan_layout,
)
from qrv.tools.fsargs import ToolParser
from qrv.tools.fsimage import FsImage

MIB = 1 << 20
BYTES_PER_INODE = 16384  # default: one inode per 16 KiB, at least the real tool's 128
LOG_FRACTION = 64  # default log: 1/64 of the blocks, within the bounds below
LOG_MAX = LOG_TARGETS_MAX + 1


def default_inodes(size_blocks: int) -> int:
    n = size_blocks * BLOCK_SIZE // BYTES_PER_INODE
    return max(REAL_DEFAULT_INODES, -(-n // INODES_PER_BLOCK) * INODES_PER_BLOCK)


def default_log(size_blocks: int, ninodes: int) -> int:
    """1/64 of the filesystem, at least what one transaction needs, at most 510."""
    smallest = min_log_blocks(plan_layout(size_blocks, ninodes, 0))
    return max(smallest, min(LOG_MAX, size_blocks // LOG_FRACTION))


def _prepare(path: Path, size_mib: int | None, partition: int | None) -> None:
    """Create or grow a whole-image target to ``size_mib``."""
    if partition is not None:
        if not path.exists():
            raise UsageError(f"{path}: no such file (--partition needs an image with a GPT)")
        return
    if size_mib is None and path.exists():
        return
    want = (REAL_DEFAULT_SIZE_MIB if size_mib is None else size_mib) * MIB
    try:
        if path.exists():
            st = path.stat()
            if stat.S_ISREG(st.st_mode) and st.st_size < want:
                os.truncate(path, want)
        else:
            with open(path, "xb") as f:
                f.truncate(want)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None


def populate(fs: Filesystem, src: Path, dest: bytes = b"/") -> list[str]:
    """Copy the tree under ``src`` into ``dest`` (entries in the host's readdir
    order); returns notes on skipped entries.  Directory times are set last,
    once nothing more is added to them."""
    notes: list[str] = []
    stack = [(src, dest)]
    dir_times: list[tuple[bytes, os.stat_result]] = []
    while stack:
        host_dir, fs_dir = stack.pop()
        with os.scandir(host_dir) as it:
            for entry in it:
                host = Path(entry.path)
                target = fs_dir.rstrip(b"/") + b"/" + os.fsencode(entry.name)
                st = host.lstat()
                if stat.S_ISDIR(st.st_mode):
                    fs.mkdir(target, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
                    stack.append((host, target))
                    dir_times.append((target, st))
                elif not _copy_leaf(fs, host, target, st):
                    notes.append(f"{host}: skipped (not a regular file, directory or symlink)")
    for target, st in reversed(dir_times):
        fs.utime(target, int(st.st_atime), int(st.st_mtime))
    return notes


def _copy_leaf(fs: Filesystem, host: Path, target: bytes, st: os.stat_result) -> bool:
    """Copy a regular file or symbolic link; False for anything else."""
    if stat.S_ISREG(st.st_mode):
        inum = fs.create(target, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, exclusive=True)
        with open(host, "rb") as f:
            offset = 0
            while chunk := f.read(MIB):
                fs.write(inum, offset, chunk)
                offset += len(chunk)
        fs.utime(target, int(st.st_atime), int(st.st_mtime))
        return True
    if stat.S_ISLNK(st.st_mode):
        fs.symlink(os.fsencode(os.readlink(host)), target, st.st_uid, st.st_gid)
        return True
    return False


def make_filesystem(
    path: Path,
    *,
    size_mib: int | None = None,
    inodes: int | None = None,
    log: int | None = None,
    partition: int | None = None,
    force: bool = False,
    source: Path | None = None,
) -> tuple[Superblock, list[str]]:
    if size_mib is not None and size_mib < 1:
        raise UsageError(f"--size {size_mib}: must be at least 1 MiB")
    if source is not None and not source.is_dir():
        raise UsageError(f"{source}: not a directory")
    _prepare(path, size_mib, partition)
    with FsImage(path, writable=True, partition=partition) as image:
        if not force:
            held = image.holds()
            if held is not None:
                raise UsageError(f"{image.label} holds {held}; use --force to overwrite it")
        size = image.device.nblocks
        if size_mib is not None:
            size = min(size, size_mib * MIB // BLOCK_SIZE)
        ninodes = default_inodes(size) if inodes is None else inodes
        nlog = default_log(size, ninodes) if log is None else log
        sb = format_device(image.device, size_blocks=size, ninodes=ninodes, nlog=nlog)
        notes: list[str] = []
        if source is not None:
            fs = Filesystem.mount(image.device)
            notes += [n for n in fs.notes if "not crash-safe" not in n]
            try:
                notes += populate(fs, source)
            except OSError as exc:
                raise UsageError(f"{exc.filename or source}: {exc.strerror or exc}") from None
            fs.unmount()
        return sb, notes


def _parser() -> argparse.ArgumentParser:
    p = ToolParser(
        prog="qrv mkfs",
        description="Format IMAGE (or its GPT partition N) with qrvfs v2; DIR populates it.",
        epilog=(
            "Without --size an existing image or partition is used whole; a new image is "
            f"{REAL_DEFAULT_SIZE_MIB} MiB.  Defaults: one inode per 16 KiB (at least "
            f"{REAL_DEFAULT_INODES}), a log of 1/64 of the blocks (at least what one "
            f"transaction needs, at most {LOG_MAX}); --log 0 makes no journal, as the "
            "real mkfs-qrv."
        ),
    )
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("source", metavar="DIR", nargs="?")
    p.add_argument("--size", type=int, metavar="MIB", help="filesystem size in MiB")
    p.add_argument("--inodes", type=int, metavar="N", help="inode slots (inode 0 included)")
    p.add_argument("--log", type=int, metavar="BLOCKS", help="log blocks (0: no journal)")
    p.add_argument("--partition", type=int, metavar="N", help="format GPT partition N")
    p.add_argument("--force", action="store_true", help="overwrite a filesystem or table")
    return p


def main(argv: Sequence[str]) -> int:
    try:
        args = _parser().parse_args(list(argv))
    except SystemExit as done:
        return int(done.code or 0)
    sb, notes = make_filesystem(
        Path(args.image),
        size_mib=args.size,
        inodes=args.inodes,
        log=args.log,
        partition=args.partition,
        force=args.force,
        source=Path(args.source) if args.source else None,
    )
    for note in notes:
        print(f"qrv mkfs: {note}", file=sys.stderr)
    print(
        f"{args.image}: qrvfs v2, {sb.size} blocks of {BLOCK_SIZE} B "
        f"({sb.size * BLOCK_SIZE // MIB} MiB), {sb.ninodes} inodes, log {sb.nlog} blocks, "
        f"{sb.nblocks} data blocks from block {sb.datastart}"
    )
    return 0

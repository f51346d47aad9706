"""A qrvfs on the host: an image file or block device, or one GPT partition of
it (``--partition N``), opened as a :class:`qrv.lib.qrvfs.BlockDevice`
(pread/pwrite at the partition's offset, flush = fsync).  Also the probe
that keeps `qrv mkfs` from overwriting a filesystem or partition table."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from types import TracebackType

from qrv.errors import UsageError
from qrv.lib.gpt import GptTable
from qrv.lib.qrvfs import BlockDevice, FsDeviceError
from qrv.spec.gpt import GPT_SIGNATURE, MBR_SIGNATURE, mbr_signature
from qrv.spec.qrvfs import BLOCK_SIZE, MAGIC, SUPERBLOCK_BLOCK
from qrv.tools.gpt import read_table

# (byte offset, signature, what it is): enough to recognise what mkfs must not clobber
SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (SUPERBLOCK_BLOCK * BLOCK_SIZE, MAGIC.to_bytes(4, "little"), "a qrvfs filesystem"),
    (512, GPT_SIGNATURE, "a GPT partition table"),
    (4096, GPT_SIGNATURE, "a GPT partition table"),
    (1024 + 56, b"\x53\xef", "an ext2/3/4 filesystem"),
    (0, b"XFSB", "an XFS filesystem"),
    (65536 + 64, b"_BHRfS_M", "a btrfs filesystem"),
    (32769, b"CD001", "an ISO 9660 filesystem"),
    (4086, b"SWAPSPACE2", "a Linux swap area"),
    (3, b"NTFS    ", "an NTFS filesystem"),
    (54, b"FAT", "a FAT filesystem"),
    (82, b"FAT32", "a FAT32 filesystem"),
)


class FsImage:
    """``path`` (or its partition ``partition``) as a block device."""

    def __init__(self, path: Path, *, writable: bool, partition: int | None = None) -> None:
        self.path = path
        self.label = f"{path}" + (f" partition {partition}" if partition else "")
        try:
            self._fd = os.open(path, os.O_RDWR if writable else os.O_RDONLY)
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror or exc}") from None
        try:
            mode = os.fstat(self._fd).st_mode
            if stat.S_ISDIR(mode):
                raise UsageError(f"{path}: is a directory")
            total = os.lseek(self._fd, 0, os.SEEK_END)
            self.offset, self.size_bytes = 0, total
            if partition is not None:
                self.offset, self.size_bytes = self._partition(partition)
        except BaseException:
            os.close(self._fd)
            raise
        self.device = BlockDevice(
            self._pread, self.size_bytes, self._pwrite if writable else None, self._flush
        )

    def _partition(self, index: int) -> tuple[int, int]:
        table: GptTable = read_table(self.path)
        part = next((p for p in table.partitions if p.index == index), None)
        if part is None:
            have = ", ".join(str(p.index) for p in table.partitions) or "none"
            raise UsageError(f"{self.path}: no partition {index} (partitions: {have})")
        return part.start_lba * table.lba_size, part.num_lbas * table.lba_size

    def _failed(self, what: str, exc: OSError) -> FsDeviceError:
        return FsDeviceError(exc.errno or errno.EIO, f"{self.path}: {what}: {exc.strerror or exc}")

    def _pread(self, offset: int, length: int) -> bytes:
        if offset + length > self.size_bytes:
            return b""
        try:
            return os.pread(self._fd, length, self.offset + offset)
        except OSError as exc:
            raise self._failed("read", exc) from None

    def _pwrite(self, offset: int, data: bytes) -> None:
        try:
            if os.pwrite(self._fd, data, self.offset + offset) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            raise self._failed("write", exc) from None

    def _flush(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._failed("fsync", exc) from None

    def read_bytes(self, offset: int, length: int) -> bytes:
        if offset >= self.size_bytes:
            return b""
        return os.pread(self._fd, min(length, self.size_bytes - offset), self.offset + offset)

    def holds(self) -> str | None:
        """What recognisable filesystem or partition table the area holds, if any."""
        head = self.read_bytes(0, 65536 + 128)
        if len(head) >= 512 and mbr_signature(head[:512]) == MBR_SIGNATURE:
            fats = [w for o, s, w in SIGNATURES if "FAT" in w and head[o : o + len(s)] == s]
            return fats[0] if fats else "a partition table (MBR boot signature)"
        for offset, sig, what in SIGNATURES:
            if "FAT" not in what and head[offset : offset + len(sig)] == sig:
                return what
        return None

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FsImage:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

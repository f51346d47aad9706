"""Image files and block devices for the host GPT tools: sizes, positioned reads,
and the checked, ordered writes of mkgpt.  Nothing is created, grown or written
until `commit`, so a refused request leaves the file untouched (SPEC §4 Data)."""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from qrv.errors import UsageError
from qrv.spec.gpt import (
    GPT_SIGNATURE,
    MBR_SIGNATURE,
    MBR_SIZE,
    PRIMARY_HEADER_LBA,
    mbr_signature,
)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}
_CHUNK = 1 << 20  # bytes compared per read when checking for existing data
_FILE_MODE = 0o644
MAX_FILE_BYTES = (1 << 63) - 1  # off_t: no file can be larger


def parse_size(text: str) -> int:
    """``67108864``, ``64M``, ``64MiB``, ``1G``: bytes, binary suffixes."""
    m = _SIZE_RE.match(text)
    if m is None:
        raise UsageError(f"size {text!r} is not a number of bytes with optional K/M/G/T suffix")
    return int(m.group(1)) << _SHIFT[m.group(2).lower()]


def _describe(exc: OSError) -> str:
    return exc.strerror or str(exc)


def refuse_dangling_symlink(path: Path) -> None:
    """A symlink whose target is missing is named as such (creating it would say "File exists")."""
    if path.is_symlink() and not path.exists():
        raise UsageError(
            f"{path}: dangling symlink (its target {os.readlink(path)} does not exist)"
        )


class ImageFile:
    """An open image (or a plan to create one) of ``size_bytes`` bytes."""

    def __init__(self, path: Path, fd: int | None, current: int, size_bytes: int) -> None:
        self.path = path
        self._fd = fd
        self._current = current  # bytes the file holds now (0 when it does not exist)
        self.size_bytes = size_bytes  # bytes it will hold after commit

    @classmethod
    def open_for_read(cls, path: Path) -> ImageFile:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise UsageError(f"{path}: {_describe(exc)}") from None
        image = cls(path, fd, 0, 0)
        try:
            image._current = image.size_bytes = image._measure(fd)
        except UsageError:
            image.close()
            raise
        if image.size_bytes == 0:
            image.close()
            raise UsageError(f"{path}: empty file, no partition table")
        return image

    @classmethod
    def open_for_write(cls, path: Path, size_bytes: int | None, lba_size: int) -> ImageFile:
        """Open an existing image read-write, or plan to create one of ``size_bytes``."""
        if size_bytes is not None and (size_bytes <= 0 or size_bytes % lba_size):
            raise UsageError(f"--size {size_bytes} is not a positive multiple of {lba_size} bytes")
        if size_bytes is not None and size_bytes > MAX_FILE_BYTES:
            raise UsageError(
                f"--size {size_bytes} bytes is larger than a file can be "
                f"(at most {MAX_FILE_BYTES} bytes)"
            )
        refuse_dangling_symlink(path)
        if not path.exists():
            if size_bytes is None:
                raise UsageError(f"{path}: no such file (give --size to create it)")
            return cls(path, None, 0, size_bytes)
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError as exc:
            raise UsageError(f"{path}: {_describe(exc)}") from None
        image = cls(path, fd, 0, 0)
        try:
            current = image._measure(fd)
            if size_bytes is not None and not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UsageError(f"{path}: --size cannot resize a device")
            if size_bytes is not None and size_bytes < current:
                raise UsageError(
                    f"{path}: is {current} bytes; --size {size_bytes} would shrink it "
                    "(mkgpt only creates or grows images)"
                )
        except UsageError:
            image.close()
            raise
        if size_bytes is None and current % lba_size:
            image.close()
            raise UsageError(
                f"{path}: {current} bytes is not a whole number of {lba_size}-byte LBAs "
                "(--size can grow it to one)"
            )
        image._current = current
        image.size_bytes = current if size_bytes is None else size_bytes
        return image

    def _measure(self, fd: int) -> int:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{self.path}: is a directory")
        if stat.S_ISREG(mode):
            return os.fstat(fd).st_size
        if stat.S_ISBLK(mode):
            return os.lseek(fd, 0, os.SEEK_END)
        raise UsageError(f"{self.path}: not a regular file or block device")

    def read(self, offset: int, length: int) -> bytes:
        """Bytes at ``offset``; the part beyond the current end (to be grown) reads as zeros."""
        want = max(0, min(length, self.size_bytes - offset))
        data = bytearray()
        if self._fd is not None:
            while len(data) < want and offset + len(data) < self._current:
                chunk = os.pread(self._fd, want - len(data), offset + len(data))
                if not chunk:
                    break
                data += chunk
        return bytes(data.ljust(want, b"\x00"))

    def read_lba_for(self, lba_size: int) -> Callable[[int, int], bytes]:
        def read_lba(lba: int, count: int) -> bytes:
            return self.read(lba * lba_size, count * lba_size)

        return read_lba

    def refuse_if_in_use(self, writes: Sequence[tuple[int, bytes]], lba_size: int) -> None:
        """Refuse to overwrite a partition table or any non-zero byte the writes cover."""
        if mbr_signature(self.read(0, MBR_SIZE).ljust(MBR_SIZE, b"\x00")) == MBR_SIGNATURE:
            raise UsageError(
                f"{self.path}: already holds a partition table (MBR boot signature at LBA 0); "
                "use --force to overwrite it"
            )
        if self.read(PRIMARY_HEADER_LBA * lba_size, len(GPT_SIGNATURE)) == GPT_SIGNATURE:
            raise UsageError(f"{self.path}: already holds a GPT; use --force to overwrite it")
        for lba, data in writes:
            start = lba * lba_size
            for offset in range(start, start + len(data), _CHUNK):
                chunk = self.read(offset, min(_CHUNK, start + len(data) - offset))
                if chunk.count(0) != len(chunk):
                    first = offset + next(i for i, b in enumerate(chunk) if b)
                    raise UsageError(
                        f"{self.path}: non-zero data at LBA {first // lba_size} where the "
                        "table would go; use --force to overwrite it"
                    )

    def commit(self, writes: Sequence[tuple[int, bytes]], lba_size: int) -> None:
        """Create or grow the file, then write in the given order with fsyncs (the
        backup copy is durable before the primary is touched).

        If anything fails, a file this call created is removed and a file it grew is
        cut back to its old size: a failed mkgpt leaves no file (or growth) behind.
        """
        created = self._fd is None
        if created:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            except OSError as exc:
                raise UsageError(f"{self.path}: {_describe(exc)}") from None
        assert self._fd is not None
        original = self._current
        try:
            if self.size_bytes > self._current:
                os.ftruncate(self._fd, self.size_bytes)
            self._current = self.size_bytes
            for n, (lba, data) in enumerate(writes):
                os.pwrite(self._fd, data, lba * lba_size)
                if n == 1:  # backup array and header are down
                    os.fsync(self._fd)
            os.fsync(self._fd)
        except BaseException as exc:
            self._undo(created, original)
            if isinstance(exc, OSError):
                raise UsageError(f"{self.path}: write failed: {_describe(exc)}") from None
            raise

    def _undo(self, created: bool, original: int) -> None:
        """Remove the file `commit` created, or cut a grown one back (best effort)."""
        if created:
            self.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        elif self._fd is not None and self._current > original:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, original)
            self._current = original

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ImageFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

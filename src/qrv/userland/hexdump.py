"""hexdump [-C] [-n N] [-s OFF] [FILE...]: the BSD/util-linux hexdump formats.

Default: ``%07x`` offset then eight 16-bit little-endian words (``%04x``);
``-C``: ``%08x``, sixteen bytes in two groups of eight and ``|ascii|``.
Repeated lines are squeezed to one ``*``; the last line is the end offset
(none when nothing was read and the offset is 0, nothing at all for ``-n 0``).

``-s OFF`` skips over the concatenated input as util-linux's ``doskip()``
does: a file (regular, or a block device, whose st_size is its size in
bytes here) no longer than what is left to skip is passed over whole and
counts its size to the offset; otherwise the file is ``lseek``ed to the
offset, which counts in full even past the end of a device.  Input that
cannot seek (stdin, ``ESPIPE``) is read and discarded instead.  Input is
read in :data:`CHUNK`-byte messages whatever ``-n`` is.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from qrv.lib.c import close, fstat, lseek, open, read
from qrv.spec.iomsg import EISDIR, ENOSYS, S_IFBLK, S_IFMT, S_IFREG, SEEK_SET, oserror
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, fail, is_dir, out

USAGE = "hexdump [-C] [-n LENGTH] [-s OFFSET] [FILE...]"
LINE = 16
CHUNK = 65536
STDIN = 0
_PRINTABLE = range(0x20, 0x7F)
_SIZED = (S_IFREG, S_IFBLK)
"""File types whose st_size is the number of bytes they hold."""
_CANNOT_SEEK = (errno.ESPIPE, ENOSYS)
"""lseek errors that mean "not seekable" (a pipe; a resource manager without lseek)."""


class _Usage(Exception):
    pass


def _number(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        value = -1
    if value < 0:
        raise _Usage(f"hexdump: bad {what} '{text}'")
    return value


def canonical(offset: int, line: bytes) -> str:
    cells = [f"{b:02x} " for b in line] + ["   "] * (LINE - len(line))
    half = LINE // 2
    text = "".join(chr(b) if b in _PRINTABLE else "." for b in line)
    return f"{offset:08x}  {''.join(cells[:half])} {''.join(cells[half:])} |{text}|"


def words(offset: int, line: bytes) -> str:
    padded = line + b"\0" * (len(line) % 2)
    cells = [f"{padded[i] | padded[i + 1] << 8:04x}" for i in range(0, len(padded), 2)]
    full = 7 + 1 + (LINE // 2) * 5 - 1  # a partial line is padded to the full width
    return (f"{offset:07x} " + " ".join(cells)).ljust(full)


def _lines(data: Iterator[bytes]) -> Iterator[bytes]:
    buf = b""
    for chunk in data:
        buf += chunk
        while len(buf) >= LINE:
            yield buf[:LINE]
            buf = buf[LINE:]
    if buf:
        yield buf


class Input:
    """The concatenated input files, `skip` bytes passed over, at most `length` bytes.

    :attr:`address` is the input offset of the next byte (the skipped bytes
    included); :attr:`status` is non-zero once a file could not be read.
    """

    def __init__(self, paths: list[str], skip: int, length: int | None) -> None:
        self.paths = paths or ["-"]
        self.skip = skip
        self.left = length
        self.address = 0
        self.start: int | None = None
        self.status = 0

    def chunks(self) -> Iterator[bytes]:
        for path in self.paths:
            if self.left is not None and self.left <= 0:
                return
            try:
                fd = STDIN if path == "-" else open(path)
            except OSError as exc:
                self.status = fail("hexdump", path, exc)
                continue
            try:
                yield from self._file(fd, path)
            except OSError as exc:
                self.status = fail("hexdump", path, exc)
            finally:
                if fd != STDIN:
                    close(fd)

    def _file(self, fd: int, path: str) -> Iterator[bytes]:
        if fd != STDIN:
            st = fstat(fd)
            if is_dir(st.mode):
                raise oserror(EISDIR, path)
            if self.skip and st.mode & S_IFMT in _SIZED and self.skip > st.size:
                self.skip -= st.size
                self.address += st.size
                return
        if self.skip and not self._seek(fd):
            return
        while self.left is None or self.left > 0:
            data = read(fd, CHUNK)
            if not data:
                return
            if self.left is not None:
                data = data[: self.left]
                self.left -= len(data)
            if self.start is None:
                self.start = self.address
            self.address += len(data)
            yield data

    def _seek(self, fd: int) -> bool:
        """Skip in `fd`; False when it ended first (stdin or a pipe: read and discard)."""
        if fd != STDIN:
            try:
                lseek(fd, self.skip, SEEK_SET)
            except OSError as exc:
                if exc.errno not in _CANNOT_SEEK:
                    raise
            else:
                self.address += self.skip
                self.skip = 0
                return True
        while self.skip:
            data = read(fd, min(CHUNK, self.skip))
            if not data:
                return False
            self.skip -= len(data)
            self.address += len(data)
        return True


def _options(argv: list[str]) -> tuple[bool, int | None, int, list[str]]:
    fmt_c, length, skip, paths = False, None, 0, []
    args = iter(argv)
    for arg in args:
        if arg == "-C":
            fmt_c = True
        elif arg in ("-n", "-s"):
            value = next(args, None)
            if value is None:
                raise _Usage(f"hexdump: option {arg} needs a value")
            if arg == "-n":
                length = _number(value, "length")
            else:
                skip = _number(value, "offset")
        elif arg.startswith("-") and arg != "-":
            raise _Usage(f"hexdump: unknown option '{arg}'")
        else:
            paths.append(arg)
    return fmt_c, length, skip, paths


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        fmt_c, length, skip, paths = _options(argv[1:])
    except _Usage as exc:
        err(f"usage: {USAGE}" if "--help" in argv else str(exc))
        return EXIT_USAGE
    if length == 0:
        return 0  # util-linux reads nothing and prints nothing, not even an offset
    src = Input(paths, skip, length)
    prev, squeezing = b"", False
    for n, line in enumerate(_lines(src.chunks())):
        if line == prev and len(line) == LINE:
            if not squeezing:
                out("*\n")
                squeezing = True
        else:
            squeezing = False
            offset = (src.start or 0) + n * LINE
            out((canonical(offset, line) if fmt_c else words(offset, line)) + "\n")
        prev = line
    if src.address:
        out((f"{src.address:08x}" if fmt_c else f"{src.address:07x}") + "\n")
    return EXIT_FAILURE if src.status else 0

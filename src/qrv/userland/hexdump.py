"""hexdump [-C] [-n N] [-s OFF] [FILE...]: the BSD/util-linux hexdump formats.

Default: ``%07x`` offset then eight 16-bit little-endian words (``%04x``);
``-C``: ``%08x``, sixteen bytes in two groups of eight and ``|ascii|``.
Repeated lines are squeezed to one ``*``; the last line is the end offset.
"""

from __future__ import annotations

from collections.abc import Iterator

from qrv.lib.c import close, open, read
from qrv.userland._util import EXIT_USAGE, err, fail, out

LINE = 16
CHUNK = 65536
STDIN = 0
_PRINTABLE = range(0x20, 0x7F)


class _Usage(Exception):
    pass


def _number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise _Usage(f"hexdump: invalid number '{text}'") from None


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


def _input(paths: list[str], skip: int, length: int | None) -> Iterator[bytes]:
    """The concatenated input, `skip` bytes dropped, at most `length` bytes."""
    left = length
    for path in paths or ["-"]:
        fd = STDIN if path == "-" else open(path)
        try:
            while left is None or left > 0:
                data = read(fd, CHUNK if left is None else min(CHUNK, left))
                if not data:
                    break
                if skip:
                    drop = min(skip, len(data))
                    skip -= drop
                    data = data[drop:]
                if left is not None:
                    left -= len(data)
                if data:
                    yield data
        finally:
            if fd != STDIN:
                close(fd)


def main(argv: list[str]) -> int:
    try:
        fmt_c, length, skip, paths = False, None, 0, []
        args = iter(argv[1:])
        for arg in args:
            if arg == "-C":
                fmt_c = True
            elif arg in ("-n", "-s"):
                value = next(args, None)
                if value is None:
                    raise _Usage(f"hexdump: option {arg} needs a value")
                if arg == "-n":
                    length = _number(value)
                else:
                    skip = _number(value)
            elif arg.startswith("-") and arg != "-":
                raise _Usage(f"hexdump: unknown option '{arg}'")
            else:
                paths.append(arg)
    except _Usage as exc:
        err(str(exc))
        return EXIT_USAGE
    offset, prev, squeezing = skip, b"", False
    try:
        for line in _lines(_input(paths, skip, length)):
            if line == prev and len(line) == LINE:
                if not squeezing:
                    out("*\n")
                    squeezing = True
            else:
                squeezing = False
                out((canonical(offset, line) if fmt_c else words(offset, line)) + "\n")
            prev = line
            offset += len(line)
    except OSError as exc:
        return fail("hexdump", exc.filename or "-", exc)
    if offset != skip:
        out((f"{offset:08x}" if fmt_c else f"{offset:07x}") + "\n")
    return 0

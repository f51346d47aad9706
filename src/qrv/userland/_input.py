"""Reading the operands of a filter (wc, head, tail, grep): files or stdin (``-``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from qrv.lib.c import close, fstat, open, read
from qrv.spec.iomsg import EISDIR, oserror
from qrv.userland._opts import Usage, line_or_byte_count, usage_error
from qrv.userland._util import EXIT_FAILURE, fail, is_dir, out

CHUNK = 65536
STDIN = 0


def chunks(fd: int) -> Iterator[bytes]:
    while data := read(fd, CHUNK):
        yield data


def lines(fd: int) -> Iterator[bytes]:
    """The fd's lines, each with its newline (the last one may have none)."""
    buf = b""
    for data in chunks(fd):
        buf += data
        *full, buf = buf.split(b"\n")
        for line in full:
            yield line + b"\n"
    if buf:
        yield buf


def each_file(cmd: str, paths: list[str], body: Callable[[str, int], None]) -> int:
    """`body(name, fd)` for every operand (stdin when none); 1 if any could not be read."""
    status = 0
    for path in paths or ["-"]:
        if path == "-":
            try:
                body("-", STDIN)
            except OSError as exc:
                status = fail(cmd, "-", exc)
            continue
        try:
            fd = open(path)
        except OSError as exc:
            status = fail(cmd, path, exc)
            continue
        try:
            if is_dir(fstat(fd).mode):
                raise oserror(EISDIR, path)
            body(path, fd)
        except OSError as exc:
            status = fail(cmd, path, exc)
        finally:
            close(fd)
    return status if status == 0 else EXIT_FAILURE


class Headers:
    """``==> NAME <==`` before each file when there are several (head, tail)."""

    def __init__(self, paths: list[str]) -> None:
        self.several = len(paths) > 1
        self.first = True

    def text(self, name: str) -> str:
        if not self.several:
            return ""
        text = ("" if self.first else "\n") + f"==> {name} <==\n"
        self.first = False
        return text


def line_or_byte_filter(
    name: str,
    usage: str,
    argv: list[str],
    by_lines: Callable[[int, int], None],
    by_bytes: Callable[[int, int], None],
) -> int:
    """head's and tail's frame: ``-n LINES`` (default 10) or ``-c BYTES`` over every
    operand, each behind its header when there are several; `by_lines(fd, count)` or
    `by_bytes(fd, nbytes)` prints what the command keeps of one file."""
    try:
        count, nbytes, paths = line_or_byte_count(name, argv[1:])
    except Usage as exc:
        return usage_error(name, usage, exc)
    headers = Headers(paths)

    def body(path: str, fd: int) -> None:
        out(headers.text(path))
        if nbytes is None:
            by_lines(fd, count)
        else:
            by_bytes(fd, nbytes)

    return each_file(name, paths, body)

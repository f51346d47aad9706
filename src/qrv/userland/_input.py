"""Reading the operands of a filter (wc, head, tail, grep): files or stdin (``-``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from qrv.lib.c import close, fstat, open, read
from qrv.spec.iomsg import EISDIR, oserror
from qrv.userland._util import EXIT_FAILURE, fail, is_dir

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

"""dd if= of= bs= count= skip= seek= status=: copy blocks.

No ``if=`` reads stdin, no ``of=`` writes stdout.  The record summary goes
to stderr (``N+M records in`` / ``out``, bytes copied); ``status=progress``
adds a progress line on stderr while copying, ``status=none`` prints nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from qrv.lib.c import close, lseek, open, read, write
from qrv.spec.iomsg import O_CREAT, O_WRONLY, SEEK_SET
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, err, fail

STDIN, STDOUT = 0, 1
DEFAULT_BS = 512
PROGRESS_EVERY = 1.0
SUFFIXES = {
    "c": 1,
    "w": 2,
    "b": 512,
    "kB": 1000,
    "K": 1024,
    "k": 1024,
    "MB": 1000**2,
    "M": 1024**2,
    "GB": 1000**3,
    "G": 1024**3,
}
STATUS_LEVELS = ("default", "none", "noxfer", "progress")


class _Usage(Exception):
    pass


def size(text: str) -> int:
    """A dd number: digits with an optional suffix (c, w, b, kB, K, MB, M, GB, G)."""
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * SUFFIXES[suffix]
    if text.isdigit():
        return int(text)
    raise _Usage(f"dd: invalid number '{text}'")


@dataclass
class Options:
    src: str | None = None
    dst: str | None = None
    bs: int = DEFAULT_BS
    count: int | None = None
    skip: int = 0
    seek: int = 0
    status: str = "default"


def parse(argv: list[str]) -> Options:
    o = Options()
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise _Usage(f"dd: invalid operand '{arg}'")
        if key == "if":
            o.src = value
        elif key == "of":
            o.dst = value
        elif key == "bs":
            o.bs = size(value)
        elif key == "count":
            o.count = size(value)
        elif key == "skip":
            o.skip = size(value)
        elif key == "seek":
            o.seek = size(value)
        elif key == "status" and value in STATUS_LEVELS:
            o.status = value
        else:
            raise _Usage(f"dd: invalid operand '{arg}'")
    if o.bs <= 0:
        raise _Usage("dd: invalid number '0' for bs")
    return o


@dataclass
class Counts:
    full_in: int = 0
    part_in: int = 0
    full_out: int = 0
    part_out: int = 0
    nbytes: int = 0


def _summary(c: Counts, started: float, status: str) -> None:
    if status == "none":
        return
    err(f"{c.full_in}+{c.part_in} records in")
    err(f"{c.full_out}+{c.part_out} records out")
    if status != "noxfer":
        err(f"{c.nbytes} bytes copied, {time.monotonic() - started:.4f} s")


def _skip(fd: int, o: Options) -> None:
    if o.skip == 0:
        return
    if fd == STDIN:
        left = o.skip * o.bs
        while left > 0 and (data := read(fd, min(left, o.bs))):
            left -= len(data)
    else:
        lseek(fd, o.skip * o.bs, SEEK_SET)


def copy(ifd: int, ofd: int, o: Options) -> Counts:
    c = Counts()
    started = last = time.monotonic()
    while o.count is None or c.full_in + c.part_in < o.count:
        try:
            data = read(ifd, o.bs)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, o.src or "-") from None
        if not data:
            break
        if len(data) == o.bs:
            c.full_in += 1
        else:
            c.part_in += 1
        try:
            n = write(ofd, data)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, o.dst or "-") from None
        if n == o.bs:
            c.full_out += 1
        else:
            c.part_out += 1
        c.nbytes += n
        if o.status == "progress" and time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            err(f"{c.nbytes} bytes copied, {last - started:.0f} s")
    if o.status == "progress":
        err(f"{c.nbytes} bytes copied, {time.monotonic() - started:.4f} s")
    return c


def main(argv: list[str]) -> int:
    try:
        o = parse(argv[1:])
    except _Usage as exc:
        err(str(exc))
        return EXIT_USAGE
    started = time.monotonic()
    try:
        ifd = STDIN if o.src is None else open(o.src)
    except OSError as exc:
        return fail("dd", o.src or "-", exc)
    try:
        ofd = STDOUT if o.dst is None else open(o.dst, O_WRONLY | O_CREAT)
    except OSError as exc:
        if ifd != STDIN:
            close(ifd)
        return fail("dd", o.dst or "-", exc)
    status = 0
    try:
        _skip(ifd, o)
        if o.seek and ofd != STDOUT:
            lseek(ofd, o.seek * o.bs, SEEK_SET)
        counts = copy(ifd, ofd, o)
        _summary(counts, started, o.status)
    except OSError as exc:
        status = fail("dd", exc.filename or o.src or o.dst or "-", exc)
    finally:
        for fd in (ifd, ofd):
            if fd not in (STDIN, STDOUT):
                close(fd)
    return status if status == 0 else EXIT_FAILURE

"""dd if= of= bs= count= skip= seek= status= conv= oflag=: copy blocks.

No ``if=`` reads stdin, no ``of=`` writes stdout (which cannot seek, so
``seek=`` needs ``of=``).  The record summary goes to stderr (``N+M records
in`` / ``out``, bytes copied); ``status=progress`` adds progress lines on
stderr while copying, ``status=none`` prints nothing.

A block larger than one read may ask for (:data:`NBYTES_MAX`, as ``bs=2G``)
is read with reads of that size, as Linux caps ``read(2)``: the records are
then partial (``0+1 records in``).

``of=`` opens the file for writing without truncating it (the only writable
files are block devices, which cannot be truncated; ``conv=notrunc`` is accepted
and says so).  ``conv=fsync`` / ``conv=fdatasync`` sync the output before the
summary; ``oflag=sync`` / ``oflag=dsync`` open it ``O_SYNC`` / ``O_DSYNC``, so
every write is durable when it returns.  ``conv`` and ``oflag`` take
comma-separated lists.

Writes follow GNU dd's ``iwrite()``: a short write is continued with the
rest of the block, and a write that takes 0 bytes (a device's end) is the
error ``ENOSPC``.  A failed read or write is reported as ``dd: FILE:
strerror`` with status 1; a broken pipe on stdout ends dd quietly, as
SIGPIPE does.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Collection
from dataclasses import dataclass

from qrv.lib.c import close, fdatasync, fsync, lseek, open, read, write
from qrv.spec.iomsg import NBYTES_MAX, O_CREAT, O_DSYNC, O_SYNC, O_WRONLY, SEEK_SET, oserror
from qrv.userland._util import (
    EXIT_FAILURE,
    EXIT_USAGE,
    BrokenPipe,
    dies_of_sigpipe,
    err,
    fail,
    is_broken_pipe,
)

STDIN, STDOUT = 0, 1
DEFAULT_BS = 512
NEW_FILE_MODE = 0o666
"""Mode of an of= file dd creates (as GNU dd: rw for all, less the umask)."""
PROGRESS_EVERY = 1.0
SUFFIXES = {
    "c": 1,
    "w": 2,
    "b": 512,
    "kB": 1000,
    "K": 1024,
    "k": 1024,
    "KiB": 1024,
    "MB": 1000**2,
    "M": 1024**2,
    "MiB": 1024**2,
    "GB": 1000**3,
    "G": 1024**3,
    "GiB": 1024**3,
}
_NUMBER = re.compile(r"([0-9]+)([A-Za-z]*)")
"""ASCII digits, then an optional suffix of SUFFIXES."""
STATUS_LEVELS = ("default", "none", "noxfer", "progress")
CONVERSIONS = ("notrunc", "fsync", "fdatasync")
OUTPUT_FLAGS = {"sync": O_SYNC, "dsync": O_DSYNC}


USAGE = (
    "dd [if=FILE] [of=FILE] [bs=N] [count=N] [skip=N] [seek=N] [status=progress]"
    " [conv=notrunc,fsync,fdatasync] [oflag=sync,dsync]"
)


class _Usage(Exception):
    pass


def size(text: str) -> int:
    """A dd number: decimal digits with an optional suffix (c, w, b, kB, K, KiB, MB, ...)."""
    m = _NUMBER.fullmatch(text)
    if m is None or (m[2] and m[2] not in SUFFIXES):
        raise _Usage(f"dd: invalid number '{text}'")
    return int(m[1]) * SUFFIXES.get(m[2], 1)


@dataclass
class Options:
    src: str | None = None
    dst: str | None = None
    bs: int = DEFAULT_BS
    count: int | None = None
    skip: int = 0
    seek: int = 0
    status: str = "default"
    conv: frozenset[str] = frozenset()
    oflag: int = 0


def _symbols(key: str, value: str, allowed: Collection[str]) -> list[str]:
    """A comma-separated list of dd symbols (``conv=notrunc,fsync``)."""
    words = value.split(",")
    for word in words:
        if word not in allowed:
            raise _Usage(f"dd: invalid {key} '{word}'")
    return words


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
        elif key == "status":
            if value not in STATUS_LEVELS:
                raise _Usage(f"dd: invalid status level '{value}'")
            o.status = value
        elif key == "conv":
            o.conv = o.conv | set(_symbols("conversion", value, CONVERSIONS))
        elif key == "oflag":
            for word in _symbols("output flag", value, OUTPUT_FLAGS):
                o.oflag |= OUTPUT_FLAGS[word]
        else:
            raise _Usage(f"dd: invalid operand '{arg}'")
    if o.bs <= 0:
        raise _Usage(f"dd: invalid number '{o.bs}' for bs")
    if o.seek and o.dst is None:
        raise _Usage("dd: seek= needs of= (stdout cannot seek)")
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
    """Skip `o.skip` input blocks: lseek, or read and discard them from stdin."""
    if o.skip == 0:
        return
    try:
        if fd == STDIN:
            left = o.skip * o.bs
            while left > 0 and (data := read(fd, min(left, o.bs, NBYTES_MAX))):
                left -= len(data)
        else:
            lseek(fd, o.skip * o.bs, SEEK_SET)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, o.src or "-") from None


def _seek(fd: int, o: Options) -> None:
    """Skip `o.seek` output blocks (parse() made sure there is an ``of=``)."""
    if o.seek == 0:
        return
    try:
        lseek(fd, o.seek * o.bs, SEEK_SET)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, o.dst) from None


def _write_all(fd: int, data: bytes, name: str) -> int:
    """Write all of `data` (continuing short writes); OSError naming `name` on failure."""
    done = 0
    try:
        while done < len(data):
            n = write(fd, data[done:])
            if n <= 0:
                raise oserror(errno.ENOSPC)  # GNU dd: a 0-byte write is the device's end
            done += n
    except OSError as exc:
        if fd == STDOUT and is_broken_pipe(exc):
            raise BrokenPipe from None
        raise OSError(exc.errno, exc.strerror, name) from None
    return done


def _sync(fd: int, o: Options) -> None:
    """conv=fsync / conv=fdatasync: the output's data durable before dd reports."""
    try:
        if "fsync" in o.conv:
            fsync(fd)
        elif "fdatasync" in o.conv:
            fdatasync(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, o.dst or "-") from None


def copy(ifd: int, ofd: int, o: Options) -> Counts:
    c = Counts()
    started = last = time.monotonic()
    while o.count is None or c.full_in + c.part_in < o.count:
        try:
            data = read(ifd, min(o.bs, NBYTES_MAX))
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, o.src or "-") from None
        if not data:
            break
        if len(data) == o.bs:
            c.full_in += 1
        else:
            c.part_in += 1
        n = _write_all(ofd, data, o.dst or "-")
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


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        o = parse(argv[1:])
    except _Usage as exc:
        err(f"usage: {USAGE}" if "--help" in argv else str(exc))
        return EXIT_USAGE
    started = time.monotonic()
    try:
        ifd = STDIN if o.src is None else open(o.src)
    except OSError as exc:
        return fail("dd", o.src or "-", exc)
    try:
        ofd = STDOUT if o.dst is None else open(o.dst, O_WRONLY | O_CREAT | o.oflag, NEW_FILE_MODE)
    except OSError as exc:
        if ifd != STDIN:
            close(ifd)
        return fail("dd", o.dst or "-", exc)
    status = 0
    try:
        _skip(ifd, o)
        _seek(ofd, o)
        counts = copy(ifd, ofd, o)
        _sync(ofd, o)
        _summary(counts, started, o.status)
    except OSError as exc:
        status = fail("dd", exc.filename or o.src or o.dst or "-", exc)
    finally:
        for fd in (ifd, ofd):
            if fd not in (STDIN, STDOUT):
                close(fd)
    return status if status == 0 else EXIT_FAILURE

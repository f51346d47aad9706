"""cat [-u] [FILE...]: copy files (or stdin, ``-``) to stdout, byte for byte.

``-u`` (unbuffered) is accepted: output is never buffered here.  A directory
operand is an error (``cat: /dev: Is a directory``, status 1) and the next
operand is still copied, as coreutils does.  A broken pipe on stdout ends cat
quietly, as SIGPIPE does (see :mod:`qrv.userland._util`).
"""

from __future__ import annotations

from qrv.lib.c import close, fstat, open, read
from qrv.spec.iomsg import EISDIR, oserror
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, dies_of_sigpipe, fail, is_dir, out_bytes

USAGE = "cat [-u] [FILE...]"
CHUNK = 65536
STDIN = 0


def _copy(fd: int) -> None:
    """Copy fd to stdout; OSError for a read error, BrokenPipe for stdout's."""
    while data := read(fd, CHUNK):
        out_bytes(data)


def _cat_file(path: str) -> int:
    try:
        fd = open(path)
    except OSError as exc:
        return fail("cat", path, exc)
    try:
        if is_dir(fstat(fd).mode):
            raise oserror(EISDIR, path)
        _copy(fd)
    except OSError as exc:
        return fail("cat", path, exc)
    finally:
        close(fd)
    return 0


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        _opts, paths = options("cat", argv[1:], "u")
    except Usage as exc:
        return usage_error("cat", USAGE, exc)
    status = 0
    for path in paths or ["-"]:
        if path == "-":
            try:
                _copy(STDIN)
            except OSError as exc:
                status = fail("cat", "-", exc)
        elif _cat_file(path) != 0:
            status = EXIT_FAILURE
    return status

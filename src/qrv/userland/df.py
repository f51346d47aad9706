"""df [PATH...]: space on the mounted filesystems (in 1 KiB blocks).

Without operands every mount (``/proc/mount``) is listed; with them, the
filesystem holding each PATH.  Columns as coreutils: Filesystem, 1K-blocks,
Used, Available, Use%, Mounted on.  Use% rounds up, as coreutils does.
"""

from __future__ import annotations

from qrv.lib.c import StatVfs, getcwd, statvfs
from qrv.userland._files import join
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import EXIT_FAILURE, dies_of_sigpipe, err, fail, out
from qrv.userland.mount import mounted

USAGE = "df [PATH...]"
KIB = 1024
HEADER = f"{'Filesystem':<16} {'1K-blocks':>10} {'Used':>10} {'Available':>10} Use% Mounted on\n"


def mounts() -> list[tuple[str, str]]:
    """(device, directory) of each mount line ``DEV on DIR type T (MODE)``."""
    found = []
    for line in mounted():
        parts = line.split(" ")
        if len(parts) >= 3 and parts[1] == "on":
            found.append((parts[0], parts[2]))
    return found


def owner(path: str, table: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The mount whose directory is the longest prefix of `path`."""
    best = None
    for dev, where in table:
        below = path == where or path.startswith(where.rstrip("/") + "/")
        if below and (best is None or len(where) > len(best[1])):
            best = (dev, where)
    return best


def row(dev: str, where: str, v: StatVfs) -> str:
    total = v.blocks * v.frsize // KIB
    used = (v.blocks - v.bfree) * v.frsize // KIB
    avail = v.bavail * v.frsize // KIB
    pct = -(-used * 100 // (used + avail)) if used + avail else 0
    return f"{dev:<16} {total:>10} {used:>10} {avail:>10} {pct:>3}% {where}\n"


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        _opts, paths = options("df", argv[1:], "")
    except Usage as exc:
        return usage_error("df", USAGE, exc)
    try:
        table = mounts()
    except OSError as exc:
        return fail("df", "/proc/mount", exc)
    status = 0
    rows: list[tuple[str, str]] = []
    for path in paths:
        try:
            statvfs(path)  # it exists and its server answers
        except OSError as exc:
            status = fail("df", path, exc)
            continue
        found = owner(path if path.startswith("/") else join(getcwd(), path), table)
        if found is None:
            status = EXIT_FAILURE
            err(f"df: {path}: not on a mounted filesystem")
            continue
        rows.append(found)
    out(HEADER)
    for dev, where in rows if paths else table:
        try:
            out(row(dev, where, statvfs(where)))
        except OSError as exc:
            status = fail("df", where, exc)
    return status

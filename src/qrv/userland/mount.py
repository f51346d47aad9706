"""mount: attach a filesystem, or list what is mounted.

``mount`` alone prints one line per mounted filesystem (from
``/proc/mount``).  ``mount [-t qrv] [-o ro] DEVICE DIR`` starts fs-qrv on
DEVICE at DIR and returns once it serves DIR (status 0), or once it gave up
(its reason is on stderr; status 1).  The wait is bounded.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable

from qrv.lib.c import close, listdir, open, read, spawn, stat, waitpid
from qrv.spec.iomsg import ENOENT, ETIMEDOUT, O_RDONLY
from qrv.spec.qrvfs import MOUNT_TABLE_DIR
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, err, fail, out

USAGE = "usage: mount [-t qrv] [-o ro] DEVICE DIR"
FS_PROGRAMS = {"qrv": ("fs-qrv", "qrv.servers.fs_qrv.main")}
READY_TIMEOUT_S = 10.0
POLL_S = 0.02
LINE_MAX = 4096


def mounted() -> list[str]:
    """The lines of /proc/mount (one per mounted filesystem)."""
    try:
        names = listdir(MOUNT_TABLE_DIR)
    except OSError as exc:
        if exc.errno == ENOENT:
            return []
        raise
    lines = []
    for name in sorted(names, key=lambda n: (len(n), n)):
        try:
            fd = open(f"{MOUNT_TABLE_DIR}/{name}", O_RDONLY)
        except OSError:
            continue  # unmounted since the listing
        try:
            lines.append(read(fd, LINE_MAX).decode(errors="replace").rstrip("\n"))
        finally:
            close(fd)
    return lines


def _program(kind: str) -> tuple[str, Callable[[list[str]], int]]:
    name, module = FS_PROGRAMS[kind]
    entry: Callable[[list[str]], int] = importlib.import_module(module).main
    return name, entry


def _parse(args: list[str]) -> tuple[str, list[str], list[str]] | None:
    kind, opts, rest = "qrv", [], []
    while args:
        arg = args.pop(0)
        if arg in ("-t", "-o") and args:
            value = args.pop(0)
            if arg == "-t":
                kind = value
            else:
                opts = ["-o", value]
        elif arg.startswith("-"):
            return None
        else:
            rest.append(arg)
    return kind, opts, rest


def wait_served(pid: int, table_entry: str) -> int | None:
    """None once ``table_entry`` exists (served), else the exit status of ``pid``."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            stat(table_entry)
            return None
        except OSError:
            pass
        try:
            return waitpid(pid, POLL_S)
        except OSError as exc:
            if exc.errno != ETIMEDOUT:
                raise
    return EXIT_FAILURE


def main(argv: list[str]) -> int:
    parsed = _parse(list(argv[1:]))
    if parsed is None or len(parsed[2]) not in (0, 2):
        known = ("-t", "-o", "--help")
        bad = next((a for a in argv[1:] if a.startswith("-") and a not in known), None)
        if bad is not None:
            err(f"mount: unknown option '{bad}'")
        err(USAGE)
        return EXIT_USAGE
    kind, opts, rest = parsed
    if not rest:
        try:
            for line in mounted():
                out(line + "\n")
        except OSError as exc:
            return fail("mount", MOUNT_TABLE_DIR, exc)
        return 0
    if kind not in FS_PROGRAMS:
        err(f"mount: unknown filesystem type '{kind}' (known: {', '.join(FS_PROGRAMS)})")
        return EXIT_USAGE
    device, directory = rest
    if not directory.startswith("/"):
        err(f"mount: {directory}: the mount point must be an absolute path")
        return EXIT_USAGE
    name, entry = _program(kind)
    pid = spawn(entry, [name, *opts, device, directory], name=name)
    status = wait_served(pid, f"{MOUNT_TABLE_DIR}/{pid}")
    if status is not None:
        err(f"mount: {device} on {directory}: {name} exited with status {status}")
        return EXIT_FAILURE
    return 0

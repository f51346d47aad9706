"""umount [-f] DIR: commit and flush the filesystem mounted at DIR, then detach
it.  Refused with EBUSY while files on it are open, unless ``-f``."""

from __future__ import annotations

from qrv.lib.c import close, open
from qrv.lib.c.ipc import MsgSend
from qrv.lib.c.msg import IoMsg
from qrv.spec.iomsg import EINVAL, ENOSYS, O_RDONLY
from qrv.spec.qrvfs import FSQRV_MGRID, FsQrvMsg
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, err, fail

USAGE = "usage: umount [-f] DIR"


def main(argv: list[str]) -> int:
    args = argv[1:]
    force = "-f" in args
    paths = [a for a in args if a != "-f"]
    if len(paths) != 1 or any(a.startswith("-") for a in paths):
        bad = next((a for a in paths if a.startswith("-") and a != "--help"), None)
        if bad is not None:
            err(f"umount: unknown option '{bad}'")
        err(USAGE)
        return EXIT_USAGE
    path = paths[0]
    try:
        fd = open(path, O_RDONLY)
    except OSError as exc:
        return fail("umount", path, exc)
    subtype = FsQrvMsg.UNMOUNT_FORCE if force else FsQrvMsg.UNMOUNT
    try:
        MsgSend(fd, IoMsg(FSQRV_MGRID, subtype).pack(), 0)
    except OSError as exc:
        if exc.errno == ENOSYS:
            err(f"umount: {path}: not a mount point")
            return EXIT_FAILURE
        return fail("umount", path, exc)
    finally:
        try:
            close(fd)
        except OSError as exc:
            if exc.errno != EINVAL:
                raise
    return 0

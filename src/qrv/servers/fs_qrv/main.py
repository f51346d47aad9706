"""``fs-qrv [-o ro] DEVICE MOUNTPOINT``: serve the qrvfs on DEVICE (a partition
node such as /dev/nvme0n1p1) at MOUNTPOINT.

It opens DEVICE read-write (read-only with ``-o ro``, or when the node refuses
writes: then it says so), mounts the filesystem (replaying a committed log,
freeing orphans; a filesystem without a log is mounted read-write with a
note that it is not crash-safe), registers MOUNTPOINT as a directory and
``/proc/mount/<pid>`` (one line: ``DEVICE on DIR type qrv (rw)``), and
serves until an unmount message (``umount``): then it commits, flushes,
detaches and exits 0.  A device that holds no usable qrvfs is refused with
one line and status 1.
"""

from __future__ import annotations

from qrv.errors import QrvError
from qrv.lib.c.dispatch import (
    dispatch_block,
    dispatch_context_alloc,
    dispatch_create,
    dispatch_destroy,
    dispatch_handler,
)
from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    iofunc_attr_init,
    iofunc_func_init,
    iofunc_read_at,
)
from qrv.lib.c.msg import IoRead
from qrv.lib.c.proc import getpid, procmgr_ready
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext, resmgr_attach, resmgr_detach
from qrv.lib.c.stdio import eprintf
from qrv.lib.qrvfs import Filesystem
from qrv.servers.fs_qrv.device import NodeDevice
from qrv.servers.fs_qrv.ops import FsOpsServer
from qrv.spec.iomsg import S_IFDIR, S_IFREG, FileType, ResmgrFlag
from qrv.spec.qrvfs import MOUNT_TABLE_DIR

USAGE = "usage: fs-qrv [-o ro] DEVICE MOUNTPOINT"
EXIT_FAILURE = 1


def log(text: str) -> None:
    eprintf(text + "\n")


def parse(argv: list[str]) -> tuple[bool, str, str] | None:
    """(read_only, device, mountpoint), or None for a bad command line."""
    args = list(argv[1:])
    read_only = False
    while args and args[0] == "-o" and len(args) > 1:
        opts = args[1].split(",")
        if any(o not in ("ro", "rw") for o in opts):
            return None
        read_only = "ro" in opts
        args = args[2:]
    if len(args) != 2 or not args[1].startswith("/"):
        return None
    return read_only, args[0], args[1].rstrip("/") or "/"


class MountLine(IofuncAttr):
    """``/proc/mount/<pid>``: a read-only file of one line."""

    text: bytes = b""


def mount_line_read(ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
    assert isinstance(ocb.attr, MountLine)
    text = ocb.attr.text
    return iofunc_read_at(ctp, msg, ocb, lambda off, n: text[off : off + n])


def main(argv: list[str]) -> int:
    parsed = parse(argv)
    if parsed is None:
        log(USAGE)
        return EXIT_FAILURE
    read_only, device, mountpoint = parsed
    try:
        node = NodeDevice(device, want_write=not read_only)
    except OSError as exc:
        log(f"fs-qrv: {device}: {exc.strerror or exc}")
        return EXIT_FAILURE
    try:
        return serve(node, device, mountpoint)
    finally:
        node.close()


def serve(node: NodeDevice, device: str, mountpoint: str) -> int:
    if node.fell_back:
        log(f"fs-qrv: {device} is read-only: mounting read-only")
    try:
        fs = Filesystem.mount(node.device, read_only=node.read_only)
    except QrvError as exc:
        log(f"fs-qrv: {device}: {exc}")
        return EXIT_FAILURE
    for note in fs.notes:
        log(f"fs-qrv: {device}: {note}")
    server = FsOpsServer(fs, log)
    server.dev = getpid()
    connect_funcs, io_funcs = server.tables()
    dpp = dispatch_create()
    root = IofuncAttr()
    iofunc_attr_init(root, S_IFDIR | 0o755)
    link = resmgr_attach(
        dpp,
        None,
        mountpoint,
        FileType.ANY,
        ResmgrFlag.DIR,
        connect_funcs,
        io_funcs,
        root,
    )
    line = MountLine()
    iofunc_attr_init(line, S_IFREG | 0o444)
    mode = "ro" if fs.read_only else "rw"
    line.text = f"{device} on {mountpoint} type qrv ({mode})\n".encode()
    line.nbytes = len(line.text)
    connect, io = iofunc_func_init()
    io.read = mount_line_read
    table = resmgr_attach(
        dpp, None, f"{MOUNT_TABLE_DIR}/{getpid()}", FileType.ANY, 0, connect, io, line
    )
    procmgr_ready()
    ctp: ResmgrContext | None = dispatch_context_alloc(dpp)
    try:
        while ctp is not None and not server.stop_requested:
            ctp = dispatch_block(ctp)
            if ctp is not None:
                dispatch_handler(ctp)
    finally:
        resmgr_detach(dpp, table)
        resmgr_detach(dpp, link)
        try:
            fs.unmount()
        except QrvError as exc:
            log(f"fs-qrv: {device}: unmount: {exc}")
        dispatch_destroy(dpp)
    return 0

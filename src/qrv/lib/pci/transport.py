"""libpci's connection to pci-server: one /dev/pci open per process, IOM_PCI messages.

As QNX's libpci: the connection is made by the first call that needs the
server and kept for the process; if the server is gone every call reports
``PCI_ERR_SERVER_NOT_AVAILABLE`` and the next call after it is back
reconnects (pci/pci.h, "PCI Server Connection and Disconnection").
"""

from __future__ import annotations

import contextlib
import threading
import weakref

from qrv.lib.c import posix
from qrv.lib.c._sys import cur
from qrv.lib.c.ipc import MsgSend
from qrv.lib.c.msg import IoMsg
from qrv.spec.iomsg import _IOMGR_PCI, O_RDWR
from qrv.spec.pci_msg import REPLY_HDR, IomPci, PciErr

PCI_PATH = "/dev/pci"
REPLY_BYTES = 4096

_lock = threading.Lock()
# keyed by the kernel's process object (pids repeat across kernels in one host process)
_fds: weakref.WeakKeyDictionary[object, int] = weakref.WeakKeyDictionary()


def _connection() -> int | None:
    proc = cur().process
    with _lock:
        fd = _fds.get(proc)
    if fd is not None:
        return fd
    try:
        fd = posix.open(PCI_PATH, O_RDWR)
    except OSError:
        return None
    with _lock:
        _fds[proc] = fd
    return fd


def disconnect() -> None:
    """Drop the calling process's connection (its attachments are released by the server)."""
    with _lock:
        fd = _fds.pop(cur().process, None)
    if fd is not None:
        with contextlib.suppress(OSError):
            posix.close(fd)


def transact(subtype: IomPci, payload: bytes) -> tuple[PciErr, bytes]:
    """One request/reply: the reply's status and payload."""
    fd = _connection()
    if fd is None:
        return PciErr.SERVER_NOT_AVAILABLE, b""
    try:
        _status, raw = MsgSend(fd, IoMsg(_IOMGR_PCI, int(subtype), payload).pack(), REPLY_BYTES)
    except OSError:
        disconnect()
        return PciErr.SERVER_NOT_AVAILABLE, b""
    if len(raw) < REPLY_HDR.size:
        return PciErr.EIO, b""
    status, length = REPLY_HDR.unpack_from(raw)
    body = raw[REPLY_HDR.size : REPLY_HDR.size + length]
    try:
        return PciErr(status), body
    except ValueError:
        return PciErr.EIO, b""

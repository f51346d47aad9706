"""``iofunc_chmod``/``iofunc_chown``/``iofunc_utime`` and their default handlers.

The checks are QNX's (``_POSIX_CHOWN_RESTRICTED``): chmod by the owner or root
(else EPERM); chown by root, or by the owner keeping the owner and giving the
file its own group (else EPERM); utime to explicit times by the owner or root
(EPERM), to "now" also by anyone with write access (EACCES otherwise).  The
defaults change the attribute in memory (as on QNX, until the server exits);
a filesystem applies the same checks and keeps the change on disk.
"""

from __future__ import annotations

import time

from qrv.lib.c.iofunc_types import IofuncAttr, IofuncOcb
from qrv.lib.c.msg import IoChmod, IoChown, IoUtime
from qrv.lib.c.resmgr import HandlerResult, ResmgrContext
from qrv.spec.iomsg import EACCES, ENOSYS, EOK, EPERM, S_IFMT, S_IWRITE

PERM_BITS = 0o7777
_GROUP_SHIFT, _OTHER_SHIFT = 3, 6


def _creds(ctp: ResmgrContext) -> tuple[int, int] | None:
    return None if ctp.info is None else (ctp.info.uid, ctp.info.gid)


def check_chmod(ctp: ResmgrContext, attr: IofuncAttr) -> int:
    creds = _creds(ctp)
    if creds is None:
        return ENOSYS
    return EOK if creds[0] in (0, attr.uid) else EPERM


def check_chown(ctp: ResmgrContext, attr: IofuncAttr, uid: int, gid: int) -> int:
    """`uid`/`gid` of -1 leave that one unchanged."""
    creds = _creds(ctp)
    if creds is None:
        return ENOSYS
    cuid, cgid = creds
    if cuid == 0:
        return EOK
    if cuid != attr.uid or uid not in (-1, attr.uid) or gid not in (-1, attr.gid, cgid):
        return EPERM
    return EOK


def _may_write(ctp: ResmgrContext, attr: IofuncAttr) -> bool:
    assert ctp.info is not None
    if ctp.info.uid == attr.uid:
        return bool(attr.mode & S_IWRITE)
    if ctp.info.gid == attr.gid:
        return bool((attr.mode << _GROUP_SHIFT) & S_IWRITE)
    return bool((attr.mode << _OTHER_SHIFT) & S_IWRITE)


def check_utime(ctp: ResmgrContext, attr: IofuncAttr, now: bool) -> int:
    creds = _creds(ctp)
    if creds is None:
        return ENOSYS
    if creds[0] in (0, attr.uid):
        return EOK
    if not now:
        return EPERM
    return EOK if _may_write(ctp, attr) else EACCES


def iofunc_chmod(ctp: ResmgrContext, msg: IoChmod, attr: IofuncAttr) -> int:
    err = check_chmod(ctp, attr)
    if err == EOK:
        attr.mode = (attr.mode & S_IFMT) | (msg.mode & PERM_BITS)
        attr.ctime = int(time.time())
    return err


def iofunc_chown(ctp: ResmgrContext, msg: IoChown, attr: IofuncAttr) -> int:
    err = check_chown(ctp, attr, msg.uid, msg.gid)
    if err == EOK:
        attr.uid = attr.uid if msg.uid == -1 else msg.uid
        attr.gid = attr.gid if msg.gid == -1 else msg.gid
        attr.ctime = int(time.time())
    return err


def iofunc_utime(ctp: ResmgrContext, msg: IoUtime, attr: IofuncAttr) -> int:
    err = check_utime(ctp, attr, msg.now)
    if err == EOK:
        now = int(time.time())
        attr.atime, attr.mtime = (now, now) if msg.now else (msg.atime, msg.mtime)
        attr.ctime = now
    return err


def iofunc_chmod_default(ctp: ResmgrContext, msg: IoChmod, ocb: IofuncOcb) -> HandlerResult:
    return iofunc_chmod(ctp, msg, ocb.attr)


def iofunc_chown_default(ctp: ResmgrContext, msg: IoChown, ocb: IofuncOcb) -> HandlerResult:
    return iofunc_chown(ctp, msg, ocb.attr)


def iofunc_utime_default(ctp: ResmgrContext, msg: IoUtime, ocb: IofuncOcb) -> HandlerResult:
    return iofunc_utime(ctp, msg, ocb.attr)

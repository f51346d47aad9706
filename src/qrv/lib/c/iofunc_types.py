"""``iofunc_attr_t`` and ``iofunc_ocb_t``: the types both resmgr and iofunc use.

Kept apart so that :mod:`.resmgr` (which binds OCBs) and :mod:`.iofunc`
(the default handlers, built on resmgr) import in one direction only.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BLKSIZE = 512


@dataclass(eq=False)
class IofuncAttr:
    """``iofunc_attr_t``; subclass it to carry per-path state (as ``nvme_region_t``)."""

    mode: int = 0
    uid: int = 0
    gid: int = 0
    nlink: int = 1
    nbytes: int = 0
    inode: int = 0
    rdev: int = 0
    mtime: int = 0
    atime: int = 0
    ctime: int = 0
    flags: int = 0
    count: int = 0
    rcount: int = 0
    wcount: int = 0
    blocksize: int = DEFAULT_BLKSIZE


@dataclass(eq=False)
class IofuncOcb:
    """``iofunc_ocb_t``: one open: its attr, access flags and file offset."""

    attr: IofuncAttr
    ioflag: int
    offset: int = 0
    sflag: int = 0
    flags: int = 0

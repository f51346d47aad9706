"""fs-qrv's connect and I/O handlers: POSIX on the qrvfs core through the QNX
I/O messages.  Every filesystem error becomes the errno of the reply; a
handler never lets one escape (the server never dies from input)."""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    iofunc_check_access,
    iofunc_close_ocb_default,
    iofunc_func_init,
    iofunc_lseek_default,
    iofunc_ocb_attach,
    iofunc_read_at,
    iofunc_read_verify,
    iofunc_write_at,
)
from qrv.lib.c.msg import IoLseek, IoMsg, IoOpen, IoRead, IoStat, IoSync, IoWrite
from qrv.lib.c.resmgr import (
    HandlerResult,
    ResmgrConnectFuncs,
    ResmgrContext,
    ResmgrIoFuncs,
)
from qrv.lib.qrvfs import Filesystem, FsError
from qrv.lib.qrvfs.dirs import entries
from qrv.spec.iomsg import (
    _IO_FLAG_RD,
    _IO_FLAG_WR,
    EOK,
    O_CREAT,
    O_DSYNC,
    O_EXCL,
    O_NOFOLLOW,
    O_SYNC,
    O_TRUNC,
    S_IFDIR,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    S_IREAD,
    S_IWRITE,
    Stat,
    pack_dirent,
)
from qrv.spec.qrvfs import (
    BLOCK_SIZE,
    FSQRV_MGRID,
    MODE_MASK,
    STATVFS,
    FsQrvMsg,
    Inode,
    InodeType,
)

P = ParamSpec("P")
S = TypeVar("S", bound="FsServer")
_KIND = {InodeType.DIR: S_IFDIR, InodeType.FILE: S_IFREG, InodeType.SYMLINK: S_IFLNK}
_SEARCH = 0o100  # execute/search permission as iofunc_check_access counts it
SECTOR = 512


def replies_errno(
    fn: Callable[Concatenate[S, P], HandlerResult],
) -> Callable[Concatenate[S, P], HandlerResult]:
    """A filesystem error is the reply's errno (EIO for a corrupt image)."""

    def wrapper(self: S, /, *args: P.args, **kwargs: P.kwargs) -> HandlerResult:
        try:
            return fn(self, *args, **kwargs)
        except FsError as exc:
            self.log_error(exc)
            return exc.errno

    return wrapper


@dataclass(eq=False)
class FsOcb(IofuncOcb):
    """One open of an inode; ``offset`` counts entries for a directory."""

    inum: int = 0


def inode_attr(inum: int, ino: Inode) -> IofuncAttr:
    """The iofunc view of an inode (for the framework's access checks and lseek)."""
    attr = IofuncAttr(
        mode=_KIND.get(InodeType(ino.type), S_IFREG) | ino.mode,
        uid=ino.uid,
        gid=ino.gid,
        nlink=ino.nlink,
        nbytes=ino.size,
        inode=inum,
        mtime=ino.mtime,
        atime=ino.atime,
        ctime=ino.ctime,
        blocksize=BLOCK_SIZE,
    )
    return attr


class FsServer:
    def __init__(self, fs: Filesystem, log: Callable[[str], None]) -> None:
        self.fs = fs
        self.log = log
        self.stop_requested = False
        self.dev = 0  # st_dev of every file: the server's pid (one per mount)
        self.connect_funcs, self.io_funcs = self._tables()

    def log_error(self, exc: FsError) -> None:
        if exc.errno == errno.EIO:
            self.log(f"fs-qrv: {exc}")

    def _tables(self) -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
        connect, io = iofunc_func_init()
        connect.open = self.open
        io.read = self.read
        io.write = self.write
        io.stat = self.stat
        io.lseek = self.lseek
        io.sync = self.sync
        io.close_ocb = self.close
        io.msg = self.msg
        return connect, io

    # --- open -----------------------------------------------------------------------

    def _may(self, ctp: ResmgrContext, inum: int, check: int) -> bool:
        return iofunc_check_access(ctp, inode_attr(inum, self.fs.inode(inum)), check) == EOK

    def search_denied(self, ctp: ResmgrContext, path: str) -> bool:
        """Whether a client other than root lacks search permission on a directory
        on the way to `path`'s last component (the root through its parent)."""
        if ctp.info is None or ctp.info.uid == 0:
            return False
        comps = [c for c in path.split("/") if c]
        for i in range(len(comps)):
            try:
                inum = self.fs.lookup("/".join(comps[:i]))
            except FsError:
                return False  # the call itself reports ENOENT, ENOTDIR, ELOOP
            if self.fs.inode(inum).type != InodeType.DIR:
                return False
            if not self._may(ctp, inum, _SEARCH):
                return True
        return False

    def _create(self, ctp: ResmgrContext, msg: IoOpen) -> int:
        fs = self.fs
        if fs.read_only:
            return -errno.EROFS
        parent_path = msg.path.rsplit("/", 1)[0] if "/" in msg.path else ""
        parent = fs.lookup(parent_path)
        if not self._may(ctp, parent, S_IWRITE | _SEARCH):
            return -errno.EACCES
        uid, gid = (ctp.info.uid, ctp.info.gid) if ctp.info is not None else (0, 0)
        return fs.create(msg.path, msg.mode & MODE_MASK, uid, gid, exclusive=True)

    @replies_errno
    def open(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        del attr
        fs, ioflag = self.fs, msg.ioflag
        created = False
        if self.search_denied(ctp, msg.path):
            return errno.EACCES
        try:
            inum = fs.lookup(msg.path, follow=not ioflag & O_NOFOLLOW)
            if ioflag & O_CREAT and ioflag & O_EXCL:
                return errno.EEXIST
        except FsError as exc:
            if exc.errno != errno.ENOENT or not ioflag & O_CREAT:
                raise
            inum = self._create(ctp, msg)
            if inum < 0:
                return -inum
            created = True  # POSIX: the new file is opened whatever its mode says
        ino = fs.inode(inum)
        if ino.type == InodeType.SYMLINK and ioflag & (_IO_FLAG_RD | _IO_FLAG_WR):
            return errno.ELOOP  # opened for access with O_NOFOLLOW
        writing = bool(ioflag & _IO_FLAG_WR)
        if writing and ino.type == InodeType.DIR:
            return errno.EISDIR
        if writing and fs.read_only:
            return errno.EROFS
        check = (S_IREAD if ioflag & _IO_FLAG_RD else 0) | (S_IWRITE if writing else 0)
        if not created and not self._may(ctp, inum, check):
            return errno.EACCES
        if ioflag & O_TRUNC and writing and ino.size:
            fs.truncate(inum, 0)
        attr = inode_attr(inum, fs.inode(inum))
        ocb = FsOcb(attr, ioflag, inum=inum)
        fs.opened(inum)
        return iofunc_ocb_attach(ctp, msg, ocb, attr)

    # --- I/O ------------------------------------------------------------------------

    @replies_errno
    def read(self, ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
        assert isinstance(ocb, FsOcb)
        if ocb.attr.mode & S_IFMT == S_IFDIR:  # an open inode keeps its type
            err = iofunc_read_verify(ctp, msg, ocb)
            return err if err != EOK else self._readdir(ocb, msg.nbytes)
        inum = ocb.inum
        return iofunc_read_at(ctp, msg, ocb, lambda off, n: self.fs.read(inum, off, n))

    def _readdir(self, ocb: FsOcb, nbytes: int) -> bytes:
        out = b""
        listing = [(n, name) for _, n, name in entries(self.fs.vol, ocb.inum)]
        while ocb.offset < len(listing):
            inum, name = listing[ocb.offset]
            rec = pack_dirent(inum, ocb.offset + 1, name.decode(errors="replace"))
            if len(out) + len(rec) > nbytes:
                break
            out += rec
            ocb.offset += 1
        return out

    @replies_errno
    def write(self, ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
        assert isinstance(ocb, FsOcb)
        inum = ocb.inum
        ocb.attr.nbytes = self.fs.inode(inum).size  # where an O_APPEND write starts
        result = iofunc_write_at(
            ctp, msg, ocb, lambda off, data: self.fs.write(inum, off, data) if data else 0
        )
        if result == EOK and ocb.ioflag & (O_SYNC | O_DSYNC):
            self.fs.fsync()
        return result

    @replies_errno
    def stat(self, ctp: ResmgrContext, msg: IoStat, ocb: IofuncOcb) -> HandlerResult:
        del ctp, msg
        assert isinstance(ocb, FsOcb)
        ino = self.fs.inode(ocb.inum)
        a = inode_attr(ocb.inum, ino)
        blocks = -(-ino.size // SECTOR)
        st = Stat(
            ocb.inum,
            ino.size,
            self.dev,
            0,
            a.uid,
            a.gid,
            a.mtime,
            a.atime,
            a.ctime,
            a.mode,
            a.nlink,
            BLOCK_SIZE,
            blocks,
        )
        return st.pack()

    @replies_errno
    def lseek(self, ctp: ResmgrContext, msg: IoLseek, ocb: IofuncOcb) -> HandlerResult:
        assert isinstance(ocb, FsOcb)
        ocb.attr.nbytes = self.fs.inode(ocb.inum).size
        return iofunc_lseek_default(ctp, msg, ocb)

    @replies_errno
    def sync(self, ctp: ResmgrContext, msg: IoSync, ocb: IofuncOcb) -> HandlerResult:
        del ctp, msg, ocb
        self.fs.fsync()
        return EOK

    @replies_errno
    def close(self, ctp: ResmgrContext, ocb: IofuncOcb) -> HandlerResult:
        assert isinstance(ocb, FsOcb)
        self.fs.closed(ocb.inum)
        return iofunc_close_ocb_default(ctp, ocb)

    @replies_errno
    def msg(self, ctp: ResmgrContext, msg: IoMsg, ocb: IofuncOcb) -> HandlerResult:
        del ocb
        if msg.mgrid != FSQRV_MGRID:
            return errno.ENOSYS
        if msg.subtype in (FsQrvMsg.UNMOUNT, FsQrvMsg.UNMOUNT_FORCE):
            others = self.fs.open_count() - 1  # the unmounting client's own open
            if others > 0 and msg.subtype == FsQrvMsg.UNMOUNT:
                return errno.EBUSY
            self.fs.unmount()
            self.stop_requested = True
            return EOK
        if msg.subtype == FsQrvMsg.SYNC:
            self.fs.fsync()
            return EOK
        if msg.subtype == FsQrvMsg.STATVFS:
            v = self.fs.statvfs()
            return STATVFS.pack(
                v.block_size, v.blocks, v.free_blocks, v.files, v.free_files, v.name_max
            )
        del ctp
        return errno.ENOSYS

"""fs-qrv's handlers of the calls that change names and attributes: the connect
subtypes unlink (rmdir), rename, mknod (mkdir), link (link, symlink) and
readlink, and the I/O messages chmod, chown, utime, space (ftruncate) and the
statvfs devctl.

Permissions are checked against the client's uid/gid (root passes): every
directory on the way to a name must be searchable, a name is added or removed
with write and search permission on its directory (EACCES),
a directory moved to another parent also needs write permission on itself
(its ".." changes); in a sticky directory (S_ISVTX) an entry is removed
(unlink, rmdir) or renamed, away or over, only by its owner, the directory's
owner or root (EPERM, after the EACCES checks, as Linux's ``may_delete``);
chmod, chown and utime follow :mod:`qrv.lib.c.iofunc_attrs` (EPERM, EACCES).
A read-only mount answers EROFS to every change.
"""

from __future__ import annotations

import errno
from dataclasses import replace

from qrv.lib.c.iofunc import IofuncAttr, IofuncOcb, devctl_reply, iofunc_devctl_default
from qrv.lib.c.iofunc_attrs import check_chmod, check_chown, check_utime
from qrv.lib.c.msg import IoChmod, IoChown, IoDevctl, IoOpen, IoSpace, IoUtime
from qrv.lib.c.resmgr import HandlerResult, ResmgrConnectFuncs, ResmgrContext, ResmgrIoFuncs
from qrv.lib.qrvfs import FsError
from qrv.servers.fs_qrv.handlers import FsOcb, FsServer, inode_attr, replies_errno
from qrv.spec.iomsg import (
    _IO_FLAG_WR,
    CONNECT_LINK_REPLY,
    DCMD_FSYS_STATVFS,
    EOK,
    F_ALLOCSP64,
    F_FREESP64,
    S_IFDIR,
    S_IFMT,
    S_ISVTX,
    S_IWRITE,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    SPACE_REPLY,
    ST_NOSUID,
    ST_RDONLY,
    ConnectExtra,
    FileType,
    StatVfs,
)
from qrv.spec.qrvfs import BLOCK_SIZE, MODE_MASK, InodeType

SEARCH = 0o100
FS_NAME = "qrv"


def parent_of(path: str) -> str:
    """The directory part of a mount-relative path ("" is the mount's root)."""
    return path.rstrip("/").rsplit("/", 1)[0] if "/" in path.rstrip("/") else ""


class FsOpsServer(FsServer):
    """fs-qrv: open/read/write/... (:class:`FsServer`) and the calls above."""

    def tables(self) -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
        connect, io = self.connect_funcs, self.io_funcs
        connect.unlink = self.unlink
        connect.rename = self.rename
        connect.mknod = self.mknod
        connect.link = self.link
        connect.readlink = self.readlink
        io.chmod = self.chmod
        io.chown = self.chown
        io.utime = self.utime
        io.space = self.space
        io.devctl = self.devctl
        return connect, io

    # --- checks ---------------------------------------------------------------------

    def _writable(self) -> int:
        return errno.EROFS if self.fs.read_only else EOK

    def _may_change_in(self, ctp: ResmgrContext, *paths: str) -> int:
        """EROFS on a read-only mount; EACCES without write+search on each directory."""
        if self.fs.read_only:
            return errno.EROFS
        for path in paths:
            if self.search_denied(ctp, path):
                return errno.EACCES
            if not self._may(ctp, self.fs.lookup(parent_of(path)), S_IWRITE | SEARCH):
                return errno.EACCES
        return EOK

    def _creds(self, ctp: ResmgrContext) -> tuple[int, int]:
        return (ctp.info.uid, ctp.info.gid) if ctp.info is not None else (0, 0)

    def _sticky_denied(self, ctp: ResmgrContext, path: str) -> bool:
        """Whether `path`'s directory is sticky and the client is neither root nor the
        owner of the entry or of the directory (POSIX XBD 4.3): the entry may not be
        removed or renamed.  A missing entry is the caller's ENOENT."""
        uid, _ = self._creds(ctp)
        if uid == 0:
            return False
        directory = self.fs.inode(self.fs.lookup(parent_of(path)))
        if not directory.mode & S_ISVTX:
            return False
        entry = self.fs.inode(self.fs.lookup(path, follow=False))
        return uid not in (entry.uid, directory.uid)

    def _entry(self, path: str) -> int | None:
        """The inode `path` names (not following a last symbolic link), None if none."""
        try:
            return self.fs.lookup(path, follow=False)
        except FsError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise

    # --- connect subtypes -----------------------------------------------------------

    @replies_errno
    def unlink(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        """unlink, or rmdir when the mode says S_IFDIR."""
        del attr
        err = self._may_change_in(ctp, msg.path)
        if err != EOK:
            return err
        if self._sticky_denied(ctp, msg.path):
            return errno.EPERM
        if msg.mode & S_IFMT == S_IFDIR:
            self.fs.rmdir(msg.path)
        else:
            self.fs.unlink(msg.path)
        return EOK

    @replies_errno
    def mknod(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        """mkdir (mode S_IFDIR | perms); other node types are not kept (ENOSYS)."""
        del attr
        if msg.mode & S_IFMT != S_IFDIR:
            return errno.ENOSYS
        if not msg.path.strip("/"):
            return errno.EEXIST  # the mount's root
        err = self._may_change_in(ctp, msg.path)
        if err != EOK:
            return err
        uid, gid = self._creds(ctp)
        self.fs.mkdir(msg.path, msg.mode & MODE_MASK, uid, gid)
        return EOK

    @replies_errno
    def rename(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        """rename(extra, path): atomic, replacing the target."""
        del attr
        if msg.extra_type != ConnectExtra.RENAME:
            return errno.EINVAL
        err = self._may_change_in(ctp, msg.extra, msg.path)
        if err != EOK:
            return err
        src = self.fs.lookup(msg.extra, follow=False)
        moves_dir = self.fs.inode(src).type == InodeType.DIR
        moved = parent_of(msg.extra) != parent_of(msg.path)
        if moves_dir and moved and not self._may(ctp, src, S_IWRITE):
            return errno.EACCES
        target = self._entry(msg.path)
        if target != src and (  # two names of one file: nothing changes (POSIX rename)
            self._sticky_denied(ctp, msg.extra)
            or (target is not None and self._sticky_denied(ctp, msg.path))
        ):
            return errno.EPERM
        self.fs.rename(msg.extra, msg.path)
        return EOK

    @replies_errno
    def link(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        """link(extra, path), or symlink(extra, path) (extra_type SYMLINK)."""
        del attr
        if msg.extra_type not in (ConnectExtra.LINK, ConnectExtra.SYMLINK):
            return errno.EINVAL
        if not msg.path.strip("/"):
            return errno.EEXIST  # the mount's root
        err = self._may_change_in(ctp, msg.path)
        if err != EOK:
            return err
        if msg.extra_type == ConnectExtra.SYMLINK:
            uid, gid = self._creds(ctp)
            self.fs.symlink(msg.extra, msg.path, uid, gid)
        else:
            self.fs.link(msg.extra, msg.path)
        return EOK

    @replies_errno
    def readlink(self, ctp: ResmgrContext, msg: IoOpen, attr: IofuncAttr) -> HandlerResult:
        del attr
        if self.search_denied(ctp, msg.path):
            return errno.EACCES
        target = self.fs.readlink(msg.path) + b"\0"
        hdr = CONNECT_LINK_REPLY.pack(0, FileType.SYMLINK, 0, 0, 0, 0, 0, len(target))
        return hdr + target

    # --- I/O messages -----------------------------------------------------------------

    def _attr(self, ocb: IofuncOcb) -> tuple[int, IofuncAttr]:
        assert isinstance(ocb, FsOcb)
        return ocb.inum, inode_attr(ocb.inum, self.fs.inode(ocb.inum))

    @replies_errno
    def chmod(self, ctp: ResmgrContext, msg: IoChmod, ocb: IofuncOcb) -> HandlerResult:
        inum, attr = self._attr(ocb)
        err = self._writable() or check_chmod(ctp, attr)
        if err == EOK:
            self.fs.change_inode(inum, lambda ino: replace(ino, mode=msg.mode & MODE_MASK))
        return err

    @replies_errno
    def chown(self, ctp: ResmgrContext, msg: IoChown, ocb: IofuncOcb) -> HandlerResult:
        inum, attr = self._attr(ocb)
        err = self._writable() or check_chown(ctp, attr, msg.uid, msg.gid)
        if err == EOK:
            uid = attr.uid if msg.uid == -1 else msg.uid
            gid = attr.gid if msg.gid == -1 else msg.gid
            self.fs.change_inode(inum, lambda ino: replace(ino, uid=uid, gid=gid))
        return err

    @replies_errno
    def utime(self, ctp: ResmgrContext, msg: IoUtime, ocb: IofuncOcb) -> HandlerResult:
        inum, attr = self._attr(ocb)
        err = self._writable() or check_utime(ctp, attr, msg.now)
        if err == EOK:
            now = self.fs.now()
            atime, mtime = (now, now) if msg.now else (msg.atime, msg.mtime)
            self.fs.change_inode(inum, lambda ino: replace(ino, atime=atime, mtime=mtime))
        return err

    @replies_errno
    def space(self, ctp: ResmgrContext, msg: IoSpace, ocb: IofuncOcb) -> HandlerResult:
        """F_FREESP64/F_ALLOCSP64: len 0 sets the size to start (FREESP) or grows the
        file to it (ALLOCSP); a range grows to its end (ALLOCSP) or, reaching the end
        of file, cuts the file at start (FREESP).  Freeing a range inside the file
        (punching a hole) is not served (ENOSYS)."""
        del ctp
        inum, attr = self._attr(ocb)
        if not ocb.ioflag & _IO_FLAG_WR:
            return errno.EBADF
        if attr.mode & S_IFMT == S_IFDIR:
            return errno.EISDIR
        base = {SEEK_SET: 0, SEEK_CUR: ocb.offset, SEEK_END: attr.nbytes}.get(msg.whence)
        if base is None or base + msg.start < 0 or msg.subtype not in (F_ALLOCSP64, F_FREESP64):
            return errno.EINVAL
        start, size = base + msg.start, attr.nbytes
        if msg.subtype == F_ALLOCSP64:
            new = max(size, start + msg.len)
        elif msg.len == 0 or start + msg.len >= size:
            new = start if msg.len == 0 else min(start, size)
        else:
            return errno.ENOSYS
        if new != size:
            self.fs.truncate(inum, new)
        return SPACE_REPLY.pack(new)

    @replies_errno
    def devctl(self, ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb) -> HandlerResult:
        if msg.dcmd != DCMD_FSYS_STATVFS:
            return iofunc_devctl_default(ctp, msg, ocb)
        v = self.fs.statvfs()
        flag = ST_NOSUID | (ST_RDONLY if self.fs.read_only else 0)
        free = 0 if self.fs.read_only else v.free_blocks
        st = StatVfs(
            BLOCK_SIZE,
            BLOCK_SIZE,
            v.blocks,
            v.free_blocks,
            free,
            v.files,
            v.free_files,
            v.free_files,
            0,
            FS_NAME,
            flag,
            v.name_max,
        )
        return devctl_reply(ctp, st.pack())

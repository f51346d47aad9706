"""A mounted qrvfs: POSIX-style operations on paths and inode numbers, each one
a journaled operation (all or nothing in the cache, durable at the next
commit; :meth:`Filesystem.fsync` commits).

Paths are absolute or relative to the root, ``str`` (UTF-8) or ``bytes``.
Symbolic links are followed in every component but the last unless asked.
Access times are not updated on read (as with ``noatime``).
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from qrv.lib.qrvfs import dirs
from qrv.lib.qrvfs.alloc import alloc_inode, free_block_count, free_inode_count
from qrv.lib.qrvfs.device import BlockDevice
from qrv.lib.qrvfs.errors import FsCorrupt, FsError
from qrv.lib.qrvfs.fileio import read_data, truncate_data, write_data
from qrv.lib.qrvfs.journal import MAX_OP_BLOCKS, min_log_blocks
from qrv.lib.qrvfs.mount import open_volume
from qrv.lib.qrvfs.volume import Clock, Volume, wall_clock
from qrv.spec.qrvfs import BLOCK_SIZE, MODE_MASK, NAME_MAX, ROOT_INUM, Inode, InodeType

SYMLOOP_MAX = 40
WRITE_CHUNK = (MAX_OP_BLOCKS // 2) * BLOCK_SIZE  # bytes written per operation
PathLike = str | bytes


def _bytes(path: PathLike) -> bytes:
    return path.encode() if isinstance(path, str) else path


def split_path(path: PathLike) -> list[bytes]:
    return [c for c in _bytes(path).split(b"/") if c]


@dataclass(frozen=True)
class StatVfs:
    block_size: int
    blocks: int  # data blocks
    free_blocks: int
    files: int  # usable inodes (1 .. ninodes-1)
    free_files: int
    name_max: int = NAME_MAX


class Filesystem:
    def __init__(self, vol: Volume, read_only: bool, notes: list[str]) -> None:
        self.vol = vol
        self.read_only = read_only
        self.notes = notes
        self._open: dict[int, int] = {}  # inum -> open references

    @classmethod
    def mount(
        cls,
        dev: BlockDevice,
        *,
        read_only: bool = False,
        cache_blocks: int = 1024,
        now: Clock = wall_clock,
    ) -> Filesystem:
        result = open_volume(dev, read_only=read_only, cache_blocks=cache_blocks, now=now)
        fs = cls(result.volume, result.read_only, result.notes)
        root = fs.vol.read_inode(ROOT_INUM)
        if root.type != InodeType.DIR:
            raise FsCorrupt(f"root inode {ROOT_INUM} is not a directory (type {root.type})")
        if not fs.read_only:
            freed = fs._free_orphans()
            if freed:
                fs.notes.append(f"freed {freed} orphan inode(s)")
        return fs

    # --- operations -----------------------------------------------------------------

    @contextmanager
    def _op(self, what: str = "", *, frees: bool = False) -> Iterator[Volume]:
        """One journaled operation; ``frees``: it may free blocks anywhere (a
        truncation), so it may touch every bitmap block."""
        if self.read_only:
            raise FsError.of(errno.EROFS, what or "filesystem")
        journal = self.vol.journal
        journal.begin_op(min_log_blocks(self.vol.sb) - 1 if frees else MAX_OP_BLOCKS)
        try:
            yield self.vol
        except BaseException:
            journal.abort_op()
            raise
        journal.end_op()

    def fsync(self) -> None:
        """Commit every finished operation and flush the device."""
        if not self.read_only:
            self.vol.journal.commit()

    sync = fsync

    def unmount(self) -> None:
        """Commit, write everything back and flush: the log is left empty."""
        self.fsync()

    # --- paths ----------------------------------------------------------------------

    def _dir(self, inum: int, what: bytes) -> Inode:
        ino = self.vol.read_inode(inum)
        if ino.type != InodeType.DIR:
            raise FsError.of(errno.ENOTDIR, what.decode(errors="replace"))
        return ino

    def _resolve(self, path: PathLike, follow: bool = True) -> int:
        comps = deque(split_path(path))
        cur, links = ROOT_INUM, 0
        while comps:
            name = comps.popleft()
            self._dir(cur, name)
            if len(name) > NAME_MAX:
                raise FsError.of(errno.ENAMETOOLONG, _bytes(path).decode(errors="replace"))
            if name == b".":
                continue
            found = dirs.find(self.vol, cur, name)
            if found is None:
                raise FsError.of(errno.ENOENT, _bytes(path).decode(errors="replace"))
            child = found[1]
            ino = self.vol.read_inode(child)
            if ino.type == InodeType.SYMLINK and (comps or follow):
                links += 1
                if links > SYMLOOP_MAX:
                    raise FsError.of(errno.ELOOP, _bytes(path).decode(errors="replace"))
                target = self._link_target(child, ino)
                if target.startswith(b"/"):
                    cur = ROOT_INUM
                comps.extendleft(reversed(split_path(target)))
                continue
            if ino.type == InodeType.FREE:
                raise FsCorrupt(f"entry {name!r} of directory {cur} names free inode {child}")
            cur = child
        return cur

    def _parent(self, path: PathLike) -> tuple[int, bytes]:
        comps = split_path(path)
        if not comps:
            raise FsError.of(errno.EBUSY, "/")
        name = comps[-1]
        dirs.check_name(name)
        parent = self._resolve(b"/".join(comps[:-1]))
        self._dir(parent, name)
        return parent, name

    def lookup(self, path: PathLike, follow: bool = True) -> int:
        return self._resolve(path, follow)

    def stat(self, path: PathLike, follow: bool = True) -> tuple[int, Inode]:
        inum = self._resolve(path, follow)
        return inum, self.vol.read_inode(inum)

    def inode(self, inum: int) -> Inode:
        return self.vol.read_inode(inum)

    def listdir(self, path: PathLike) -> list[tuple[bytes, int]]:
        inum = self._resolve(path)
        self._dir(inum, _bytes(path))
        return [(name, n) for _, n, name in dirs.entries(self.vol, inum)]

    # --- reading --------------------------------------------------------------------

    def read(self, inum: int, offset: int, length: int) -> bytes:
        ino = self.vol.read_inode(inum)
        if ino.type == InodeType.DIR:
            raise FsError.of(errno.EISDIR, f"inode {inum}")
        return read_data(self.vol, ino, offset, length)

    def read_file(self, path: PathLike) -> bytes:
        inum = self._resolve(path)
        return self.read(inum, 0, self.vol.read_inode(inum).size)

    def _link_target(self, inum: int, ino: Inode) -> bytes:
        if ino.size > BLOCK_SIZE:
            raise FsCorrupt(f"symbolic link {inum} has size {ino.size}, beyond one block")
        return read_data(self.vol, ino, 0, ino.size)

    def readlink(self, path: PathLike) -> bytes:
        inum = self._resolve(path, follow=False)
        ino = self.vol.read_inode(inum)
        if ino.type != InodeType.SYMLINK:
            raise FsError.of(errno.EINVAL, _bytes(path).decode(errors="replace"))
        return self._link_target(inum, ino)

    def statvfs(self) -> StatVfs:
        sb = self.vol.sb
        return StatVfs(
            BLOCK_SIZE,
            sb.nblocks,
            free_block_count(self.vol),
            sb.ninodes - 1,
            free_inode_count(self.vol),
        )

    # --- creating -------------------------------------------------------------------

    def _new_inode(self, vol: Volume, kind: InodeType, mode: int, uid: int, gid: int) -> int:
        now = vol.now()
        ino = Inode(kind, 1, mode & MODE_MASK, uid, gid, 0, now, now, now)
        return alloc_inode(vol, ino)

    def _touch_dir(self, vol: Volume, dinum: int, nlink_delta: int = 0) -> None:
        ino = vol.read_inode(dinum)
        now = vol.now()
        nlink = ino.nlink + nlink_delta
        if not 0 <= nlink <= 0xFFFF:
            raise FsError(errno.EMLINK, f"directory {dinum} link count {nlink}")
        vol.write_inode(dinum, replace(ino, nlink=nlink, mtime=now, ctime=now))

    def create(
        self,
        path: PathLike,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        *,
        exclusive: bool = False,
        truncate: bool = False,
    ) -> int:
        """Open-or-create a regular file (O_CREAT [O_EXCL] [O_TRUNC]); its inum."""
        parent, name = self._parent(path)
        found = dirs.find(self.vol, parent, name)
        if found is not None:
            if exclusive:
                raise FsError.of(errno.EEXIST, _bytes(path).decode(errors="replace"))
            inum = self._resolve(path)
            ino = self.vol.read_inode(inum)
            if ino.type == InodeType.DIR:
                raise FsError.of(errno.EISDIR, _bytes(path).decode(errors="replace"))
            if truncate and ino.size:
                self.truncate(inum, 0)
            return inum
        with self._op(_bytes(path).decode(errors="replace")) as vol:
            inum = self._new_inode(vol, InodeType.FILE, mode, uid, gid)
            dirs.add(vol, parent, name, inum)
            self._touch_dir(vol, parent)
        return inum

    def mkdir(self, path: PathLike, mode: int = 0o755, uid: int = 0, gid: int = 0) -> int:
        parent, name = self._parent(path)
        what = _bytes(path).decode(errors="replace")
        if dirs.find(self.vol, parent, name) is not None:
            raise FsError.of(errno.EEXIST, what)
        with self._op(what) as vol:
            inum = self._new_inode(vol, InodeType.DIR, mode, uid, gid)
            vol.write_inode(inum, replace(vol.read_inode(inum), nlink=2))
            dirs.init_dir(vol, inum, parent)
            dirs.add(vol, parent, name, inum)
            self._touch_dir(vol, parent, +1)
        return inum

    def symlink(self, target: PathLike, path: PathLike, uid: int = 0, gid: int = 0) -> int:
        raw = _bytes(target)
        what = _bytes(path).decode(errors="replace")
        if not raw or len(raw) > BLOCK_SIZE:
            raise FsError.of(errno.ENAMETOOLONG if raw else errno.ENOENT, what)
        parent, name = self._parent(path)
        if dirs.find(self.vol, parent, name) is not None:
            raise FsError.of(errno.EEXIST, what)
        with self._op(what) as vol:
            inum = self._new_inode(vol, InodeType.SYMLINK, 0o777, uid, gid)
            vol.write_inode(inum, write_data(vol, vol.read_inode(inum), 0, raw))
            dirs.add(vol, parent, name, inum)
            self._touch_dir(vol, parent)
        return inum

    def link(self, existing: PathLike, new: PathLike) -> None:
        inum = self._resolve(existing, follow=False)
        ino = self.vol.read_inode(inum)
        what = _bytes(new).decode(errors="replace")
        if ino.type == InodeType.DIR:
            raise FsError.of(errno.EPERM, _bytes(existing).decode(errors="replace"))
        if ino.nlink >= 0xFFFF:
            raise FsError.of(errno.EMLINK, what)
        parent, name = self._parent(new)
        if dirs.find(self.vol, parent, name) is not None:
            raise FsError.of(errno.EEXIST, what)
        with self._op(what) as vol:
            dirs.add(vol, parent, name, inum)
            ino = vol.read_inode(inum)
            vol.write_inode(inum, replace(ino, nlink=ino.nlink + 1, ctime=vol.now()))
            self._touch_dir(vol, parent)

    # --- writing --------------------------------------------------------------------

    def write(self, inum: int, offset: int, data: bytes) -> int:
        """Write ``data`` at ``offset`` in operations of at most WRITE_CHUNK bytes.

        Returns the bytes written: short when the disk fills part way (each
        operation is all or nothing; near the end it goes a block at a time),
        ENOSPC only when nothing could be written."""
        ino = self.vol.read_inode(inum)
        if ino.type == InodeType.DIR:
            raise FsError.of(errno.EISDIR, f"inode {inum}")
        done, limit = 0, WRITE_CHUNK
        while True:
            pos = offset + done
            piece = data[done : done + limit - pos % BLOCK_SIZE]
            try:
                with self._op(f"inode {inum}") as vol:
                    ino = write_data(vol, vol.read_inode(inum), pos, piece)
                    now = vol.now()
                    vol.write_inode(inum, replace(ino, mtime=now, ctime=now))
            except FsError as exc:
                if exc.errno != errno.ENOSPC or len(piece) <= BLOCK_SIZE - pos % BLOCK_SIZE:
                    if done and exc.errno == errno.ENOSPC:
                        return done
                    raise
                limit = BLOCK_SIZE
                continue
            done += len(piece)
            if done >= len(data):
                return done

    def truncate(self, inum: int, size: int) -> None:
        ino = self.vol.read_inode(inum)
        if ino.type == InodeType.DIR:
            raise FsError.of(errno.EISDIR, f"inode {inum}")
        if size < 0:
            raise FsError.of(errno.EINVAL, f"size {size}")
        with self._op(f"inode {inum}", frees=True) as vol:
            ino = truncate_data(vol, vol.read_inode(inum), size)
            now = vol.now()
            vol.write_inode(inum, replace(ino, mtime=now, ctime=now))

    def write_file(self, path: PathLike, data: bytes, mode: int = 0o644) -> int:
        """Create or replace ``path`` with ``data`` (convenience for the host tools)."""
        inum = self.create(path, mode, truncate=True)
        self.write(inum, 0, data)
        return inum

    def _set_attrs(self, path: PathLike, follow: bool, change: Callable[[Inode], Inode]) -> None:
        self.change_inode(self._resolve(path, follow), change)

    def change_inode(self, inum: int, change: Callable[[Inode], Inode]) -> Inode:
        """Apply ``change`` to inode ``inum`` (ctime becomes now); the new inode."""
        with self._op(f"inode {inum}") as vol:
            ino = replace(change(vol.read_inode(inum)), ctime=vol.now())
            vol.write_inode(inum, ino)
        return ino

    def now(self) -> int:
        """The filesystem's clock (seconds)."""
        return self.vol.now()

    def chmod(self, path: PathLike, mode: int) -> None:
        self._set_attrs(path, True, lambda ino: replace(ino, mode=mode & MODE_MASK))

    def chown(self, path: PathLike, uid: int, gid: int, follow: bool = True) -> None:
        self._set_attrs(path, follow, lambda ino: replace(ino, uid=uid, gid=gid))

    def utime(self, path: PathLike, atime: int, mtime: int) -> None:
        self._set_attrs(path, True, lambda ino: replace(ino, atime=atime, mtime=mtime))

    # --- removing -------------------------------------------------------------------

    def opened(self, inum: int) -> None:
        """A client opened ``inum``: it outlives its last name until :meth:`closed`."""
        self._open[inum] = self._open.get(inum, 0) + 1

    def open_count(self) -> int:
        """Open references held by clients."""
        return sum(self._open.values())

    def closed(self, inum: int) -> None:
        left = self._open.get(inum, 0) - 1
        if left > 0:
            self._open[inum] = left
            return
        self._open.pop(inum, None)
        self._release(inum)

    def _release(self, inum: int) -> None:
        """Free ``inum`` if no name and no open reference is left."""
        if self.read_only or self._open.get(inum) or inum == ROOT_INUM:
            return
        ino = self.vol.read_inode(inum)
        if ino.type == InodeType.FREE or ino.nlink > 0:
            return
        with self._op(f"inode {inum}", frees=True) as vol:
            vol.write_inode(inum, replace(truncate_data(vol, ino, 0), type=InodeType.FREE))

    def _free_orphans(self) -> int:
        freed = 0
        for inum in range(ROOT_INUM + 1, self.vol.sb.ninodes):
            ino = self.vol.read_inode(inum)
            if ino.type != InodeType.FREE and ino.nlink == 0:
                self._release(inum)
                freed += 1
        return freed

    def _drop_link(self, vol: Volume, inum: int, is_dir: bool) -> None:
        ino = vol.read_inode(inum)
        nlink = 0 if is_dir else max(0, ino.nlink - 1)
        vol.write_inode(inum, replace(ino, nlink=nlink, ctime=vol.now()))

    def unlink(self, path: PathLike) -> None:
        parent, name = self._parent(path)
        what = _bytes(path).decode(errors="replace")
        found = dirs.find(self.vol, parent, name)
        if found is None:
            raise FsError.of(errno.ENOENT, what)
        slot, inum = found
        if self.vol.read_inode(inum).type == InodeType.DIR:
            raise FsError.of(errno.EISDIR, what)
        with self._op(what) as vol:
            dirs.clear_slot(vol, parent, slot)
            self._drop_link(vol, inum, False)
            self._touch_dir(vol, parent)
        self._release(inum)

    def rmdir(self, path: PathLike) -> None:
        parent, name = self._parent(path)
        what = _bytes(path).decode(errors="replace")
        if name in (dirs.DOT, dirs.DOTDOT):
            raise FsError.of(errno.EINVAL, what)
        found = dirs.find(self.vol, parent, name)
        if found is None:
            raise FsError.of(errno.ENOENT, what)
        slot, inum = found
        self._dir(inum, name)
        if not dirs.is_empty(self.vol, inum):
            raise FsError.of(errno.ENOTEMPTY, what)
        with self._op(what) as vol:
            dirs.clear_slot(vol, parent, slot)
            self._drop_link(vol, inum, True)
            self._touch_dir(vol, parent, -1)
        self._release(inum)

    def _is_ancestor(self, ancestor: int, dinum: int) -> bool:
        """Whether ``ancestor`` is ``dinum`` or above it (walking ".." to the root)."""
        cur = dinum
        for _ in range(self.vol.sb.ninodes):
            if cur == ancestor:
                return True
            if cur == ROOT_INUM:
                return False
            up = dirs.find(self.vol, cur, dirs.DOTDOT)
            if up is None:
                raise FsCorrupt(f"directory {cur} has no '..'")
            cur = up[1]
        raise FsCorrupt(f"'..' entries above directory {dinum} form a loop")

    def rename(self, old: PathLike, new: PathLike) -> None:
        """Atomic: the new name names the file, or the old one does (never neither)."""
        sparent, sname = self._parent(old)
        dparent, dname = self._parent(new)
        what = _bytes(old).decode(errors="replace")
        if sname in (dirs.DOT, dirs.DOTDOT) or dname in (dirs.DOT, dirs.DOTDOT):
            raise FsError.of(errno.EINVAL, what)
        src = dirs.find(self.vol, sparent, sname)
        if src is None:
            raise FsError.of(errno.ENOENT, what)
        sslot, sinum = src
        s_is_dir = self.vol.read_inode(sinum).type == InodeType.DIR
        dst = dirs.find(self.vol, dparent, dname)
        if dst is not None and dst[1] == sinum:
            return
        if s_is_dir and self._is_ancestor(sinum, dparent):
            raise FsError.of(errno.EINVAL, _bytes(new).decode(errors="replace"))
        d_is_dir = dst is not None and self.vol.read_inode(dst[1]).type == InodeType.DIR
        if dst is not None:
            target = _bytes(new).decode(errors="replace")
            if s_is_dir and not d_is_dir:
                raise FsError.of(errno.ENOTDIR, target)
            if d_is_dir and not s_is_dir:
                raise FsError.of(errno.EISDIR, target)
            if d_is_dir and not dirs.is_empty(self.vol, dst[1]):
                raise FsError.of(errno.ENOTEMPTY, target)
        with self._op(what) as vol:
            if dst is not None:
                dirs.set_slot(vol, dparent, dst[0], sinum, dname)
                self._drop_link(vol, dst[1], d_is_dir)
                if d_is_dir:
                    self._touch_dir(vol, dparent, -1)
            else:
                dirs.add(vol, dparent, dname, sinum)
            dirs.clear_slot(vol, sparent, sslot)
            if s_is_dir and sparent != dparent:
                up = dirs.find(vol, sinum, dirs.DOTDOT)
                if up is None:
                    raise FsCorrupt(f"directory {sinum} has no '..'")
                dirs.set_slot(vol, sinum, up[0], dparent, dirs.DOTDOT)
                self._touch_dir(vol, sparent, -1)
                self._touch_dir(vol, dparent, +1)
            else:
                self._touch_dir(vol, sparent)
                if sparent != dparent:
                    self._touch_dir(vol, dparent)
            ino = vol.read_inode(sinum)
            vol.write_inode(sinum, replace(ino, ctime=vol.now()))
        if dst is not None:
            self._release(dst[1])

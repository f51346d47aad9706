"""procnto's path-manager server: the synthesised directories (``/``, ``/dev``, ...),
the character devices ``/dev/null`` and ``/dev/zero``, and the programs of ``/bin``.

An open that no registered server claims but that names a directory above
registered names ends at procnto (``pathmgr_open.c`` node_stat / readdir):
the directory is ``S_IFDIR | 0555``, nlink 2, and reading it yields one
dirent per child name.  Runs as a thread of process 1 on the kernel's IPC.

Messages are decoded and validated by :func:`qrv.spec.messages.decode`, the
decoder of every resource manager: a malformed one is answered with its
errno (EBADMSG, EINVAL, ENAMETOOLONG) and the thread serves on.

``/dev/null`` and ``/dev/zero`` are names procnto links to its own channel, as
QNX's procnto serves them: ``crw-rw-rw-``, root-owned; a read of ``/dev/null``
is end of file, a read of ``/dev/zero`` returns as many zero bytes as asked
(up to 1 MiB per read); writes to either take every byte; lseek always lands
at 0; fsync succeeds.

The names procnto serves cannot be changed by a client: a mknod (mkdir) of
one is EEXIST, an unlink, rename or link naming one is EROFS, a readlink is
EINVAL (none is a symbolic link); chmod, chown, utime and ftruncate of a
synthesised directory or a ``/bin`` file are EROFS, of a device ENOSYS.

``/bin/NAME`` is every program the system can run by name (the system's
commands and the user's installed ones, :meth:`qrv.kernel.kernel.Kernel.program`),
each a name procnto links to its channel, as QNX's procnto serves the boot
image's files under ``/proc/boot``: a regular file ``-r-xr-xr-x``, root-owned,
whose bytes are the program's Python source (read, lseek, stat); it cannot be
opened for writing (EACCES).
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.kernel.ipc import Ipc
from qrv.kernel.pathmgr import PathManager, normalize
from qrv.kernel.proc import KThread, ProcessKilled
from qrv.spec.iomsg import (
    _IO_FLAG_WR,
    DCMD_ALL_GETFLAGS,
    DEVCTL_REPLY,
    EACCES,
    EBADF,
    EEXIST,
    EINVAL,
    EISDIR,
    ENOENT,
    ENOSYS,
    EOK,
    EROFS,
    IO_WRITE,
    LSEEK_REPLY,
    O_RDONLY,
    O_RDWR,
    S_IFCHR,
    S_IFDIR,
    S_IFREG,
    SEEK_CUR,
    SEEK_END,
    SEEK_SET,
    ConnectSubtype,
    Pulse,
    PulseCode,
    Stat,
    pack_dirent,
)
from qrv.spec.messages import (
    IoChmod,
    IoChown,
    IoClose,
    IoDevctl,
    IoLseek,
    IoMessage,
    IoOpen,
    IoRead,
    IoSpace,
    IoStat,
    IoSync,
    IoUtime,
    IoWrite,
    decode,
)

DIR_MODE = S_IFDIR | 0o555
DIR_NLINK = 2
CHAR_MODE = S_IFCHR | 0o666
PROGRAM_MODE = S_IFREG | 0o555
RECEIVE_BYTES = 4096
_INT = 4
NULL_HANDLE, ZERO_HANDLE = 1, 2
DEVICES = {"/dev/null": NULL_HANDLE, "/dev/zero": ZERO_HANDLE}
"""procnto's own character devices: path -> the handle it links them with."""
MAX_ZERO_READ = 1 << 20  # one read of /dev/zero returns at most this much
_OPENS = (ConnectSubtype.OPEN, ConnectSubtype.COMBINE)
_CHANGES = (IoChmod, IoChown, IoUtime, IoSpace)
FIRST_FILE_HANDLE = 0x100
"""The handles of /bin's files start here (past :data:`DEVICES`)."""


@dataclass
class DirOcb:
    path: str
    index: int = 0


@dataclass
class DevOcb:
    handle: int


@dataclass
class FileOcb:
    """An open /bin file: its bytes and the offset."""

    handle: int
    data: bytes
    offset: int = 0


class ProcServer:
    """The dispatch loop of procnto's path-manager channel."""

    def __init__(
        self,
        ipc: Ipc,
        paths: PathManager,
        thread: KThread,
        chid: int,
        files: dict[int, bytes] | None = None,
    ) -> None:
        self._ipc = ipc
        self._paths = paths
        self._t = thread
        self._chid = chid
        self._files = files or {}
        """The /bin files: handle -> bytes."""
        self._ocbs: dict[tuple[int, int], DirOcb | DevOcb | FileOcb] = {}

    def run(self) -> None:
        ipc = self._ipc
        while True:
            try:
                rcvid, msg, info = ipc.msg_receive(self._t, self._chid, RECEIVE_BYTES, None)
            except (ProcessKilled, OSError):
                return
            if rcvid == 0 or info is None:
                pulse = Pulse.unpack(msg)
                if pulse.code == PulseCode.DISCONNECT:
                    for key in [k for k in self._ocbs if k[0] == pulse.scoid]:
                        del self._ocbs[key]
                continue
            try:
                status, reply, err = self._handle((info.scoid, info.coid), msg, info.srcmsglen)
            except OSError as exc:  # a malformed message (MessageError): answer, live on
                status, reply, err = 0, b"", exc.errno or EINVAL
            try:
                if err != EOK:
                    ipc.msg_error(self._t, rcvid, err)
                else:
                    ipc.msg_reply(self._t, rcvid, status, [reply])
            except ProcessKilled:
                return
            except OSError:
                continue  # the client went away (ESRCH on reply)

    def _handle(self, key: tuple[int, int], raw: bytes, srcmsglen: int) -> tuple[int, bytes, int]:
        """(status, reply data, errno) for one message; MessageError when it is malformed."""
        msg = decode(raw, srcmsglen)
        if isinstance(msg, IoOpen):
            return self._open(key, msg)
        ocb = self._ocbs.get(key)
        if ocb is None:
            return 0, b"", EBADF
        if isinstance(msg, IoClose):
            del self._ocbs[key]
            return 0, b"", EOK
        if isinstance(ocb, DevOcb):
            return _device(ocb, msg, raw)
        if isinstance(msg, _CHANGES):
            return 0, b"", EROFS
        if isinstance(ocb, FileOcb):
            return _file(ocb, msg)
        if isinstance(msg, IoRead):
            return self._read(ocb, msg)
        if isinstance(msg, IoStat):
            st = Stat(0, 0, 0, 0, 0, 0, 0, 0, 0, DIR_MODE, DIR_NLINK, 512, 0)
            return 0, st.pack(), EOK
        if isinstance(msg, IoLseek):
            if msg.whence != SEEK_SET or msg.offset < 0:
                return 0, b"", EINVAL
            ocb.index = msg.offset
            return 0, LSEEK_REPLY.pack(msg.offset), EOK
        return _getflags(msg, O_RDONLY)

    def _open(self, key: tuple[int, int], msg: IoOpen) -> tuple[int, bytes, int]:
        if msg.subtype not in _OPENS:
            return 0, b"", _change_errno(msg.subtype)
        if msg.handle in DEVICES.values():
            self._ocbs[key] = DevOcb(msg.handle)
            return 0, b"", EOK
        data = self._files.get(msg.handle)
        if data is not None:
            if msg.ioflag & _IO_FLAG_WR:
                return 0, b"", EACCES
            self._ocbs[key] = FileOcb(msg.handle, data)
            return 0, b"", EOK
        path, _ = normalize(msg.path)
        is_dir = self._paths.is_dir(path)
        if not is_dir:
            return 0, b"", ENOENT
        if msg.ioflag & _IO_FLAG_WR:
            return 0, b"", EISDIR
        self._ocbs[key] = DirOcb(path)
        return 0, b"", EOK

    def _read(self, ocb: DirOcb, msg: IoRead) -> tuple[int, bytes, int]:
        names = self._paths.children(ocb.path)
        out = b""
        while ocb.index < len(names):
            rec = pack_dirent(ocb.index + 1, ocb.index + 1, names[ocb.index])
            if len(out) + len(rec) > msg.nbytes:
                break
            out += rec
            ocb.index += 1
        return len(out), out, EOK


def _change_errno(subtype: int) -> int:
    """The answer to a connect that would change one of procnto's names."""
    if subtype == ConnectSubtype.MKNOD:
        return EEXIST
    if subtype == ConnectSubtype.READLINK:
        return EINVAL
    return EROFS if subtype in _NAME_CHANGES else ENOSYS


_NAME_CHANGES = (ConnectSubtype.UNLINK, ConnectSubtype.RENAME, ConnectSubtype.LINK)


def _device(ocb: DevOcb, msg: IoMessage, raw: bytes) -> tuple[int, bytes, int]:
    """A message on an open /dev/null or /dev/zero."""
    if isinstance(msg, IoRead):
        nbytes = min(msg.nbytes, MAX_ZERO_READ)
        data = bytes(nbytes) if ocb.handle == ZERO_HANDLE else b""
        return len(data), data, EOK
    if isinstance(msg, IoWrite):
        return IO_WRITE.unpack_from(raw)[2], b"", EOK  # every announced byte taken
    if isinstance(msg, IoStat):
        st = Stat(ocb.handle, 0, 0, 0, 0, 0, 0, 0, 0, CHAR_MODE, 1, 512, 0)
        return 0, st.pack(), EOK
    if isinstance(msg, IoLseek):
        return 0, LSEEK_REPLY.pack(0), EOK
    if isinstance(msg, IoSync):
        return 0, b"", EOK
    return _getflags(msg, O_RDWR)


def _file(ocb: FileOcb, msg: IoMessage) -> tuple[int, bytes, int]:
    """A message on an open /bin file (read-only bytes)."""
    if isinstance(msg, IoRead):
        start = ocb.offset if msg.offset is None else msg.offset
        chunk = ocb.data[start : start + msg.nbytes]
        if msg.offset is None:
            ocb.offset += len(chunk)
        return len(chunk), chunk, EOK
    if isinstance(msg, IoStat):
        size = len(ocb.data)
        st = Stat(ocb.handle, size, 0, 0, 0, 0, 0, 0, 0, PROGRAM_MODE, 1, 512, (size + 511) // 512)
        return 0, st.pack(), EOK
    if isinstance(msg, IoLseek):
        base = {SEEK_SET: 0, SEEK_CUR: ocb.offset, SEEK_END: len(ocb.data)}.get(msg.whence)
        if base is None or base + msg.offset < 0:
            return 0, b"", EINVAL
        ocb.offset = base + msg.offset
        return 0, LSEEK_REPLY.pack(ocb.offset), EOK
    if isinstance(msg, IoWrite):
        return 0, b"", EBADF
    if isinstance(msg, IoSync):
        return 0, b"", EOK
    return _getflags(msg, O_RDONLY)


def _getflags(msg: IoMessage, oflag: int) -> tuple[int, bytes, int]:
    """DCMD_ALL_GETFLAGS answered with `oflag`; anything else ENOSYS."""
    if not isinstance(msg, IoDevctl) or msg.dcmd != DCMD_ALL_GETFLAGS:
        return 0, b"", ENOSYS
    data = oflag.to_bytes(_INT, "little")
    return 0, DEVCTL_REPLY.pack(0, 0, len(data), 0) + data, EOK

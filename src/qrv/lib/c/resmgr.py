"""The resource-manager layer: dispatch internals, handler tables, ``resmgr_attach``.

Handler return values follow ``_resmgr_handler.c`` (notes §2):
``bytes`` → MsgReply(ctp.status, bytes); ``0`` (EOK) → reply status with no
data; errno > 0 → MsgError; ``-n`` → reply ``ctp.iov[:n]``;
:data:`RESMGR_NOREPLY` → no reply; :data:`RESMGR_DEFAULT` or an empty slot
→ ENOSYS.  I/O on a connection without an OCB → EBADF; ``_IO_CLOSE``
without a handler → EOK; a connect message for an unknown link → ENOENT.

Connect messages go to the slot of their subtype (``resmgr_connect_funcs_t``):
OPEN and COMBINE to ``open``, then ``unlink`` (rmdir too: mode S_IFDIR),
``rename``, ``mknod`` (mkdir), ``readlink``, ``link`` (link and symlink, told
apart by ``extra_type``); an empty slot answers ENOSYS.

Every message is decoded and validated (:func:`qrv.spec.messages.decode`)
before a handler sees it: a malformed one is answered EBADMSG, EINVAL or
ENAMETOOLONG and no handler runs.  Handlers judge the semantics.  A handler
raising ``OSError`` (a ``MessageError`` too: a reply value its field cannot
hold is EOVERFLOW) replies with its errno; any other exception is a crash of
the server process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from qrv.kernel import MsgInfo
from qrv.lib.c import ipc
from qrv.lib.c._sys import K, cur
from qrv.lib.c.iofunc_types import IofuncAttr, IofuncOcb
from qrv.lib.c.msg import (
    IoChmod,
    IoChown,
    IoClose,
    IoDevctl,
    IoLseek,
    IoMsg,
    IoOpen,
    IoRead,
    IoSpace,
    IoStat,
    IoSync,
    IoUtime,
    IoWrite,
    decode,
)
from qrv.spec.iomsg import (
    _RESMGR_DEFAULT,
    _RESMGR_FLAG_MASK,
    _RESMGR_NOREPLY,
    EBADF,
    EFAULT,
    EINVAL,
    ENOENT,
    ENOSYS,
    EOK,
    ESRCH,
    IO_WRITE,
    ChannelFlag,
    ConnectSubtype,
    Pulse,
    PulseCode,
    oserror,
)

RESMGR_NOREPLY = _RESMGR_NOREPLY
RESMGR_DEFAULT = _RESMGR_DEFAULT
RECEIVE_BYTES = 65536 + 64
"""A dispatch receive buffer: a 64 KiB write plus its header."""

HandlerResult = int | bytes

OpenFunc = Callable[["ResmgrContext", IoOpen, "IofuncAttr"], HandlerResult]
ReadFunc = Callable[["ResmgrContext", IoRead, "IofuncOcb"], HandlerResult]
WriteFunc = Callable[["ResmgrContext", IoWrite, "IofuncOcb"], HandlerResult]
StatFunc = Callable[["ResmgrContext", IoStat, "IofuncOcb"], HandlerResult]
LseekFunc = Callable[["ResmgrContext", IoLseek, "IofuncOcb"], HandlerResult]
DevctlFunc = Callable[["ResmgrContext", IoDevctl, "IofuncOcb"], HandlerResult]
MsgFunc = Callable[["ResmgrContext", IoMsg, "IofuncOcb"], HandlerResult]
SyncFunc = Callable[["ResmgrContext", IoSync, "IofuncOcb"], HandlerResult]
ChmodFunc = Callable[["ResmgrContext", IoChmod, "IofuncOcb"], HandlerResult]
ChownFunc = Callable[["ResmgrContext", IoChown, "IofuncOcb"], HandlerResult]
UtimeFunc = Callable[["ResmgrContext", IoUtime, "IofuncOcb"], HandlerResult]
SpaceFunc = Callable[["ResmgrContext", IoSpace, "IofuncOcb"], HandlerResult]
CloseFunc = Callable[["ResmgrContext", "IofuncOcb"], HandlerResult]
PulseFunc = Callable[["ResmgrContext", Pulse], None]


@dataclass
class ResmgrConnectFuncs:
    """``resmgr_connect_funcs_t``: one slot per connect subtype (empty: ENOSYS)."""

    open: OpenFunc | None = None
    unlink: OpenFunc | None = None
    rename: OpenFunc | None = None
    mknod: OpenFunc | None = None
    readlink: OpenFunc | None = None
    link: OpenFunc | None = None


@dataclass
class ResmgrIoFuncs:
    """``resmgr_io_funcs_t``: one typed slot per I/O message kind."""

    read: ReadFunc | None = None
    write: WriteFunc | None = None
    close_ocb: CloseFunc | None = None
    stat: StatFunc | None = None
    devctl: DevctlFunc | None = None
    lseek: LseekFunc | None = None
    msg: MsgFunc | None = None
    sync: SyncFunc | None = None
    chmod: ChmodFunc | None = None
    chown: ChownFunc | None = None
    utime: UtimeFunc | None = None
    space: SpaceFunc | None = None


_CONNECT_SLOTS = {
    int(ConnectSubtype.OPEN): "open",
    int(ConnectSubtype.COMBINE): "open",
    int(ConnectSubtype.UNLINK): "unlink",
    int(ConnectSubtype.RENAME): "rename",
    int(ConnectSubtype.MKNOD): "mknod",
    int(ConnectSubtype.READLINK): "readlink",
    int(ConnectSubtype.LINK): "link",
}
_IO_SLOTS: dict[type, str] = {
    IoRead: "read",
    IoWrite: "write",
    IoStat: "stat",
    IoLseek: "lseek",
    IoDevctl: "devctl",
    IoMsg: "msg",
    IoSync: "sync",
    IoChmod: "chmod",
    IoChown: "chown",
    IoUtime: "utime",
    IoSpace: "space",
}
"""The ``resmgr_io_funcs_t`` slot of each I/O message kind."""


@dataclass
class Attachment:
    """One ``resmgr_attach`` of a path."""

    path: str
    handle: IofuncAttr
    connect: ResmgrConnectFuncs
    io: ResmgrIoFuncs
    kernel_link: int


@dataclass
class Binding:
    """An open connection: its OCB and the I/O table it was opened with."""

    ocb: IofuncOcb
    io: ResmgrIoFuncs


@dataclass(eq=False)
class Dispatch:
    """``dispatch_t``: the channel (created lazily) and the tables of a resource manager."""

    chid: int = -1
    attachments: dict[int, Attachment] = field(default_factory=dict)
    bindings: dict[tuple[int, int], Binding] = field(default_factory=dict)
    pulses: dict[int, PulseFunc] = field(default_factory=dict)
    next_id: int = 1

    def ensure_channel(self) -> int:
        """``dispatch.c``: the channel is created on first use with UNBLOCK|DISCONNECT."""
        if self.chid == -1:
            self.chid = ipc.ChannelCreate(ChannelFlag.UNBLOCK | ChannelFlag.DISCONNECT)
        return self.chid


@dataclass(eq=False)
class ResmgrContext:
    """``resmgr_context_t``: the message being handled and how to answer it."""

    dpp: Dispatch
    rcvid: int = 0
    msg: bytes = b""
    info: MsgInfo | None = None
    status: int = 0
    id: int = 0
    iov: list[bytes | memoryview] = field(default_factory=list)
    """``_RESMGR_NPARTS(n)`` replies with the first n parts; a part may be a view of the
    server's own buffer: the kernel copies it once, into the client's reply."""
    io_funcs: ResmgrIoFuncs | None = None

    def bind_ocb(self, ocb: IofuncOcb) -> None:
        """Bind `ocb` to the sender's connection (what ``iofunc_ocb_attach`` does)."""
        if self.info is None or self.io_funcs is None:
            raise oserror(EINVAL, "no connect message to bind an OCB to")
        self.dpp.bindings[(self.info.scoid, self.info.coid)] = Binding(ocb, self.io_funcs)


def resmgr_ptr(ctp: ResmgrContext, data: bytes | memoryview) -> int:
    """``_RESMGR_PTR``: reply with `data` (returns ``_RESMGR_NPARTS(1)``)."""
    ctp.iov = [data]
    return -1


def resmgr_msgread(ctp: ResmgrContext, nbytes: int, offset: int) -> bytes:
    """More of the client's message than the receive buffer held."""
    return ipc.MsgRead(ctp.rcvid, nbytes, offset)


@dataclass(eq=False, slots=True)
class WritePayload:
    """A write's data where they are: the first bytes in the receive buffer, all of them
    in the client's message (at `start`, after the header and xtype offset).  Nothing
    is copied until :meth:`readinto` copies a range once, to where it goes (e.g. a
    driver's DMA buffer: client -> DMA buffer in one copy, by MsgReadInto)."""

    ctp: ResmgrContext
    held: bytes
    """What the receive buffer held of the data (their first bytes, perhaps all)."""
    start: int
    """The data's offset in the client's message."""
    nbytes: int

    def __len__(self) -> int:
        return self.nbytes

    def head(self, nbytes: int) -> WritePayload:
        """The first `nbytes` of the data (all of them if there are fewer)."""
        return WritePayload(self.ctp, self.held, self.start, max(0, min(nbytes, self.nbytes)))

    def readinto(self, dest: memoryview, offset: int) -> None:
        """Copy bytes [offset, offset + len(dest)) of the data into `dest`: from the
        receive buffer where it holds them all, else by one MsgReadInto of the client's
        message (ESRCH if the client is gone)."""
        size = len(dest)
        if offset < 0 or offset + size > self.nbytes:
            raise ValueError(f"bytes {offset}..{offset + size} of a {self.nbytes}-byte write")
        if offset + size <= len(self.held):
            dest[:] = memoryview(self.held)[offset : offset + size]
            return
        got = ipc.MsgReadInto(self.ctp.rcvid, dest, size, self.start + offset)
        if got != size:  # decode() checked that the message holds all the data
            raise oserror(EFAULT, f"MsgReadInto copied {got} bytes, expected {size}")


def resmgr_write_source(ctp: ResmgrContext, msg: IoWrite) -> WritePayload:
    """A write's data, not yet copied (:class:`WritePayload`).  EINVAL for a negative
    count."""
    nbytes = IO_WRITE.unpack_from(ctp.msg)[2]
    if nbytes < 0:
        raise oserror(EINVAL)
    have = msg.data
    start = len(ctp.msg) - len(have)  # the data follow the header (and xtype offset)
    return WritePayload(ctp, have, start, nbytes)


def resmgr_write_payload(ctp: ResmgrContext, msg: IoWrite) -> bytes:
    """The whole of a write's data as bytes: what the receive buffer held, or, for a
    write larger than the buffer, all of it by one MsgRead (one copy of the payload,
    where reading only the rest would need another to join it to the part received).
    EINVAL for a negative count."""
    payload = resmgr_write_source(ctp, msg)
    if len(payload.held) >= payload.nbytes:
        return payload.held
    return resmgr_msgread(ctp, payload.nbytes, payload.start)


def resmgr_attach(  # noqa: PLR0917 - QNX's signature
    dpp: Dispatch,
    attr: object | None,
    path: str | None,
    file_type: int,
    flags: int,
    connect_funcs: ResmgrConnectFuncs | None,
    io_funcs: ResmgrIoFuncs | None,
    handle: IofuncAttr | None,
) -> int:
    """Attach a path (a link id ≥ 1), or with ``path=None`` only set up the internals (0)."""
    del attr
    chid = dpp.ensure_channel()
    if path is None:
        return 0
    if connect_funcs is None or io_funcs is None or handle is None:
        raise oserror(EINVAL, path)
    t = cur()
    rid = dpp.next_id
    link = K(t).path_link(t, path, chid, rid, file_type, flags & _RESMGR_FLAG_MASK)
    dpp.next_id += 1
    dpp.attachments[rid] = Attachment(path, handle, connect_funcs, io_funcs, link)
    return rid


def resmgr_detach(dpp: Dispatch, id: int, flags: int = 0) -> None:
    """Remove the name; open OCBs stay usable.  Unknown or detached id → EINVAL."""
    del flags
    att = dpp.attachments.pop(id, None)
    if att is None:
        raise oserror(EINVAL)
    t = cur()
    K(t).path_unlink(t, att.kernel_link)


def handle_message(ctp: ResmgrContext) -> None:
    """Run the handler for the message in `ctp` and answer as its result says."""
    try:
        result = _route(ctp)
    except OSError as exc:
        result = exc.errno or EINVAL
    reply(ctp, result)


def reply(ctp: ResmgrContext, result: HandlerResult) -> None:
    """Turn a handler result into MsgReply / MsgError / nothing."""
    try:
        if isinstance(result, bytes):
            ipc.MsgReply(ctp.rcvid, ctp.status, result)
        elif result == RESMGR_NOREPLY:
            return
        elif result == RESMGR_DEFAULT:
            ipc.MsgError(ctp.rcvid, ENOSYS)
        elif result > 0:
            ipc.MsgError(ctp.rcvid, result)
        else:
            ipc.MsgReplyv(ctp.rcvid, ctp.status, ctp.iov[:-result])
    except OSError as exc:
        if exc.errno != ESRCH:  # the client is gone: nothing to answer
            raise


def _route(ctp: ResmgrContext) -> HandlerResult:
    """Decode (a malformed message raises MessageError before any handler runs), then call."""
    if ctp.info is None:
        return EINVAL
    msg = decode(ctp.msg, ctp.info.srcmsglen)
    if isinstance(msg, IoOpen):
        return _connect(ctp, msg)
    key = (ctp.info.scoid, ctp.info.coid)
    binding = ctp.dpp.bindings.get(key)
    if binding is None:
        return EBADF
    ocb, io = binding.ocb, binding.io
    if isinstance(msg, IoClose):
        del ctp.dpp.bindings[key]
        return io.close_ocb(ctp, ocb) if io.close_ocb is not None else EOK
    slot = _IO_SLOTS.get(type(msg))
    handler = getattr(io, slot) if slot is not None else None
    if handler is None:
        return ENOSYS
    result: HandlerResult = handler(ctp, msg, ocb)
    return result


def _connect(ctp: ResmgrContext, msg: IoOpen) -> HandlerResult:
    att = ctp.dpp.attachments.get(msg.handle)
    if att is None:
        return ENOENT
    slot = _CONNECT_SLOTS.get(msg.subtype)
    handler: OpenFunc | None = getattr(att.connect, slot) if slot is not None else None
    if handler is None:
        return ENOSYS
    ctp.id, ctp.io_funcs = msg.handle, att.io
    return handler(ctp, msg, att.handle)


def handle_pulse(ctp: ResmgrContext, pulse: Pulse) -> None:
    """A disconnect closes every OCB the client still held; then the user's handler."""
    if pulse.code == PulseCode.DISCONNECT:
        for key in [k for k in ctp.dpp.bindings if k[0] == pulse.scoid]:
            binding = ctp.dpp.bindings.pop(key)
            if binding.io.close_ocb is not None:
                binding.io.close_ocb(ctp, binding.ocb)
    fn = ctp.dpp.pulses.get(pulse.code)
    if fn is not None:
        fn(ctp, pulse)

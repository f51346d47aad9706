"""Raw I/O messages for the malformed-message tests (issue 10): build, send, classify.

The layouts are written out here from ``sys/iomsg.h`` (not taken from
qrv.spec), so a test's message does not trust the code under test.  Every
property test sends arbitrary bytes as each message type and checks that
the reply is an errno or a reply of the right shape, and that the server
still answers afterwards.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from qrv.lib.c import ipc

T = 10.0
"""Seconds a server may take to answer one message (a hung server fails, not blocks)."""

CONNECT, READ, WRITE, STAT, DEVCTL, LSEEK, MSG, CLOSE, SYNC = (
    0x100,
    0x101,
    0x102,
    0x104,
    0x106,
    0x109,
    0x113,
    0x116,
    0x119,
)
CHMOD, CHOWN, UTIME, SPACE = 0x10A, 0x10B, 0x10C, 0x110
HEADERS = {
    CONNECT: "<HHIHHIIIIHHHHBBH",  # struct _io_connect (40 bytes), the path follows
    READ: "<HHiII",  # type, combine_len, nbytes, xtype, zero (+ i64 offset)
    WRITE: "<HHiII",
    STAT: "<HHI",
    DEVCTL: "<HHiii",  # type, combine_len, dcmd, nbytes, zero; data follow
    LSEEK: "<HHhHq",  # type, combine_len, whence, zero, offset
    MSG: "<HHHH",  # type, combine_len, mgrid, subtype; payload follows
    CLOSE: "<HH",
    SYNC: "<HHI",  # type, combine_len, flag
    CHMOD: "<HHI",  # type, combine_len, mode
    CHOWN: "<HHii",  # type, combine_len, uid, gid
    UTIME: "<HHiqq",  # type, combine_len, cur_flag, actime, modtime
    SPACE: "<HHHhqq",  # type, combine_len, subtype, whence, start, len
}
XTYPE_OFFSET = 3
IOFLAG_READ = 1  # O_RDONLY + 1

MALFORMED = frozenset({errno.EBADMSG, errno.EINVAL, errno.EOVERFLOW})
"""What the resmgr framework answers a malformed message with."""
REFUSED = MALFORMED | {
    errno.ENOSYS,
    errno.EBADF,
    errno.ENOENT,
    errno.EISDIR,
    errno.EROFS,
    errno.EACCES,
    errno.EEXIST,
    errno.ENAMETOOLONG,
    errno.ENOTDIR,
    errno.ENOSPC,  # a write at or past the end of a block device
    errno.EPERM,
}
"""Every errno a server may answer an arbitrary message with."""

FEW = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MANY = settings(FEW, max_examples=3000)
slow = pytest.mark.slow


@dataclass(frozen=True)
class Reply:
    err: int
    status: int = 0
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.err == 0


def send(coid: int, raw: bytes, rbytes: int = 65536) -> Reply:
    """Send `raw` and classify the answer; a server that does not answer fails the test."""
    try:
        status, data = ipc.MsgSend(coid, raw, rbytes, timeout=T)
    except OSError as exc:
        if exc.errno == errno.ETIMEDOUT:
            raise AssertionError(f"no answer to {raw[:48].hex()}: the server hangs") from None
        return Reply(exc.errno or -1)
    return Reply(0, status, data)


def header(mtype: int, *fields: int) -> bytes:
    return struct.pack(HEADERS[mtype], mtype, *fields)


def connect(  # noqa: PLR0917 - the fields a test varies
    path: bytes,
    ioflag: int = IOFLAG_READ,
    handle: int = 0,
    path_len: int = -1,
    subtype: int = 2,
    extra: tuple[int, bytes] | None = None,
) -> bytes:
    """An ``_IO_CONNECT`` of `path` (path_len defaults to len(path) + 1 for the NUL),
    an open unless `subtype` says otherwise; `extra` (type, bytes) follows the path."""
    n = len(path) + 1 if path_len < 0 else path_len
    etype, eraw = extra if extra is not None else (0, b"")
    fields = (subtype, 0, 0, 0, 0, handle, ioflag, 0, 0, 0, 0, n, 0, etype, len(eraw))
    return header(CONNECT, *fields) + path + b"\0" + eraw


def read(nbytes: int, offset: int | None = None, xtype: int | None = None) -> bytes:
    if offset is None:
        return header(READ, 16, nbytes, 0 if xtype is None else xtype, 0)
    x = XTYPE_OFFSET if xtype is None else xtype
    return header(READ, 24, nbytes, x, 0) + struct.pack("<q", offset)


def lseek(offset: int, whence: int) -> bytes:
    return header(LSEEK, 16, whence, 0, offset)


# -- strategies -------------------------------------------------------------------------------


def _ints(bits: int, signed: bool) -> st.SearchStrategy[int]:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    edges = sorted({lo, hi, 0, 1, -1 if signed else 2, hi - 511, lo + 1, 512, 4096})
    return st.sampled_from([e for e in edges if lo <= e <= hi]) | st.integers(lo, hi)


_FIELD = {"H": (16, False), "h": (16, True), "I": (32, False), "i": (32, True), "q": (64, True)}
_FIELD.update({"B": (8, False)})


@st.composite
def _structured(draw: st.DrawFn, mtype: int) -> bytes:
    """A header with every field drawn from its full range (edges likely), then a tail."""
    fmt = HEADERS[mtype]
    values = [draw(_ints(*_FIELD[c])) for c in fmt[2:]]  # the type field is fixed
    if mtype in (READ, WRITE) and draw(st.booleans()):
        values[2] = XTYPE_OFFSET
    raw = struct.pack(fmt, mtype, *values)
    if mtype in (READ, WRITE) and values[2] & 0xFF == XTYPE_OFFSET:
        raw += struct.pack("<q", draw(_ints(64, True)))
    raw += draw(st.binary(max_size=48))
    return raw[: draw(st.integers(0, len(raw)))] if draw(st.booleans()) else raw


def message_of(mtype: int) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes as a message of type `mtype`: random tails and random header fields."""
    prefix = struct.pack("<H", mtype)
    return st.one_of(st.binary(max_size=80).map(lambda b: prefix + b), _structured(mtype))


TYPES = (CONNECT, READ, WRITE, STAT, DEVCTL, LSEEK, MSG, CLOSE, SYNC, CHMOD, CHOWN, UTIME, SPACE)
any_message = st.one_of(
    *(message_of(t) for t in TYPES),
    st.binary(max_size=64),  # any type at all, short ones included
)


def check_shape(raw: bytes, reply: Reply) -> None:
    """An errno a server may give, or a reply of the shape the message type asks for."""
    if not reply.ok:
        assert reply.err in REFUSED, (raw.hex(), errno.errorcode.get(reply.err, reply.err))
        return
    assert len(raw) >= 2, "a message shorter than its type was answered"
    (mtype,) = struct.unpack_from("<H", raw)
    size = struct.calcsize(HEADERS.get(mtype, "<H"))
    if mtype in (READ, WRITE) and len(raw) >= size and raw[8] == XTYPE_OFFSET:
        size += 8
    assert len(raw) >= size, f"a short {mtype:#x} message ({len(raw)} bytes) was answered"
    if mtype == READ:
        nbytes = struct.unpack_from("<i", raw, 4)[0]
        assert 0 <= len(reply.data) <= nbytes
    elif mtype == LSEEK:
        assert len(reply.data) == 8 and struct.unpack("<q", reply.data)[0] >= 0
    elif mtype == STAT:
        assert len(reply.data) == 80
    elif mtype == DEVCTL:
        assert len(reply.data) >= 16
    elif mtype == SPACE:
        assert len(reply.data) == 8 and struct.unpack("<q", reply.data)[0] >= 0

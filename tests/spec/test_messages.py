"""Message decoding and reply packing: every failure is a MessageError with its errno (issue 10).

The messages are built here with the field layouts of ``sys/iomsg.h``
(tests.lib.c.rawmsg), not with the packers under test.
"""

from __future__ import annotations

import dataclasses
import errno
import struct

import pytest
from hypothesis import given

from qrv.spec.iomsg import (
    LSEEK_REPLY,
    STAT,
    STATVFS,
    ConnectExtra,
    ConnectSubtype,
    MessageError,
    Stat,
    StatVfs,
)
from qrv.spec.messages import (
    IoChmod,
    IoChown,
    IoClose,
    IoDevctl,
    IoLseek,
    IoMsg,
    IoOpen,
    IoOther,
    IoRead,
    IoSpace,
    IoStat,
    IoSync,
    IoUtime,
    IoWrite,
    decode,
    encode_path,
)
from tests.lib.c import rawmsg as rm
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow


def errno_of(raw: bytes, srcmsglen: int | None = None) -> int:
    with pytest.raises(MessageError) as ei:
        decode(raw, srcmsglen)
    return ei.value.errno


def test_well_formed_messages_decode_to_their_kind() -> None:
    assert decode(rm.connect(b"/dev/x", handle=3)) == IoOpen("/dev/x", 1, 0, 3, 0, 2, 0)
    assert decode(rm.read(100)) == IoRead(100, None, 0)
    assert decode(rm.read(100, 4096)) == IoRead(100, 4096, rm.XTYPE_OFFSET)
    assert decode(rm.header(rm.WRITE, 16, 3, 0, 0) + b"abc") == IoWrite(b"abc")
    assert decode(rm.header(rm.STAT, 8, 0)) == IoStat()
    assert decode(rm.lseek(-5, 1)) == IoLseek(-5, 1)
    assert decode(rm.header(rm.DEVCTL, 16, -1, 4, 0) + b"abcd") == IoDevctl(0xFFFFFFFF, 4, b"abcd")
    assert decode(rm.header(rm.MSG, 8, 13, 7) + b"x") == IoMsg(13, 7, b"x")
    assert decode(rm.header(rm.CLOSE, 4)) == IoClose()
    assert decode(rm.header(rm.SYNC, 8, 0x20)) == IoSync(0x20)
    assert decode(b"\x00\x02" + bytes(14)) == IoOther(0x200)
    assert decode(rm.header(rm.CHMOD, 8, 0o640)) == IoChmod(0o640)
    assert decode(rm.header(rm.CHOWN, 12, -1, 100)) == IoChown(-1, 100)
    assert decode(rm.header(rm.UTIME, 24, 0, 10, 20)) == IoUtime(10, 20)
    assert decode(rm.header(rm.UTIME, 24, 1, -5, -5)) == IoUtime(-5, -5, now=True)
    assert decode(rm.header(rm.SPACE, 24, 111, 2, -3, 0)) == IoSpace(111, -3, 0, 2)


def test_new_messages_pack_as_iomsg_h_lays_them_out() -> None:
    assert IoChmod(0o755).pack() == rm.header(rm.CHMOD, 8, 0o755)
    assert IoChown(5, -1).pack() == rm.header(rm.CHOWN, 12, 5, -1)
    assert IoUtime(now=True).pack() == rm.header(rm.UTIME, 24, 1, 0, 0)
    assert IoSpace(111, 4096).pack() == rm.header(rm.SPACE, 24, 111, 0, 4096, 0)
    ren = IoOpen("new", 0, subtype=4, extra_type=7, extra="old/a")
    assert ren.pack() == rm.connect(b"new", 0, subtype=4, extra=(7, b"old/a\0"))
    assert decode(ren.pack()) == ren
    st = StatVfs(4096, 4096, 100, 50, 50, 63, 10, 10, 0, "qrv", 1, 251)
    assert StatVfs.unpack(st.pack()) == st and len(st.pack()) == STATVFS.size


def test_connect_extras_are_checked_as_paths() -> None:
    link = ConnectSubtype.LINK
    sym = rm.connect(b"ln", subtype=link, extra=(ConnectExtra.SYMLINK, b"tgt\0"))
    assert decode(sym) == IoOpen("ln", 1, subtype=link, extra_type=2, extra="tgt")
    cut = rm.connect(b"ln", subtype=link, extra=(ConnectExtra.LINK, b"abc\0"))[:-2]
    assert errno_of(cut) == errno.EBADMSG
    bad = rm.connect(b"ln", subtype=link, extra=(ConnectExtra.RENAME, b"\xff\0"))
    assert errno_of(bad) == errno.EINVAL
    long = rm.connect(b"ln", subtype=link, extra=(ConnectExtra.RENAME, b"x" * 1025))
    assert errno_of(long) == errno.ENAMETOOLONG
    other = rm.connect(b"m", subtype=9, extra=(ConnectExtra.MOUNT, b"\xff"))
    assert decode(other).extra == ""  # not a path extra: not read
    assert errno_of(rm.header(rm.CHOWN, 12, -2, 0)) == errno.EINVAL
    assert errno_of(rm.header(rm.UTIME, 24, 0, -1, 0)) == errno.EINVAL
    assert errno_of(rm.header(rm.SPACE, 24, 111, 0, 0, -1)) == errno.EINVAL


@pytest.mark.parametrize("mtype", rm.TYPES)
def test_every_header_cut_short_is_ebadmsg(mtype: int) -> None:
    full = rm.header(mtype, *([0] * (len(rm.HEADERS[mtype]) - 2)))
    for cut in range(len(full)):
        assert errno_of(full[:cut]) == errno.EBADMSG


def test_offset_and_data_cut_short_are_ebadmsg() -> None:
    assert errno_of(rm.read(1, 0)[:-1]) == errno.EBADMSG
    write = rm.header(rm.WRITE, 16, 10, 0, 0) + b"abc"
    assert errno_of(write) == errno.EBADMSG
    # the receive buffer held 3 of the 10 bytes the client did send: not malformed
    assert decode(write, len(write) + 7) == IoWrite(b"abc")


def test_negative_counts_and_offsets_are_einval() -> None:
    assert errno_of(rm.read(-1)) == errno.EINVAL
    assert errno_of(rm.read(1, -1)) == errno.EINVAL
    assert errno_of(rm.header(rm.WRITE, 16, -1, 0, 0)) == errno.EINVAL
    offset_write = rm.header(rm.WRITE, 24, 0, rm.XTYPE_OFFSET, 0) + struct.pack("<q", -512)
    assert errno_of(offset_write) == errno.EINVAL
    assert errno_of(rm.header(rm.DEVCTL, 16, 0, -1, 0)) == errno.EINVAL


def test_connect_paths() -> None:
    assert errno_of(rm.connect(b"/d\xc3")) == errno.EINVAL  # a cut UTF-8 sequence
    assert errno_of(rm.connect(b"/dev", path_len=6)) == errno.EBADMSG
    assert errno_of(rm.connect(b"x" * 1024)) == errno.ENAMETOOLONG  # 1025 with the NUL
    assert decode(rm.connect(b"x" * 1023)) == IoOpen("x" * 1023, 1, subtype=2)
    assert decode(rm.connect(b"/a\0b")) == IoOpen("/a", 1, subtype=2)  # the path ends at NUL


def test_packing_refuses_what_decoding_would() -> None:
    for path, err in (
        ("a\0b", errno.EINVAL),
        ("\udcff", errno.EINVAL),
        ("x" * 1024, errno.ENAMETOOLONG),
    ):
        with pytest.raises(MessageError) as ei:
            encode_path(path)
        assert ei.value.errno == err
    with pytest.raises(MessageError) as ei:
        IoRead(1 << 31).pack()
    assert ei.value.errno == errno.EOVERFLOW
    with pytest.raises(MessageError) as ei:
        IoDevctl(1 << 32, 0).pack()
    assert ei.value.errno == errno.EINVAL


def test_reply_values_beyond_their_field_are_eoverflow() -> None:
    with pytest.raises(MessageError) as ei:
        LSEEK_REPLY.pack(1 << 63)
    assert ei.value.errno == errno.EOVERFLOW
    with pytest.raises(MessageError) as ei:
        Stat(0, 1 << 63, 0, 0, 0, 0, 0, 0, 0, 0, 1, 512, 0).pack()
    assert ei.value.errno == errno.EOVERFLOW
    with pytest.raises(MessageError) as ei:
        STAT.unpack(bytes(79))
    assert ei.value.errno == errno.EBADMSG


def _decodes_or_refuses(raw: bytes) -> None:
    try:
        decode(raw)
    except MessageError as exc:
        assert exc.errno in (errno.EBADMSG, errno.EINVAL, errno.ENAMETOOLONG)


@FEW
@given(raw=any_message)
def test_any_bytes_decode_or_raise_message_error(raw: bytes) -> None:
    _decodes_or_refuses(raw)


@slow
@MANY
@given(raw=any_message)
def test_any_bytes_decode_or_raise_message_error_many(raw: bytes) -> None:
    _decodes_or_refuses(raw)


def test_a_connect_to_a_server_changes_only_its_four_fields() -> None:
    """IoOpen.to_server is dataclasses.replace of path, handle, file_type and extra: every
    other field (any added later too) is carried over."""
    values = iter(range(1, 100))
    kwargs = {
        f.name: f"p{next(values)}" if f.type == "str" else next(values)
        for f in dataclasses.fields(IoOpen)
    }
    msg = IoOpen(**kwargs)  # type: ignore[arg-type]
    sent = msg.to_server("rest/of/path", 7, 8, "other")
    assert sent == dataclasses.replace(
        msg, path="rest/of/path", handle=7, file_type=8, extra="other"
    )

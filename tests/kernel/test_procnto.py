"""procnto's path-manager server: a malformed message gets an errno, the server lives on.

Issue 10: a message shorter than its header, a non-UTF-8 path or a short
read/lseek/devctl killed the thread, and every later open of ``/`` or
``/dev`` blocked forever.  Each case checks the errno and then that a
second request is answered; the fuzzing covers every node procnto serves.
"""

from __future__ import annotations

import errno

from hypothesis import given
from hypothesis import strategies as st

from qrv.kernel import Kernel
from qrv.lib.c import close, ipc, listdir, open, read
from qrv.spec.iomsg import O_RDONLY, O_RDWR
from tests.lib.c import rawmsg as rm
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow


def procnto_coid(k: Kernel) -> int:
    """A connection to procnto's channel, as ``open("/dev")`` would make."""
    entry = k.paths.resolve("/dev")[-1]
    return ipc.ConnectAttach(0, entry.pid, entry.chid)


def opened_dev(k: Kernel) -> int:
    """A connection on which procnto opened /dev (its OCB bound)."""
    coid = procnto_coid(k)
    assert rm.send(coid, rm.connect(b"/dev")).ok
    return coid


def assert_alive(k: Kernel) -> None:
    coid = procnto_coid(k)
    try:
        assert rm.send(coid, rm.connect(b"/")).ok, "procnto no longer opens /"
    finally:
        ipc.ConnectDetach(coid)
    assert "dev" in listdir("/")


def test_message_shorter_than_its_header(sysk) -> None:
    k, _ = sysk
    with k.adopt("client"):
        coid = procnto_coid(k)
        assert rm.send(coid, b"\x00\x01").err == errno.EBADMSG  # a 2-byte _IO_CONNECT
        assert rm.send(coid, b"\x01").err == errno.EBADMSG  # not even a type
        assert_alive(k)


def test_connect_path_not_utf8(sysk) -> None:
    k, _ = sysk
    with k.adopt("client"):
        coid = procnto_coid(k)
        assert rm.send(coid, rm.connect(b"/d\xffv")).err == errno.EINVAL
        assert_alive(k)


def test_connect_path_beyond_the_message(sysk) -> None:
    k, _ = sysk
    with k.adopt("client"):
        coid = procnto_coid(k)
        assert rm.send(coid, rm.connect(b"/dev", path_len=500)).err == errno.EBADMSG
        assert_alive(k)


def test_short_read_lseek_devctl(sysk) -> None:
    k, _ = sysk
    with k.adopt("client"):
        coid = opened_dev(k)
        for mtype in (rm.READ, rm.LSEEK, rm.DEVCTL, rm.STAT, rm.CLOSE):
            raw = rm.header(mtype, *([0] * (len(rm.HEADERS[mtype]) - 2)))
            assert rm.send(coid, raw[:3]).err == errno.EBADMSG, hex(mtype)
        assert rm.send(coid, rm.read(-1)).err == errno.EINVAL
        assert rm.send(coid, rm.lseek(1, 0)).ok  # the open survived all that
        assert_alive(k)


NODES = ("/", "/dev", "/dev/null", "/dev/zero")
"""procnto's own nodes: the synthesised directories and its devices."""


def _fuzz(k: Kernel, node: str, raw: bytes) -> None:
    fd = open(node, O_RDWR if node.startswith("/dev/") else O_RDONLY)
    try:
        rm.check_shape(raw, rm.send(fd, raw))
        assert rm.send(fd, rm.read(4096, 0)).err in (0, errno.EBADF)  # EBADF: it was a close
    finally:
        close(fd)
    assert_alive(k)
    assert read_zero(16) == bytes(16)


def read_zero(n: int) -> bytes:
    fd = open("/dev/zero")
    try:
        return read(fd, n)
    finally:
        close(fd)


@FEW
@given(node=st.sampled_from(NODES), raw=any_message)
def test_arbitrary_messages(sysk, node: str, raw: bytes) -> None:
    k, _ = sysk
    with k.adopt("fuzz"):
        _fuzz(k, node, raw)


@slow
@MANY
@given(node=st.sampled_from(NODES), raw=any_message)
def test_arbitrary_messages_many(sysk, node: str, raw: bytes) -> None:
    k, _ = sysk
    with k.adopt("fuzz"):
        _fuzz(k, node, raw)

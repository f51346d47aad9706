"""pci-server against malformed and hostile messages (issue 10).

Every message gets an errno or a well-formed reply, and pci-server keeps
serving: after each, a find through libpci still answers.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qrv.kernel import Kernel
from qrv.lib import pci
from qrv.lib.c import close, lseek, open
from qrv.spec.iomsg import O_RDWR, SEEK_CUR, SEEK_SET
from qrv.spec.pci_msg import PciErr
from tests.lib.c import rawmsg as rm
from tests.lib.c.rawmsg import FEW, MANY, any_message, slow
from tests.servers.pci.pcibus import populated_board, running

IOMGR_PCI = 0x0D
PCI_ERRS = {int(e) for e in PciErr}  # pci/pci.h's pci_err_t values


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Kernel, int]]:
    board, _ = populated_board()
    with running(board) as (kernel, pid, _out):
        yield kernel, pid


def assert_alive(k: Kernel, pid: int) -> None:
    with pytest.raises(TimeoutError):
        k.waitpid(pid, timeout=0)
    assert pci.pci_device_find(0, pci.PCI_VID_ANY, pci.PCI_DID_ANY, pci.PCI_CCODE_ANY) == 0


def errno_of(call) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(OSError) as ei:
        call()
    return ei.value.errno


def test_lseek_past_2_63_is_eoverflow(server) -> None:
    k, pid = server
    with k.adopt("client"):
        fd = open("/dev/pci", O_RDWR)
        try:
            assert lseek(fd, 2**63 - 1, SEEK_SET) == 2**63 - 1
            assert errno_of(lambda: lseek(fd, 1, SEEK_CUR)) == errno.EOVERFLOW
            assert lseek(fd, 0, SEEK_CUR) == 2**63 - 1
        finally:
            close(fd)
        assert_alive(k, pid)


def io_msg(subtype: int, payload: bytes) -> bytes:
    return rm.header(rm.MSG, 8, IOMGR_PCI, subtype) + payload


SUBTYPES = st.integers(0, 0xFFFF) | st.integers(0, 0x20) | st.integers(0x40, 0x46)
pci_requests = st.builds(io_msg, SUBTYPES, st.binary(max_size=40))


def _fuzz(k: Kernel, pid: int, raw: bytes) -> None:
    fd = open("/dev/pci", O_RDWR)
    try:
        reply = rm.send(fd, raw)
        rm.check_shape(raw, reply)
        if reply.ok and raw[:2] == b"\x13\x01" and len(raw) >= 8 and raw[4:6] == b"\x0d\x00":
            err, length = struct.unpack_from("<iI", reply.data)  # every IOM_PCI reply's header
            assert length == len(reply.data) - 8 and err in PCI_ERRS
    finally:
        close(fd)
    assert_alive(k, pid)


@FEW
@given(raw=any_message | pci_requests)
def test_arbitrary_messages(server, raw: bytes) -> None:
    k, pid = server
    with k.adopt("fuzz"):
        _fuzz(k, pid, raw)


@slow
@MANY
@given(raw=any_message | pci_requests)
def test_arbitrary_messages_many(server, raw: bytes) -> None:
    k, pid = server
    with k.adopt("fuzz"):
        _fuzz(k, pid, raw)


def test_device_owners_validates_its_request(server) -> None:
    """DEVICE_OWNERS (lspci -k): a short request EINVAL, an unknown bdf ENODEV, else the
    owner pids in attach order (a shared attach is not an owner)."""
    k, pid = server
    with k.adopt("lister"):
        fd = open("/dev/pci", O_RDWR)
        try:
            for payload, want in ((b"", PciErr.EINVAL), (b"\x01\x02", PciErr.EINVAL)):
                reply = rm.send(fd, io_msg(0x43, payload))
                assert struct.unpack_from("<iI", reply.data) == (want, 0)
            reply = rm.send(fd, io_msg(0x43, struct.pack("<I", 0xFFFF)))
            assert struct.unpack_from("<i", reply.data)[0] == PciErr.ENODEV
        finally:
            close(fd)
        bdf = pci.PCI_BDF(0, 1, 0)
        assert pci.pci_device_owners(bdf) == (PciErr.OK, [])
        shared, _ = pci.pci_device_attach(bdf, pci.pci_attachFlags_e_SHARED)
        owner, err = pci.pci_device_attach(bdf, pci.pci_attachFlags_OWNER)
        assert shared is not None and owner is not None, err
        err, pids = pci.pci_device_owners(bdf)
        assert err is PciErr.OK and len(pids) == 1 and pids[0] != pid and pids[0] > 0
        pci.pci_device_detach(owner)
        pci.pci_device_detach(shared)
        assert pci.pci_device_owners(bdf) == (PciErr.OK, [])
        assert_alive(k, pid)

"""libpci: QNX packing macros, pci_strerror, message cost of pci_device_find, server loss."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from qrv.hw.board import VirtBoard
from qrv.hw.pcidev import PciIdentity
from qrv.lib import pci
from qrv.lib.pci import transport
from tests.servers.pci.pcibus import Probe, nvme_like, running

B = pci.PCI_BDF
ANY_ARGS = (pci.PCI_VID_ANY, pci.PCI_DID_ANY, pci.PCI_CCODE_ANY)


def test_bdf_and_ccode_packing() -> None:
    # pci/pci.h: xxxx xxxx xxxx xxxa bbbb bbbb dddd dfff
    assert B(0, 1, 0) == 0x0008
    assert B(0xAB, 0x1F, 7) == 0xABFF
    assert (pci.PCI_BUS(0xABFF), pci.PCI_DEV(0xABFF), pci.PCI_FUNC(0xABFF)) == (0xAB, 0x1F, 7)
    assert pci.PCI_BDF_NONE == 0xFFFF_FFFF
    assert pci.PCI_CCODE(1, 8, 2) == 0x010802
    assert pci.PCI_CCODE_ANY == 0xFFFFFF
    cc = pci.PCI_CCODE(0x0C, 0x03, 0x30)
    assert (pci.PCI_CCODE_CLASS(cc), pci.PCI_CCODE_SUBCLASS(cc), pci.PCI_CCODE_REG_IF(cc)) == (
        0x0C,
        0x03,
        0x30,
    )


def test_error_values_and_strerror() -> None:
    # pci_err_t: errno values, then sequential from 400 (QNX 8.0 pci/pci.h)
    assert pci.PCI_ERR_ENODEV == errno.ENODEV
    assert pci.PCI_ERR_NOT_OWNER == 402
    assert pci.PCI_ERR_ATTACH_EXCLUSIVE == 404
    assert pci.PCI_ERR_ATTACH_OWNED == 406
    assert pci.PCI_ERR_SERVER_NOT_AVAILABLE == 437
    assert pci.pci_strerror(pci.PCI_ERR_OK) == "OK"
    assert pci.pci_strerror(pci.PCI_ERR_ENODEV) == "No such device"
    assert "exclusive" in pci.pci_strerror(pci.PCI_ERR_ATTACH_EXCLUSIVE)
    assert pci.pci_strerror(9999) == "unknown PCI error 9999"
    assert int(pci.pci_attachFlags_DEFAULT) == 2  # SHARED | OWNER
    assert int(pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE) == 0x0104_0000  # <hw/pci.h>


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Every message libpci sends to the server."""
    log: list[bytes] = []
    real = transport.MsgSend

    def counting(coid: int, smsg: bytes, rbytes: int = 65536, timeout: float | None = None):  # type: ignore[no-untyped-def]
        log.append(smsg)
        return real(coid, smsg, rbytes, timeout)

    monkeypatch.setattr(transport, "MsgSend", counting)
    yield log


def test_find_is_one_message_however_large_the_bus(sends: list[bytes]) -> None:
    board = VirtBoard(ram_size=1 << 20)
    for dev in range(1, 32):
        for fn in range(8):
            ident = PciIdentity(0x1234, 0x1000 + dev, 0x0C0300 + fn)
            board.plug_pci(Probe(ident, multifunction=True), dev=dev, func=fn)
    board.pcie.functions.pop((0, 31, 0))
    board.plug_pci(nvme_like(), dev=31)  # the last slot, after 240 other functions
    with running(board) as (kernel, _pid, _out), kernel.adopt("client"):
        sends.clear()
        nvme = pci.PCI_CCODE(1, 8, 2)
        assert pci.pci_device_find(0, pci.PCI_VID_ANY, pci.PCI_DID_ANY, nvme) == B(0, 31, 0)
        assert len(sends) == 1
        assert pci.pci_device_find(1, pci.PCI_VID_ANY, pci.PCI_DID_ANY, nvme) == pci.PCI_BDF_NONE
        assert len(sends) == 2
        usb = pci.PCI_CCODE(0x0C, 0x03, pci.PCI_CCODE_REG_IF_ANY)
        assert pci.pci_device_find(200, pci.PCI_VID_ANY, pci.PCI_DID_ANY, usb) == B(0, 26, 0)
        assert pci.pci_device_find(5, 0x1234, 0x1003, pci.PCI_CCODE_ANY) == B(0, 3, 5)
        assert len(sends) == 4


def test_server_death_gives_server_not_available() -> None:
    board = VirtBoard(ram_size=1 << 20)
    board.plug_pci(nvme_like(), dev=1)
    with running(board) as (kernel, server, _out):
        with kernel.adopt("client"):
            assert pci.pci_device_read_vid(B(0, 1, 0)) == (pci.PCI_ERR_OK, 0x1B36)
        # end the server the way a crash would: tear its process down
        kernel.exit_process(kernel.process(server), 1, crashed=True)
        with kernel.adopt("client2"):
            assert pci.pci_device_read_vid(B(0, 1, 0)) == (pci.PCI_ERR_SERVER_NOT_AVAILABLE, 0)
            assert pci.pci_device_find(0, 0x1B36, 0x0010, pci.PCI_CCODE_ANY) == pci.PCI_BDF_NONE


def test_pythonic_layer_raises() -> None:
    board = VirtBoard(ram_size=1 << 20)
    board.plug_pci(nvme_like(), dev=1)
    with running(board) as (kernel, _pid, _out), kernel.adopt("drv"):
        (bdf,) = pci.find_all(ccode=pci.PCI_CCODE(1, 8, 2))
        with pci.PciDevice.attach(bdf, pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE) as dev:
            assert dev.bar(0).addr == 0x4000_0000
            assert dev.cfg_rd16(0) == 0x1B36
            with pytest.raises(pci.PciLibError, match="ASPACE_NOT_AVAIL"):
                dev.bar(2)
            with pytest.raises(pci.PciLibError) as info:
                pci.PciDevice.attach(bdf)
            assert info.value.code is pci.PCI_ERR_ATTACH_OWNED


def test_out_of_range_arguments_are_refused_locally(sends: list[bytes]) -> None:
    board = VirtBoard(ram_size=1 << 20)
    with running(board) as (kernel, _pid, _out), kernel.adopt("client"):
        sends.clear()
        assert pci.pci_device_find(-1, *ANY_ARGS) == pci.PCI_BDF_NONE
        assert pci.pci_device_cfg_rd32(1 << 40, 0) == (pci.PCI_ERR_EINVAL, 0)
        assert pci.pci_device_attach(-5, 0) == (None, pci.PCI_ERR_EINVAL)
        assert sends == []

"""libpci's QNX 8 type names (issue 4: "with its names and types").

The kinds follow QNX SDP 8.0 <pci/pci.h>: pci_bdf_t / pci_ccode_t are uint32_t,
pci_vid_t / pci_did_t uint16_t, pci_irq_t int_t, pci_err_t and pci_attachFlags_t
enums, pci_devhdl_t an opaque handle, pci_ba_t a struct.
"""

from __future__ import annotations

import typing

import pytest

from qrv.lib import pci
from qrv.lib.pci import api
from qrv.spec import pci_msg

INTEGER_TYPES = ["pci_bdf_t", "pci_ccode_t", "pci_vid_t", "pci_did_t", "pci_irq_t"]
ALL_TYPES = [*INTEGER_TYPES, "pci_err_t", "pci_attachFlags_t", "pci_devhdl_t", "pci_ba_t"]


@pytest.mark.parametrize("name", ALL_TYPES)
def test_type_is_exported_by_libpci(name: str) -> None:
    assert name in pci.__all__
    assert hasattr(pci, name)


@pytest.mark.parametrize("name", INTEGER_TYPES)
def test_integer_typedefs_are_int(name: str) -> None:
    assert getattr(pci, name) is int
    assert getattr(pci_msg, name) is int  # one definition, shared with pci-server


def test_enum_and_struct_types() -> None:
    assert pci.pci_err_t is pci.PciErr
    assert pci.pci_devhdl_t is pci.PciDevHdl
    assert pci.pci_ba_t is pci.PciBa
    # a C enum parameter takes any int: the flags enum or a plain value
    assert set(typing.get_args(pci.pci_attachFlags_t)) == {pci.PciAttachFlags, int}
    assert isinstance(pci.PCI_INIT_BASE0 | pci.PCI_MASTER_ENABLE, pci.pci_attachFlags_t)
    assert isinstance(pci.pci_attachFlags_DEFAULT, pci.pci_attachFlags_t)
    assert isinstance(pci.PCI_ERR_NOT_OWNER, pci.pci_err_t)


def test_values_fit_their_c_widths() -> None:
    u16, u32 = (1 << 16) - 1, (1 << 32) - 1
    assert 0 <= pci.PCI_VID_ANY <= u16 and 0 <= pci.PCI_DID_ANY <= u16
    assert 0 <= pci.PCI_BDF(255, 31, 7) <= u32
    assert u32 == pci.PCI_BDF_NONE
    assert 0 <= pci.PCI_CCODE_ANY <= u32


def test_signatures_use_the_qnx_types() -> None:
    """The QNX prototypes, e.g. ``pci_devhdl_t pci_device_attach(pci_bdf_t,
    pci_attachFlags_t, pci_err_t *)`` (the out-parameter returned)."""
    hints = typing.get_type_hints(api.pci_device_attach)
    assert hints["bdf"] is int
    assert set(typing.get_args(hints["flags"])) == {pci.PciAttachFlags, int}
    assert hints["return"] == tuple[pci.PciDevHdl | None, pci.PciErr]
    find = typing.get_type_hints(api.pci_device_find)
    assert [find[k] for k in ("vid", "did", "ccode", "return")] == [int, int, int, int]
    assert (
        typing.get_type_hints(api.pci_device_read_ba)["return"]
        == (tuple[pci.PciErr, list[pci.PciBa]])
    )
    assert typing.get_type_hints(api.pci_device_detach) == {
        "hdl": pci.PciDevHdl,
        "return": pci.PciErr,
    }

"""pci_strerror and a Pythonic layer over the QNX calls (errors raise :class:`PciLibError`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from qrv.errors import PciError
from qrv.lib.pci import api
from qrv.lib.pci.api import PciBa, PciDevHdl
from qrv.spec.pci_msg import (
    PCI_BDF_NONE,
    PCI_CCODE_ANY,
    PCI_DID_ANY,
    PCI_VID_ANY,
    PciErr,
    pci_attachFlags_DEFAULT,
)

# qrv's own wording (QNX does not publish its pci_strerror texts).
_MESSAGES: dict[PciErr, str] = {
    PciErr.REG_UNIMPLEMENTED: "register not implemented",
    PciErr.LOCK_FAILURE: "lock failure",
    PciErr.NOT_OWNER: "caller does not own the device",
    PciErr.ATTACH_LIMIT: "too many attachments",
    PciErr.ATTACH_EXCLUSIVE: "device is attached exclusively",
    PciErr.ATTACH_SHARED: "exclusive attach refused: device already attached",
    PciErr.ATTACH_OWNED: "owner attach refused: device already owned",
    PciErr.IRQ_NOT_AVAIL: "no IRQ available",
    PciErr.IRQ_CFG: "IRQ configuration failed",
    PciErr.ASPACE_NOT_AVAIL: "address space not available",
    PciErr.ASPACE_CFG: "address space configuration failed",
    PciErr.ASPACE_INVALID: "invalid address space",
    PciErr.CAP_ENOTSUP: "capability not supported",
    PciErr.CAP_NIRQ: "capability IRQ error",
    PciErr.MSI_ENABLED: "MSI is enabled",
    PciErr.MSIX_ENABLED: "MSI-X is enabled",
    PciErr.MODULE_INIT: "module initialisation failed",
    PciErr.DEV_NOT_AVAIL: "device not available",
    PciErr.CFG_ACCESS: "configuration register is reserved to the PCI server",
    PciErr.SERVER_STATE_EXITING: "PCI server is exiting",
    PciErr.SERVER_NOT_AVAILABLE: "PCI server not available",
}


def pci_strerror(err: int) -> str:
    """A message for a ``pci_err_t``: errno-valued codes use the errno text."""
    try:
        code = PciErr(err)
    except ValueError:
        return f"unknown PCI error {err}"
    if code is PciErr.OK:
        return "OK"
    return _MESSAGES.get(code) or os.strerror(int(code))


class PciLibError(PciError):
    """A libpci call failed; ``code`` is the ``pci_err_t``."""

    def __init__(self, code: PciErr, what: str) -> None:
        super().__init__(f"{what}: {pci_strerror(code)} ({code.name})")
        self.code = code


def _check(result: tuple[PciErr, int], what: str) -> int:
    err, value = result
    if err is not PciErr.OK:
        raise PciLibError(err, what)
    return value


def find_all(
    vid: int = PCI_VID_ANY, did: int = PCI_DID_ANY, ccode: int = PCI_CCODE_ANY
) -> Iterator[int]:
    """Every matching bdf, in the server's enumeration order."""
    idx = 0
    while (bdf := api.pci_device_find(idx, vid, did, ccode)) != PCI_BDF_NONE:
        yield bdf
        idx += 1


class PciDevice:
    """An attached device: ``with PciDevice.attach(bdf, flags) as dev: ...``."""

    def __init__(self, hdl: PciDevHdl) -> None:
        self.hdl = hdl

    @classmethod
    def attach(cls, bdf: int, flags: int = pci_attachFlags_DEFAULT) -> PciDevice:
        hdl, err = api.pci_device_attach(bdf, flags)
        if hdl is None:
            raise PciLibError(err, f"attach {bdf:#06x}")
        return cls(hdl)

    @property
    def bdf(self) -> int:
        return self.hdl.bdf

    def detach(self) -> None:
        err = api.pci_device_detach(self.hdl)
        if err is not PciErr.OK:
            raise PciLibError(err, "detach")

    def __enter__(self) -> PciDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def cfg_rd8(self, off: int) -> int:
        return _check(api.pci_device_cfg_rd8(self.bdf, off), f"cfg_rd8 {off:#x}")

    def cfg_rd16(self, off: int) -> int:
        return _check(api.pci_device_cfg_rd16(self.bdf, off), f"cfg_rd16 {off:#x}")

    def cfg_rd32(self, off: int) -> int:
        return _check(api.pci_device_cfg_rd32(self.bdf, off), f"cfg_rd32 {off:#x}")

    def cfg_rd64(self, off: int) -> int:
        return _check(api.pci_device_cfg_rd64(self.bdf, off), f"cfg_rd64 {off:#x}")

    def cfg_wr16(self, off: int, value: int) -> int:
        return _check(api.pci_device_cfg_wr16(self.hdl, off, value), f"cfg_wr16 {off:#x}")

    def cfg_wr32(self, off: int, value: int) -> int:
        return _check(api.pci_device_cfg_wr32(self.hdl, off, value), f"cfg_wr32 {off:#x}")

    def write_cmd(self, cmd: int) -> int:
        return _check(api.pci_device_write_cmd(self.hdl, cmd), "write_cmd")

    def read_ba(self) -> list[PciBa]:
        err, bas = api.pci_device_read_ba(self.hdl)
        if err is not PciErr.OK:
            raise PciLibError(err, "read_ba")
        return bas

    def bar(self, bar_num: int) -> PciBa:
        found = next((b for b in self.read_ba() if b.bar_num == bar_num), None)
        if found is None:
            raise PciLibError(PciErr.ASPACE_NOT_AVAIL, f"BAR{bar_num}")
        return found

    def read_irq(self) -> list[int]:
        err, irqs = api.pci_device_read_irq(self.hdl)
        if err is not PciErr.OK:
            raise PciLibError(err, "read_irq")
        return irqs

"""Phase A: find the NVMe controller through libpci and attach to it.

One ``pci_device_find`` (a single FIND_CLASS message to pci-server) for class
01h / subclass 08h with any programming interface, then an exclusive owner
attach with the seed's ``PCI_INIT_BASE0 | PCI_MASTER_ENABLE`` (the server
enables memory decode and bus mastering), then ``pci_device_read_ba`` for BAR0.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.errors import PciError
from qrv.lib.pci import (
    PCI_BDF_NONE,
    PCI_BUS,
    PCI_CCODE,
    PCI_CCODE_REG_IF_ANY,
    PCI_DEV,
    PCI_DID_ANY,
    PCI_FUNC,
    PCI_INIT_BASE0,
    PCI_INIT_IRQ,
    PCI_MASTER_ENABLE,
    PCI_USE_MSIX,
    PCI_VID_ANY,
    AsType,
    PciDevHdl,
    PciErr,
    pci_attachFlags_EXCLUSIVE_OWNER,
    pci_device_attach,
    pci_device_find,
    pci_device_read_ba,
    pci_device_read_did,
    pci_device_read_irq,
    pci_device_read_vid,
    pci_strerror,
)
from qrv.spec.interrupt import MSI_INTR_BASE
from qrv.spec.pci import SUBCLASS_NVM, ClassCode

NVME_CCODE = PCI_CCODE(ClassCode.MASS_STORAGE, SUBCLASS_NVM, PCI_CCODE_REG_IF_ANY)
ATTACH_FLAGS = pci_attachFlags_EXCLUSIVE_OWNER | PCI_INIT_BASE0 | PCI_MASTER_ENABLE


@dataclass(frozen=True)
class PciController:
    """An attached NVMe function and where its BAR0 is."""

    bdf: int
    hdl: PciDevHdl
    vendor_id: int
    device_id: int
    bar0: int
    bar0_size: int
    irq: int | None = None
    """The interrupt to attach to (None: none asked for, or none available)."""

    @property
    def irq_kind(self) -> str:
        return "MSI-X vector 0" if self.irq is not None and self.irq > MSI_INTR_BASE else "INTx"

    @property
    def location(self) -> str:
        return f"{PCI_BUS(self.bdf):02x}:{PCI_DEV(self.bdf):02x}.{PCI_FUNC(self.bdf)}"


def _value(result: tuple[PciErr, int], what: str) -> int:
    err, value = result
    if err is not PciErr.OK:
        raise PciError(f"{what}: {pci_strerror(err)}")
    return value


def find_controller(
    index: int = 0, *, irq: bool = False, intx: bool = False
) -> PciController | None:
    """The `index`-th NVMe controller, attached; None when there is none.  With `irq`,
    attached with ``PCI_USE_MSIX`` (MSI-X where the machine has an MSI target, INTx
    otherwise), or with `intx` too ``PCI_INIT_IRQ`` (the INTx wire), and its first
    interrupt read."""
    bdf = pci_device_find(index, PCI_VID_ANY, PCI_DID_ANY, NVME_CCODE)
    if bdf == PCI_BDF_NONE:
        return None
    irq_flags = (PCI_INIT_IRQ if intx else PCI_USE_MSIX) if irq else 0
    hdl, err = pci_device_attach(bdf, ATTACH_FLAGS | irq_flags)
    if hdl is None:
        raise PciError(f"attach to {bdf:#x} failed: {pci_strerror(err)}")
    err, bars = pci_device_read_ba(hdl)
    if err is not PciErr.OK:
        raise PciError(f"reading the BARs failed: {pci_strerror(err)}")
    bar0 = next((ba for ba in bars if ba.bar_num == 0 and ba.type is AsType.MEM), None)
    if bar0 is None or bar0.addr == 0:
        raise PciError("the controller has no assigned memory BAR0")
    return PciController(
        bdf=bdf,
        hdl=hdl,
        vendor_id=_value(pci_device_read_vid(bdf), "read VID"),
        device_id=_value(pci_device_read_did(bdf), "read DID"),
        bar0=bar0.addr,
        bar0_size=bar0.size,
        irq=_first_irq(hdl) if irq else None,
    )


def _first_irq(hdl: PciDevHdl) -> int | None:
    err, irqs = pci_device_read_irq(hdl)
    return irqs[0] if err is PciErr.OK and irqs else None

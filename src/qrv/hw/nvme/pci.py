"""The controller's PCI face: identity, BAR0 layout, PCI Express and MSI-X capabilities.

BAR0 (16 KiB, 64-bit, like QEMU's device): registers 0h..FFFh, doorbells from 1000h,
the MSI-X table at 2000h and its Pending Bit Array at 3000h.  The MSI-X table is real
storage the host can program; hw/nvme/irq.py sends its messages and keeps the PBA.
"""

from __future__ import annotations

import struct

from qrv.hw.pcidev import BarKind, BarSpec, Capability, PciIdentity
from qrv.spec.pci import (
    DEVICE_REDHAT_NVME,
    MSIX_CONTROL,
    MSIX_ENABLE,
    MSIX_ENTRY_SIZE,
    MSIX_FUNCTION_MASK,
    PCIE_CAP_SIZE,
    PCIE_CAP_VERSION_2,
    PCIE_TYPE_ROOT_INTEGRATED,
    PROG_IF_NVME,
    SUBCLASS_NVM,
    SUBSYSTEM_ID_QEMU,
    SUBSYSTEM_VENDOR_QEMU,
    VENDOR_REDHAT,
    CapId,
    ClassCode,
)

BAR0_SIZE = 0x4000
MSIX_TABLE_OFFSET = 0x2000
MSIX_PBA_OFFSET = 0x3000
MSIX_VECTOR_CONTROL = 12  # offset of Vector Control inside a table entry (PCI 3.0 6.8.2.9)
MSIX_VECTOR_MASKED = 1
REVISION = 2  # as QEMU's 1b36:0010

IDENTITY = PciIdentity(
    vendor_id=VENDOR_REDHAT,
    device_id=DEVICE_REDHAT_NVME,
    class_code=(ClassCode.MASS_STORAGE << 16) | (SUBCLASS_NVM << 8) | PROG_IF_NVME,
    revision=REVISION,
    subsystem_vendor_id=SUBSYSTEM_VENDOR_QEMU,
    subsystem_id=SUBSYSTEM_ID_QEMU,
)

BAR0 = BarSpec(0, BAR0_SIZE, BarKind.MEM64)

# PCI Express capability (PCIe 4.0 7.5.3), offsets relative to the capability
_PCIE_DEVCAP = 0x04
_PCIE_DEVCTL = 0x08
_DEVCAP_ROLE_BASED_ERROR = 1 << 15
_DEVCTL_WRITABLE = 0x7CFF  # error enables, payload/read-request sizes; no FLR (bit 15)
_DEVCTL_DEFAULT = 0x2 << 12  # max read request 512 bytes


# Where QEMU 7.2's NVMe function has its capabilities (hw/nvme/ctrl.c nvme_init_pci:
# PM at 60h, Express at 80h, MSI-X at the first free 40h; each added at the list's head,
# so the list runs MSI-X -> Express -> PM).
MSIX_CAP_AT = 0x40
PM_CAP_AT = 0x60
PCIE_CAP_AT = 0x80


def capabilities(vectors: int) -> list[Capability]:
    """The NVMe function's capability list, in QEMU's order and places."""
    return [msix_capability(vectors), pcie_capability(), power_management_capability()]


def pcie_capability() -> Capability:
    """A v2 PCI Express capability of a Root Complex Integrated Endpoint: the function sits
    on the root bus, as QEMU's does on riscv virt (no link registers, no FLR)."""
    body = bytearray(PCIE_CAP_SIZE - 2)
    wmask = bytearray(len(body))
    struct.pack_into("<H", body, 0, PCIE_CAP_VERSION_2 | (PCIE_TYPE_ROOT_INTEGRATED << 4))
    struct.pack_into("<I", body, _PCIE_DEVCAP - 2, _DEVCAP_ROLE_BASED_ERROR)
    struct.pack_into("<H", body, _PCIE_DEVCTL - 2, _DEVCTL_DEFAULT)
    struct.pack_into("<H", wmask, _PCIE_DEVCTL - 2, _DEVCTL_WRITABLE)
    return Capability(CapId.PCI_EXPRESS, bytes(body), bytes(wmask), at=PCIE_CAP_AT)


# PCI Power Management capability (PCI Bus Power Management Interface Spec 1.2, ch. 3)
_PMC_VERSION_1_2 = 0b011  # PMC bits 2:0
_PMCSR_POWER_STATE = 0b11  # PMCSR bits 1:0, D0..D3hot, read-write
_PMCSR_NO_SOFT_RESET = 1 << 3  # D3hot -> D0 keeps the function's state


def power_management_capability() -> Capability:
    """PM capability: version 1.2, D0 and D3hot only, No_Soft_Reset (as QEMU's NVMe).

    PCIe Base 4.0 7.5.2 requires it in every PCI Express function.  The power
    state is storage only: the model does not change behaviour in D3hot.
    """
    body = struct.pack("<HHBB", _PMC_VERSION_1_2, _PMCSR_NO_SOFT_RESET, 0, 0)
    wmask = struct.pack("<HHBB", 0, _PMCSR_POWER_STATE, 0, 0)
    return Capability(CapId.POWER_MANAGEMENT, body, wmask, at=PM_CAP_AT)


def msix_capability(vectors: int) -> Capability:
    """MSI-X (PCI 3.0 6.8.2) with table and PBA in BAR0; enable and function mask writable."""
    body = struct.pack("<HII", vectors - 1, MSIX_TABLE_OFFSET | 0, MSIX_PBA_OFFSET | 0)
    wmask = struct.pack("<HII", MSIX_ENABLE | MSIX_FUNCTION_MASK, 0, 0)
    return Capability(CapId.MSIX, body, wmask, at=MSIX_CAP_AT)


def msix_table_size(vectors: int) -> int:
    return vectors * MSIX_ENTRY_SIZE


def msix_pba_size(vectors: int) -> int:
    return ((vectors + 63) // 64) * 8


def initial_msix_table(vectors: int) -> bytes:
    """Every vector starts masked (PCI 3.0 6.8.2.9)."""
    table = bytearray(msix_table_size(vectors))
    for i in range(vectors):
        table[i * MSIX_ENTRY_SIZE + MSIX_VECTOR_CONTROL] = MSIX_VECTOR_MASKED
    return bytes(table)


MSIX_CONTROL_OFFSET = MSIX_CONTROL  # within the capability

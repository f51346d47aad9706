"""PCI / PCI Express configuration-space layout, shared by the device models,
pci-server, libpci and lspci (PCI Local Bus Spec 3.0 ch. 6; PCIe Base Spec 4.0 ch. 7).
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

CONFIG_SPACE_SIZE = 4096  # PCIe extended configuration space per function (PCIe 7.2.2)
LEGACY_CONFIG_SIZE = 256
CAP_LIST_START = 0x40  # capabilities live in the device-dependent area
ECAM_FUNCTION_SHIFT = 12  # ECAM: bus << 20 | dev << 15 | fn << 12 (PCIe 7.2.2)
MAX_BUS = 256
MAX_DEVICE = 32
MAX_FUNCTION = 8
VENDOR_NONE = 0xFFFF  # config read of an absent function (master abort)


def ecam_offset(bus: int, dev: int, fn: int, reg: int = 0) -> int:
    """Byte offset of a function's register inside the ECAM window (PCIe 7.2.2)."""
    return (bus << 20) | (dev << 15) | (fn << 12) | reg


class Cfg(IntEnum):
    """Type-0/1 common header offsets (PCI 3.0 6.1)."""

    VENDOR_ID = 0x00
    DEVICE_ID = 0x02
    COMMAND = 0x04
    STATUS = 0x06
    REVISION_ID = 0x08
    PROG_IF = 0x09
    SUBCLASS = 0x0A
    CLASS = 0x0B
    CACHE_LINE_SIZE = 0x0C
    LATENCY_TIMER = 0x0D
    HEADER_TYPE = 0x0E
    BIST = 0x0F
    BAR0 = 0x10
    CARDBUS_CIS = 0x28
    SUBSYSTEM_VENDOR_ID = 0x2C
    SUBSYSTEM_ID = 0x2E
    EXPANSION_ROM = 0x30
    CAPABILITIES_PTR = 0x34
    INTERRUPT_LINE = 0x3C
    INTERRUPT_PIN = 0x3D
    MIN_GNT = 0x3E
    MAX_LAT = 0x3F


class Type1(IntEnum):
    """Type-1 (PCI-to-PCI bridge) header offsets (PCI-to-PCI Bridge Spec 1.2 ch. 3)."""

    PRIMARY_BUS = 0x18
    SECONDARY_BUS = 0x19
    SUBORDINATE_BUS = 0x1A
    SECONDARY_LATENCY = 0x1B
    IO_BASE = 0x1C
    IO_LIMIT = 0x1D
    SECONDARY_STATUS = 0x1E
    MEMORY_BASE = 0x20
    MEMORY_LIMIT = 0x22
    PREF_MEMORY_BASE = 0x24
    PREF_MEMORY_LIMIT = 0x26
    PREF_BASE_UPPER32 = 0x28
    PREF_LIMIT_UPPER32 = 0x2C
    IO_BASE_UPPER16 = 0x30
    IO_LIMIT_UPPER16 = 0x32
    BRIDGE_CONTROL = 0x3E


# Bridge forwarding windows (PCI-to-PCI Bridge Spec 1.2, 3.2.5.6-3.2.5.9): memory
# base/limit hold address bits 31:20 in register bits 15:4 (1 MiB granularity);
# I/O base/limit hold bits 15:12 in register bits 7:4 (4 KiB granularity).
BRIDGE_MEM_GRANULE = 1 << 20
BRIDGE_IO_GRANULE = 1 << 12
BRIDGE_MEM_SHIFT = 16  # register value = (address >> 16) & 0xFFF0
BRIDGE_MEM_REG_MASK = 0xFFF0
BRIDGE_IO_SHIFT = 8  # register value = (address >> 8) & 0xF0
BRIDGE_IO_REG_MASK = 0xF0


BAR_COUNT_TYPE0 = 6
BAR_COUNT_TYPE1 = 2


class Command(IntFlag):
    """Command register bits (PCI 3.0 6.2.2)."""

    IO_SPACE = 1 << 0
    MEMORY_SPACE = 1 << 1
    BUS_MASTER = 1 << 2
    SPECIAL_CYCLES = 1 << 3
    MWI = 1 << 4
    VGA_SNOOP = 1 << 5
    PARITY_ERROR_RESPONSE = 1 << 6
    SERR_ENABLE = 1 << 8
    FAST_B2B = 1 << 9
    INTX_DISABLE = 1 << 10


class Status(IntFlag):
    """Status register bits (PCI 3.0 6.2.3)."""

    INTERRUPT = 1 << 3
    CAP_LIST = 1 << 4
    MHZ66 = 1 << 5
    FAST_B2B = 1 << 7
    MASTER_DATA_PARITY = 1 << 8
    SIGNALED_TARGET_ABORT = 1 << 11
    RECEIVED_TARGET_ABORT = 1 << 12
    RECEIVED_MASTER_ABORT = 1 << 13
    SIGNALED_SYSTEM_ERROR = 1 << 14
    DETECTED_PARITY_ERROR = 1 << 15


# Status bits that software clears by writing 1 (PCI 3.0 6.2.3).
STATUS_W1C = (
    Status.MASTER_DATA_PARITY
    | Status.SIGNALED_TARGET_ABORT
    | Status.RECEIVED_TARGET_ABORT
    | Status.RECEIVED_MASTER_ABORT
    | Status.SIGNALED_SYSTEM_ERROR
    | Status.DETECTED_PARITY_ERROR
)

HEADER_TYPE_MASK = 0x7F
HEADER_MULTIFUNCTION = 0x80


class HeaderType(IntEnum):
    NORMAL = 0x00
    BRIDGE = 0x01
    CARDBUS = 0x02


# BAR low bits (PCI 3.0 6.2.5.1)
BAR_IO = 0x1
BAR_MEM_TYPE_MASK = 0x6
BAR_MEM_TYPE_32 = 0x0
BAR_MEM_TYPE_64 = 0x4
BAR_MEM_PREFETCH = 0x8
BAR_MEM_ADDR_MASK = ~0xF
BAR_IO_ADDR_MASK = ~0x3


class CapId(IntEnum):
    """Capability IDs (PCI Code and ID Assignment Spec, ch. 2)."""

    POWER_MANAGEMENT = 0x01
    AGP = 0x02
    VPD = 0x03
    SLOT_ID = 0x04
    MSI = 0x05
    HOT_SWAP = 0x06
    PCIX = 0x07
    HYPERTRANSPORT = 0x08
    VENDOR = 0x09
    DEBUG_PORT = 0x0A
    HOTPLUG = 0x0C
    BRIDGE_SUBSYSTEM_VID = 0x0D
    AGP8X = 0x0E
    SECURE = 0x0F
    PCI_EXPRESS = 0x10
    MSIX = 0x11
    SATA = 0x12
    AF = 0x13
    ENHANCED_ALLOCATION = 0x14


# MSI-X capability layout (PCI 3.0 6.8.2)
MSIX_CONTROL = 2
MSIX_TABLE = 4
MSIX_PBA = 8
MSIX_CAP_SIZE = 12
MSIX_ENABLE = 1 << 15
MSIX_FUNCTION_MASK = 1 << 14
MSIX_TABLE_SIZE_MASK = 0x7FF
MSIX_BIR_MASK = 0x7
MSIX_ENTRY_SIZE = 16

# PCI Express capability layout (PCIe 4.0 7.5.3): 0x3C bytes for an endpoint (v2)
PCIE_CAP_SIZE = 0x3C
PCIE_CAP_VERSION_2 = 0x2
PCIE_TYPE_ENDPOINT = 0x0
PCIE_TYPE_ROOT_INTEGRATED = 0x9

# Vendor and device IDs used by the machines
VENDOR_REDHAT = 0x1B36  # QEMU's PCI devices (docs/specs/pci-ids.rst in QEMU)
DEVICE_REDHAT_PCIE_HOST = 0x0008
DEVICE_REDHAT_NVME = 0x0010
# The subsystem IDs QEMU gives every PCI device unless told otherwise (hw/pci/pci.c)
SUBSYSTEM_VENDOR_QEMU = 0x1AF4
SUBSYSTEM_ID_QEMU = 0x1100


class ClassCode(IntEnum):
    """Base class codes (PCI Code and ID Assignment Spec, ch. 1)."""

    UNCLASSIFIED = 0x00
    MASS_STORAGE = 0x01
    NETWORK = 0x02
    DISPLAY = 0x03
    MULTIMEDIA = 0x04
    MEMORY = 0x05
    BRIDGE = 0x06
    COMMUNICATION = 0x07
    SYSTEM = 0x08
    INPUT = 0x09
    DOCKING = 0x0A
    PROCESSOR = 0x0B
    SERIAL_BUS = 0x0C


SUBCLASS_NVM = 0x08  # mass storage / Non-Volatile Memory controller
PROG_IF_NVME = 0x02  # NVM Express
SUBCLASS_HOST_BRIDGE = 0x00
SUBCLASS_PCI_BRIDGE = 0x04

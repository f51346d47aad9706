"""``nvme id-ctrl -H``: the Identify Controller fields nvme-cli decodes, bit by bit.

Meanings are the NVMe Base specification's (1.4 Figure 247; bits that 2.0 gave a
meaning are told as nvme-cli 2.x tells them), the wording nvme-cli's.
"""

from __future__ import annotations

from qrv.userland.nvme.bitlines import (
    Bits,
    Decoder,
    either,
    inverted,
    reserved,
    supported,
    table,
    temperature,
    text,
    zeros_based,
)
from qrv.userland.nvme.fmt import thousands

CMIC = Decoder(
    8,
    (
        reserved(7, 4),
        Bits(3, 3, lambda v: f"ANA {'' if v else 'not '}supported"),
        either(2, "SR-IOV", "PCI"),
        either(1, "Multi Controller", "Single Controller"),
        either(0, "Multi Port", "Single Port"),
    ),
)

OAES = Decoder(
    32,
    (
        supported(31, "Discovery Log Change Notice"),
        reserved(30, 28),
        supported(27, "Zone Descriptor Changed Notices"),
        reserved(26, 20),
        supported(19, "Allocated Namespace Attribute Notices"),
        reserved(18),
        supported(17, "Reachability Groups Change Notices"),
        supported(16, "Temperature Threshold Hysteresis Recovery"),
        supported(15, "Normal NSS Shutdown Event"),
        supported(14, "Endurance Group Event Aggregate Log Page Change Notice"),
        supported(13, "LBA Status Information Notices"),
        supported(12, "Predictable Latency Event Aggregate Log Change Notices"),
        supported(11, "Asymmetric Namespace Access Change Notices"),
        reserved(10),
        supported(9, "Firmware Activation Notices"),
        supported(8, "Namespace Attribute Changed Event"),
        reserved(7, 0),
    ),
)

CTRATT = Decoder(
    32,
    (
        reserved(31, 22),
        supported(21, "Power Measurement"),
        supported(20, "Power Limit"),
        supported(19, "Flexible Data Placement"),
        supported(18, "Reservations and Host Identifier Interaction"),
        supported(17, "HMB Restrict Non-Operational Power State Access"),
        supported(16, "MDTS and Size Limits Exclude Metadata"),
        supported(15, "Extended LBA Formats"),
        supported(14, "Delete NVM Set"),
        supported(13, "Delete Endurance Group"),
        supported(12, "Variable Capacity Management"),
        supported(11, "Fixed Capacity Management"),
        supported(10, "Multi Domain Subsystem"),
        supported(9, "UUID List"),
        supported(8, "SQ Associations"),
        supported(7, "Namespace Granularity"),
        supported(6, "Traffic Based Keep Alive"),
        supported(5, "Predictable Latency Mode"),
        supported(4, "Endurance Groups"),
        supported(3, "Read Recovery Levels"),
        supported(2, "NVM Sets"),
        supported(1, "Non-Operational Power State Permissive"),
        supported(0, "128-bit Host Identifier"),
    ),
)

CNTRLTYPE = Decoder(
    8,
    (
        reserved(7, 2),
        table(
            1,
            0,
            {
                0: "Controller type not reported",
                1: "I/O Controller",
                2: "Discovery Controller",
                3: "Administrative Controller",
            },
        ),
    ),
)

NVMSR = Decoder(
    8,
    (
        reserved(7, 2),
        Bits(1, 1, lambda v: f"NVM subsystem {'' if v else 'Not '}part of an Enclosure"),
        Bits(0, 0, lambda v: f"NVM subsystem {'' if v else 'Not '}part of a Storage Device"),
    ),
)

VWCI = Decoder(
    8,
    (
        Bits(7, 7, lambda v: f"VPD Write Cycles Remaining field is {'' if v else 'Not '}valid."),
        text(6, 0, "VPD Write Cycles Remaining"),
    ),
)

_ME = "contains a Management Endpoint on"
MEC = Decoder(
    8,
    (
        reserved(7, 2),
        Bits(1, 1, lambda v: f"NVM subsystem {'' if v else 'Not '}{_ME} a PCIe port"),
        Bits(0, 0, lambda v: f"NVM subsystem {'' if v else 'Not '}{_ME} an SMBus/I2C port"),
    ),
)

OACS = Decoder(
    16,
    (
        reserved(15, 12),
        supported(11, "Host Managed Live Migration"),
        supported(10, "Lockdown Command and Feature"),
        supported(9, "Get LBA Status Capability"),
        supported(8, "Doorbell Buffer Config"),
        supported(7, "Virtualization Management"),
        supported(6, "NVMe-MI Send and Receive"),
        supported(5, "Directives"),
        supported(4, "Device Self-test"),
        supported(3, "NS Management and Attachment"),
        supported(2, "FW Commit and Download"),
        supported(1, "Format NVM"),
        supported(0, "Security Send and Receive"),
    ),
)

FRMW = Decoder(
    8,
    (
        reserved(7, 6),
        supported(5, "Multiple FW or Boot Update Detection"),
        supported(4, "Firmware Activate Without Reset"),
        text(3, 1, "Number of Firmware Slots"),
        either(0, "Firmware Slot 1 Read-Only", "Firmware Slot 1 Read/Write"),
    ),
)

LPA = Decoder(
    8,
    (
        reserved(7),
        supported(6, "Telemetry Log Data Area 4"),
        supported(5, "LID 0x0, Scope of each command in LID 0x5, 0x12, 0x13"),
        supported(4, "Persistent Event log"),
        supported(3, "Telemetry host/controller initiated log page"),
        supported(2, "Extended data for Get Log Page"),
        supported(1, "Command Effects Log Page"),
        supported(0, "SMART/Health Log Page per NS"),
    ),
)


def _format(kind: str, bit: int) -> Bits:
    return either(bit, f"{kind} uses NVMe Format", f"{kind} uses Vendor Specific Format")


AVSCC = Decoder(8, (reserved(7, 1), _format("Admin Vendor Specific Commands", 0)))
APSTA = Decoder(8, (reserved(7, 1), supported(0, "Autonomous Power State Transitions")))


def _capacity(name: str) -> Decoder:
    return Decoder(128, (Bits(127, 0, lambda v: name, value=thousands),))


RPMBS = Decoder(
    32,
    (
        text(31, 24, "Access Size"),
        text(23, 16, "Total Size"),
        reserved(15, 6),
        text(5, 3, "Authentication Method"),
        text(2, 0, "Number of RPMB Units"),
    ),
)

DSTO = Decoder(
    8,
    (
        reserved(7, 2),
        supported(1, "Host-Initiated Refresh capability"),
        either(
            0,
            "NVM subsystem supports only one device self-test operation in progress at a time",
            "NVM subsystem supports one device self-test operation per controller at a time",
        ),
    ),
)

HCTMA = Decoder(16, (reserved(15, 1), supported(0, "Host Controlled Thermal Management")))

_AFTER = "after sanitize operation completes successfully"
SANICAP = Decoder(
    32,
    (
        table(
            31,
            30,
            {
                0: f"Additional media modification {_AFTER} is not defined",
                1: f"Media is not additionally modified {_AFTER}",
                2: f"Media is additionally modified {_AFTER}",
            },
        ),
        inverted(29, "No-Deallocate After Sanitize bit in Sanitize command"),
        reserved(28, 4),
        supported(3, "Media Verification and Post-Verification Deallocation state"),
        supported(2, "Overwrite Sanitize Operation"),
        supported(1, "Block Erase Sanitize Operation"),
        supported(0, "Crypto Erase Sanitize Operation"),
    ),
)

ANACAP = Decoder(
    8,
    (
        supported(7, "Non-zero group ID"),
        either(6, "Group ID does not change", "Group ID does change"),
        reserved(5),
        supported(4, "ANA Change state"),
        supported(3, "ANA Persistent Loss state"),
        supported(2, "ANA Inaccessible state"),
        supported(1, "ANA Non-optimized state"),
        supported(0, "ANA Optimized state"),
    ),
)


def _entry_sizes(queue: str) -> Decoder:
    """SQES/CQES: maximum (7:4) and required (3:0) entry sizes, as powers of two."""
    return Decoder(
        8,
        (
            Bits(7, 4, lambda v: f"Max {queue} Entry Size ({1 << v})"),
            Bits(3, 0, lambda v: f"Min {queue} Entry Size ({1 << v})"),
        ),
    )


ONCS = Decoder(
    16,
    (
        reserved(15, 13),
        supported(12, "Namespace Zeroes"),
        supported(11, "Maximum Write Zeroes with Deallocate"),
        supported(10, "All Fast Copy"),
        supported(9, "Copy Single Atomicity"),
        supported(8, "Copy"),
        supported(7, "Verify"),
        supported(6, "Timestamp"),
        supported(5, "Reservations"),
        supported(4, "Save and Select"),
        supported(3, "Write Zeroes"),
        supported(2, "Data Set Management"),
        supported(1, "Write Uncorrectable"),
        supported(0, "Compare"),
    ),
)

FUSES = Decoder(16, (reserved(15, 1), supported(0, "Fused Compare and Write")))

FNA = Decoder(
    8,
    (
        reserved(7, 4),
        inverted(3, "Format NVM Broadcast NSID (FFFFFFFFh)"),
        Bits(
            2, 2, lambda v: f"Crypto Erase {'' if v else 'Not '}Supported as part of Secure Erase"
        ),
        either(
            1,
            "Crypto Erase Applies to All Namespace(s)",
            "Crypto Erase Applies to Single Namespace(s)",
        ),
        either(0, "Format Applies to All Namespace(s)", "Format Applies to Single Namespace(s)"),
    ),
)

VWC = Decoder(
    8,
    (
        reserved(7, 3),
        table(
            2,
            1,
            {
                0: "Support for the NSID field set to FFFFFFFFh is not indicated",
                2: "The Flush command does not support NSID set to FFFFFFFFh",
                3: "The Flush command supports NSID set to FFFFFFFFh",
            },
        ),
        Bits(0, 0, lambda v: f"Volatile Write Cache {'' if v else 'Not '}Present"),
    ),
)

ICSVSCC = Decoder(8, (reserved(7, 1), _format("NVM Vendor Specific Commands", 0)))

NWPC = Decoder(
    8,
    (
        reserved(7, 3),
        supported(2, "Permanent Write Protect"),
        supported(1, "Write Protect Until Power Supply"),
        supported(0, "No Write Protect and Write Protect Namespace"),
    ),
)


def _sgl_support(sgls: int) -> bool:
    """nvme-cli tells SGL capability bits only when SGLs are supported (SGLS 1:0 non-zero)."""
    return bool(sgls & 0b11)


def _sgl(bit: int, name: str) -> Bits:
    return Bits(bit, bit, lambda v: f"{name} {'' if v else 'Not '}Supported", when=_sgl_support)


SGLS = Decoder(
    32,
    (
        reserved(31, 22),
        _sgl(21, "Transport SGL Data Block Descriptor"),
        _sgl(20, "Address Offsets"),
        _sgl(19, "Metadata Pointer Containing SGL Descriptor is"),
        _sgl(18, "SGL Length Larger than Buffer"),
        _sgl(17, "Byte-Aligned Contig. MD Buffer"),
        _sgl(16, "SGL Bit-Bucket"),
        text(15, 8, "SGL Descriptor Threshold"),
        reserved(7, 3),
        _sgl(2, "Keyed SGL Data Block descriptor"),
        table(
            1,
            0,
            {
                0: "Scatter-Gather Lists Not Supported",
                1: "Scatter-Gather Lists Supported. No Dword alignment required.",
                2: "Scatter-Gather Lists Supported. Dword alignment required.",
            },
        ),
    ),
)

FCATT = Decoder(
    8, (reserved(7, 1), either(0, "Static Controller Model", "Dynamic Controller Model"))
)
OFCS = Decoder(16, (reserved(15, 1), supported(0, "Disconnect command")))

DECODERS: dict[str, Decoder] = {
    "cmic": CMIC,
    "oaes": OAES,
    "ctratt": CTRATT,
    "cntrltype": CNTRLTYPE,
    "nvmsr": NVMSR,
    "vwci": VWCI,
    "mec": MEC,
    "oacs": OACS,
    "frmw": FRMW,
    "lpa": LPA,
    "elpe": zeros_based("Error Log Page Entries (ELPE)"),
    "npss": zeros_based("Number of Power States Support (NPSS)"),
    "avscc": AVSCC,
    "apsta": APSTA,
    "wctemp": temperature("Warning Composite Temperature Threshold (WCTEMP)"),
    "cctemp": temperature("Critical Composite Temperature Threshold (CCTEMP)"),
    "tnvmcap": _capacity("Total NVM Capacity (TNVMCAP)"),
    "unvmcap": _capacity("Unallocated NVM Capacity (UNVMCAP)"),
    "rpmbs": RPMBS,
    "dsto": DSTO,
    "hctma": HCTMA,
    "mntmt": temperature("Minimum Thermal Management Temperature (MNTMT)"),
    "mxtmt": temperature("Maximum Thermal Management Temperature (MXTMT)"),
    "sanicap": SANICAP,
    "anacap": ANACAP,
    "sqes": _entry_sizes("SQ"),
    "cqes": _entry_sizes("CQ"),
    "oncs": ONCS,
    "fuses": FUSES,
    "fna": FNA,
    "vwc": VWC,
    "icsvscc": ICSVSCC,
    "nwpc": NWPC,
    "sgls": SGLS,
    "fcatt": FCATT,
    "ofcs": OFCS,
}
"""The id-ctrl fields ``-H`` decodes, each printed right after its ``key : value`` line."""

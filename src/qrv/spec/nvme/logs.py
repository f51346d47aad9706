"""Log pages (NVMe 1.4 §5.14): error information, SMART/health, firmware, effects."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import ClassVar

from qrv.spec.nvme.identify import IdentifyController, IdentifyNamespace, PowerState
from qrv.spec.nvme.layout import Layout, check_layout, field_at


@dataclass
class ErrorLogEntry(Layout):
    """Error Information log entry (NVMe 1.4 Figure 194)."""

    SIZE: ClassVar[int] = 64
    error_count: int = field_at(0, "Q")
    sqid: int = field_at(8, "H")
    cid: int = field_at(10, "H")
    status: int = field_at(12, "H")  # status field 15:1, phase 0
    parameter_error_location: int = field_at(14, "H")
    lba: int = field_at(16, "Q")
    nsid: int = field_at(24, "I")
    vendor_specific: int = field_at(28, "B")
    trtype: int = field_at(29, "B")
    command_specific: int = field_at(32, "Q")
    trtype_specific: int = field_at(40, "H")


class CriticalWarning(IntFlag):
    SPARE_BELOW_THRESHOLD = 1 << 0
    TEMPERATURE = 1 << 1
    RELIABILITY_DEGRADED = 1 << 2
    READ_ONLY = 1 << 3
    VOLATILE_BACKUP_FAILED = 1 << 4


DATA_UNIT_BYTES = 512 * 1000  # SMART data units: thousands of 512-byte units, rounded up


@dataclass
class SmartLog(Layout):
    """SMART / Health Information log (NVMe 1.4 Figure 196)."""

    SIZE: ClassVar[int] = 512
    critical_warning: int = field_at(0, "B")
    composite_temperature: int = field_at(1, "H")  # Kelvin
    available_spare: int = field_at(3, "B")
    available_spare_threshold: int = field_at(4, "B")
    percentage_used: int = field_at(5, "B")
    endurance_group_critical_warning: int = field_at(6, "B")
    data_units_read: int = field_at(32, "u128")
    data_units_written: int = field_at(48, "u128")
    host_read_commands: int = field_at(64, "u128")
    host_write_commands: int = field_at(80, "u128")
    controller_busy_time: int = field_at(96, "u128")
    power_cycles: int = field_at(112, "u128")
    power_on_hours: int = field_at(128, "u128")
    unsafe_shutdowns: int = field_at(144, "u128")
    media_errors: int = field_at(160, "u128")
    error_log_entries: int = field_at(176, "u128")
    warning_temperature_time: int = field_at(192, "I")
    critical_temperature_time: int = field_at(196, "I")
    temperature_sensors: tuple[int, ...] = field_at(200, "H*8", ())  # Kelvin, 0: none
    thm_temp1_trans_count: int = field_at(216, "I")
    thm_temp2_trans_count: int = field_at(220, "I")
    thm_temp1_total_time: int = field_at(224, "I")
    thm_temp2_total_time: int = field_at(228, "I")


@dataclass
class FirmwareSlotLog(Layout):
    """Firmware Slot Information log (NVMe 1.4 Figure 197)."""

    SIZE: ClassVar[int] = 512
    afi: int = field_at(0, "B")
    frs1: str = field_at(8, "text:8", "")
    frs2: str = field_at(16, "text:8", "")
    frs3: str = field_at(24, "text:8", "")
    frs4: str = field_at(32, "text:8", "")
    frs5: str = field_at(40, "text:8", "")
    frs6: str = field_at(48, "text:8", "")
    frs7: str = field_at(56, "text:8", "")

    @property
    def slots(self) -> tuple[str, ...]:
        """Firmware revisions of slots 1..7 ("" for an empty slot)."""
        return (self.frs1, self.frs2, self.frs3, self.frs4, self.frs5, self.frs6, self.frs7)


class CommandEffect(IntFlag):
    """Commands Supported and Effects entry (NVMe 1.4 Figure 199)."""

    CSUPP = 1 << 0
    LBCC = 1 << 1  # logical block content change
    NCC = 1 << 2  # namespace capability change
    NIC = 1 << 3
    CCC = 1 << 4  # controller capability change


@dataclass
class CommandEffectsLog(Layout):
    SIZE: ClassVar[int] = 4096
    acs: tuple[int, ...] = field_at(0, "I*256", ())
    iocs: tuple[int, ...] = field_at(1024, "I*256", ())


for _layout in (
    IdentifyController,
    IdentifyNamespace,
    PowerState,
    ErrorLogEntry,
    SmartLog,
    FirmwareSlotLog,
    CommandEffectsLog,
):
    check_layout(_layout)

"""``nvme smart-log``, ``error-log`` and ``fw-log`` output, as nvme-cli prints them."""

from __future__ import annotations

from qrv.spec.nvme import DATA_UNIT_BYTES, ErrorLogEntry, FirmwareSlotLog, SmartLog, Status
from qrv.userland.nvme.bitlines import celsius
from qrv.userland.nvme.fmt import JsonObject, c_hex, si_size, thousands

SENSORS = 8
FW_SLOTS = 7

CRITICAL_WARNING_BITS = (
    (0, "Available Spare", "available_spare"),
    (1, "Temp. Threshold", "temp_threshold"),
    (2, "NVM subsystem Reliability", "reliability_degraded"),
    (3, "Read-only", "ro"),
    (4, "Volatile mem. backup failed", "vmbu_failed"),
    (5, "Persistent Mem. RO", "pmr_ro"),
)
"""SMART / Health Critical Warning bits (NVMe 1.4 Figure 196; bit 5 is 1.4's PMR read-only):
``-H``'s line label and JSON key for each, as nvme-cli's."""
CRITICAL_WARNING_RESERVED = 6  # bits 7:6 reserved


def _critical_warning_json(warning: int) -> JsonObject:
    """``-H -o json``: the byte and each of its bits, as nvme-cli's verbose JSON."""
    obj: JsonObject = {"value": warning}
    obj.update({key: (warning >> bit) & 1 for bit, _, key in CRITICAL_WARNING_BITS})
    return obj


def critical_warning_lines(warning: int) -> list[str]:
    """``-H``: one line per Critical Warning bit (nvme-cli's labels); bits 7:6 only when a
    controller sets them."""
    lines = [
        f"      {f'{name}[{bit}]':<31}: {(warning >> bit) & 1}"
        for bit, name, _ in CRITICAL_WARNING_BITS
    ]
    if warning >> CRITICAL_WARNING_RESERVED:
        lines.append(f"      {'Reserved[7:6]':<31}: {c_hex(warning >> CRITICAL_WARNING_RESERVED)}")
    return lines


def smart_json(log: SmartLog, *, human: bool = False) -> JsonObject:
    warning = log.critical_warning
    obj: JsonObject = {
        "critical_warning": _critical_warning_json(warning) if human else warning,
        "temperature": log.composite_temperature,
        "avail_spare": log.available_spare,
        "spare_thresh": log.available_spare_threshold,
        "percent_used": log.percentage_used,
        "endurance_grp_critical_warning_summary": log.endurance_group_critical_warning,
        "data_units_read": log.data_units_read,
        "data_units_written": log.data_units_written,
        "host_read_commands": log.host_read_commands,
        "host_write_commands": log.host_write_commands,
        "controller_busy_time": log.controller_busy_time,
        "power_cycles": log.power_cycles,
        "power_on_hours": log.power_on_hours,
        "unsafe_shutdowns": log.unsafe_shutdowns,
        "media_errors": log.media_errors,
        "num_err_log_entries": log.error_log_entries,
        "warning_temp_time": log.warning_temperature_time,
        "critical_comp_time": log.critical_temperature_time,
    }
    for i, kelvin in enumerate(log.temperature_sensors):
        if kelvin:
            obj[f"temperature_sensor_{i + 1}"] = kelvin
    obj.update(
        thm_temp1_trans_count=log.thm_temp1_trans_count,
        thm_temp2_trans_count=log.thm_temp2_trans_count,
        thm_temp1_total_time=log.thm_temp1_total_time,
        thm_temp2_total_time=log.thm_temp2_total_time,
    )
    return obj


def smart_text(log: SmartLog, device: str, nsid: int, *, human: bool = False) -> str:
    rows = [
        ("critical_warning", c_hex(log.critical_warning)),
        ("temperature", celsius(log.composite_temperature)),
        ("available_spare", f"{log.available_spare}%"),
        ("available_spare_threshold", f"{log.available_spare_threshold}%"),
        ("percentage_used", f"{log.percentage_used}%"),
        ("endurance group critical warning summary", str(log.endurance_group_critical_warning)),
        (
            "Data Units Read",
            f"{thousands(log.data_units_read)} ({si_size(log.data_units_read * DATA_UNIT_BYTES)})",
        ),
        (
            "Data Units Written",
            f"{thousands(log.data_units_written)} "
            f"({si_size(log.data_units_written * DATA_UNIT_BYTES)})",
        ),
        ("host_read_commands", thousands(log.host_read_commands)),
        ("host_write_commands", thousands(log.host_write_commands)),
        ("controller_busy_time", thousands(log.controller_busy_time)),
        ("power_cycles", thousands(log.power_cycles)),
        ("power_on_hours", thousands(log.power_on_hours)),
        ("unsafe_shutdowns", thousands(log.unsafe_shutdowns)),
        ("media_errors", thousands(log.media_errors)),
        ("num_err_log_entries", thousands(log.error_log_entries)),
        ("Warning Temperature Time", str(log.warning_temperature_time)),
        ("Critical Composite Temperature Time", str(log.critical_temperature_time)),
    ]
    rows += [
        (f"Temperature Sensor {i + 1}", celsius(k))
        for i, k in enumerate(log.temperature_sensors)
        if k
    ]
    rows += [
        ("Thermal Management T1 Trans Count", str(log.thm_temp1_trans_count)),
        ("Thermal Management T2 Trans Count", str(log.thm_temp2_trans_count)),
        ("Thermal Management T1 Total Time", str(log.thm_temp1_total_time)),
        ("Thermal Management T2 Total Time", str(log.thm_temp2_total_time)),
    ]
    head = f"Smart Log for NVME device:{device} namespace-id:{nsid:x}"
    lines = [f"{k:<40}: {v}" for k, v in rows]
    if human:  # the bits of critical_warning, the first row
        lines[1:1] = critical_warning_lines(log.critical_warning)
    return "\n".join([head, *lines]) + "\n"


def error_json(entries: list[ErrorLogEntry]) -> JsonObject:
    return {
        "errors": [
            {
                "error_count": e.error_count,
                "sqid": e.sqid,
                "cmdid": e.cid,
                "status_field": e.status >> 1,
                "phase_tag": e.status & 1,
                "parm_error_location": e.parameter_error_location,
                "lba": e.lba,
                "nsid": e.nsid,
                "vs": e.vendor_specific,
                "trtype": e.trtype,
                "cs": e.command_specific,
                "trtype_spec_info": e.trtype_specific,
            }
            for e in entries
        ]
    }


def error_text(entries: list[ErrorLogEntry], device: str) -> str:
    sep = "................."
    lines = [f"Error Log Entries for device:{device} entries:{len(entries)}", sep]
    for i, e in enumerate(entries):
        status = Status.decode(e.status >> 1)
        rows = [
            ("error_count", str(e.error_count)),
            ("sqid", str(e.sqid)),
            ("cmdid", c_hex(e.cid)),
            ("status_field", f"{c_hex(e.status >> 1)}({status.name})"),
            ("phase_tag", c_hex(e.status & 1)),
            ("parm_err_loc", c_hex(e.parameter_error_location)),
            ("lba", c_hex(e.lba)),
            ("nsid", c_hex(e.nsid)),
            ("vs", str(e.vendor_specific)),
            ("trtype", str(e.trtype)),
            ("cs", c_hex(e.command_specific)),
            ("trtype_spec_info", c_hex(e.trtype_specific)),
        ]
        lines += [f" Entry[{i:2d}]   ", sep, *(f"{k:<16}: {v}" for k, v in rows), sep]
    return "\n".join(lines) + "\n"


def _slot_value(revision: str) -> int:
    return int.from_bytes(revision.encode("ascii", "replace").ljust(8, b" ")[:8], "little")


def fw_json(log: FirmwareSlotLog, device: str) -> JsonObject:
    slots: JsonObject = {"Active Firmware Slot (afi)": log.afi}
    for i, rev in enumerate(log.slots):
        if rev:
            slots[f"Firmware Rev Slot {i + 1}"] = f"{_slot_value(rev)} ({rev})"
    return {device: slots}


def fw_text(log: FirmwareSlotLog, device: str) -> str:
    lines = [f"Firmware Log for device:{device}", f"afi  : {log.afi:#x}"]
    lines += [
        f"frs{i + 1} : {_slot_value(rev):#016x} ({rev})" for i, rev in enumerate(log.slots) if rev
    ]
    return "\n".join(lines) + "\n"

"""Error Information and SMART/Health bookkeeping, and asynchronous events (NVMe 1.4 §5.2,
§5.14.1.1, §5.14.1.2)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from qrv.spec.nvme import (
    DATA_UNIT_BYTES,
    AsyncEventType,
    CriticalWarning,
    ErrorLogEntry,
    SmartLog,
)

ERROR_LOG_ENTRIES = 64  # Identify Controller ELPE = 63 (0's based)
TEMPERATURE_K = 323  # composite temperature reported: 50 degrees C
WARNING_TEMPERATURE_K = 343  # WCTEMP
CRITICAL_TEMPERATURE_K = 373  # CCTEMP
AVAILABLE_SPARE = 100
AVAILABLE_SPARE_THRESHOLD = 10
NO_ID = 0xFFFF  # SQID/CID of an error not tied to a command


class ErrorLog:
    """The Error Information log: newest entry first, a count that never repeats."""

    def __init__(self) -> None:
        self.count = 0
        self.entries: deque[ErrorLogEntry] = deque(maxlen=ERROR_LOG_ENTRIES)

    def add(self, sqid: int, cid: int, status_field: int, *, nsid: int = 0, lba: int = 0) -> None:
        self.count += 1
        self.entries.appendleft(
            ErrorLogEntry(
                error_count=self.count,
                sqid=sqid,
                cid=cid,
                status=status_field << 1,
                parameter_error_location=NO_ID,
                lba=lba,
                nsid=nsid,
            )
        )

    def page(self) -> bytes:
        data = b"".join(e.pack() for e in self.entries)
        return data.ljust(ERROR_LOG_ENTRIES * ErrorLogEntry.SIZE, b"\0")


def temperature_warning(over_k: int, under_k: int) -> bool:
    """Critical Warning bit 1: the composite temperature is at or above the over
    temperature threshold, or at or below the under temperature threshold (NVMe 1.4
    Figure 196)."""
    return over_k <= TEMPERATURE_K or under_k >= TEMPERATURE_K


@dataclass
class HealthCounters:
    """What the SMART / Health log reports, counted by the I/O commands."""

    bytes_read: int = 0
    bytes_written: int = 0
    read_commands: int = 0
    write_commands: int = 0
    media_errors: int = 0
    power_cycles: int = 1

    def page(self, errors: ErrorLog, over_k: int, under_k: int) -> bytes:
        warning = CriticalWarning.TEMPERATURE if temperature_warning(over_k, under_k) else 0
        return SmartLog(
            critical_warning=warning,
            composite_temperature=TEMPERATURE_K,
            available_spare=AVAILABLE_SPARE,
            available_spare_threshold=AVAILABLE_SPARE_THRESHOLD,
            data_units_read=-(-self.bytes_read // DATA_UNIT_BYTES),
            data_units_written=-(-self.bytes_written // DATA_UNIT_BYTES),
            host_read_commands=self.read_commands,
            host_write_commands=self.write_commands,
            power_cycles=self.power_cycles,
            media_errors=self.media_errors,
            error_log_entries=errors.count,
        ).pack()


CHANGED_NS_LIST_MAX = 1024  # entries of the Changed Namespace List log (NVMe 1.4 §5.14.1.4)
CHANGED_NS_OVERFLOW = 0xFFFF_FFFF


class ChangedNamespaces:
    """The Changed Namespace List log: NSIDs whose Identify Namespace data changed since
    the log was last read, ascending; more than 1024 makes the first entry FFFFFFFFh."""

    def __init__(self) -> None:
        self.nsids: set[int] = set()

    def add(self, nsid: int) -> None:
        self.nsids.add(nsid)

    def clear(self) -> None:
        self.nsids.clear()

    def page(self) -> bytes:
        ids = sorted(self.nsids)
        if len(ids) > CHANGED_NS_LIST_MAX:
            ids = [CHANGED_NS_OVERFLOW]
        data = b"".join(n.to_bytes(4, "little") for n in ids)
        return data.ljust(CHANGED_NS_LIST_MAX * 4, b"\0")


@dataclass
class AsyncEvents:
    """Outstanding Asynchronous Event Requests and the events waiting for one.

    After an event of a type is reported, further events of that type stay queued until the
    host reads the associated log page with RAE cleared (NVMe 1.4 §5.2).
    """

    outstanding: deque[int] = field(default_factory=deque)  # CIDs, oldest first
    pending: deque[tuple[AsyncEventType, int, int]] = field(default_factory=deque)
    masked: set[AsyncEventType] = field(default_factory=set)

    def clear(self) -> None:
        self.outstanding.clear()
        self.pending.clear()
        self.masked.clear()

    def next_deliverable(self) -> tuple[int, tuple[AsyncEventType, int, int]] | None:
        """Pop (cid, event) when an AER is outstanding and an unmasked event waits."""
        if not self.outstanding:
            return None
        for event in self.pending:
            if event[0] not in self.masked:
                self.pending.remove(event)
                self.masked.add(event[0])
                return self.outstanding.popleft(), event
        return None

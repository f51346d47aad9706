"""The system log (QNX's slogger2, simplified): boot and driver messages with times.

Entries carry the kernel clock's time, a severity (slog2's levels), the
source (a process name) and the text; the log keeps the last
:data:`CAPACITY` of them.  Every line a boot program writes to its stderr
goes there too (:class:`LogTee` over its stderr: the console still shows
it), and so do procnto's own lines (boot, crashes).  ``sloginfo`` prints
the log.  A stderr line is logged at NOTICE, or ERROR when it reports a
failure (:data:`ERROR_WORDS`); a program may log itself with
``qrv.lib.c.slog.slogf`` at any level.
"""

from __future__ import annotations

import io
import re
from collections import deque
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, BinaryIO

CAPACITY = 4096
"""Entries kept (the oldest go first), as slogger2's fixed-size buffers."""
ERROR_WORDS = re.compile(
    r"error|fail|lost|not ready|cannot|terminated|timed out|timeout", re.IGNORECASE
)


class Severity(IntEnum):
    """slog2 severities (``<sys/slog2.h>``)."""

    SHUTDOWN = 0
    CRITICAL = 1
    ERROR = 2
    WARNING = 3
    NOTICE = 4
    INFO = 5
    DEBUG1 = 6
    DEBUG2 = 7


SEVERITIES = frozenset(int(s) for s in Severity)


@dataclass(frozen=True)
class LogEntry:
    time: float
    severity: Severity
    source: str
    text: str


class SystemLog:
    def __init__(self, clock: Any) -> None:
        self._clock = clock
        self.entries: deque[LogEntry] = deque(maxlen=CAPACITY)

    def add(self, source: str, text: str, severity: Severity | None = None) -> None:
        """Log one line (the severity guessed from the text when not given)."""
        if severity is None:
            severity = Severity.ERROR if ERROR_WORDS.search(text) else Severity.NOTICE
        self.entries.append(LogEntry(self._clock.now(), severity, source, text))

    def snapshot(self) -> list[LogEntry]:
        return list(self.entries)


class LogTee(io.RawIOBase):
    """A stderr that also logs each line it carries under `source`."""

    def __init__(self, stream: BinaryIO, log: SystemLog, source: str) -> None:
        super().__init__()
        self._stream = stream
        self._log = log
        self._source = source
        self._partial = b""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        raw = bytes(data)
        self._partial += raw
        *lines, self._partial = self._partial.split(b"\n")
        for line in lines:
            self._log.add(self._source, line.decode(errors="replace"))
        self._stream.write(raw)
        return len(raw)

    def flush(self) -> None:
        self._stream.flush()

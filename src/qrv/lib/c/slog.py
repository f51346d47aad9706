"""The system log from a program: ``slogf`` (write) and ``slog_entries`` (what sloginfo reads).

QNX's slogger2 keeps per-process buffers that ``sloginfo`` merges; here the
kernel keeps one log (see docs/kernel-api.md).  Severities are slog2's.
"""

from __future__ import annotations

from qrv.kernel.slog import SEVERITIES, LogEntry, Severity
from qrv.lib.c._sys import K, cur

__all__ = ["SEVERITIES", "LogEntry", "Severity", "slog_entries", "slogf"]


def slogf(severity: int, text: str) -> None:
    """Log `text` under the calling process's name (EINVAL for an unknown severity)."""
    t = cur()
    K(t).slog_add(t, severity, text)


def slog_entries() -> list[LogEntry]:
    """The log, oldest first."""
    t = cur()
    return K(t).slog_read(t)

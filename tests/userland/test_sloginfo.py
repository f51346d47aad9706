"""sloginfo: the system log a program writes with slogf, crashes included."""

from __future__ import annotations

from qrv.lib.c.slog import Severity, slogf
from tests.userland.shell import run


def _logger(argv: list[str]) -> int:
    slogf(Severity.WARNING, "disk almost full")
    slogf(Severity.INFO, "all is well")
    try:
        slogf(42, "no such severity")
    except OSError:
        slogf(Severity.ERROR, "slogf refused severity 42")
    return 0


def _crasher(argv: list[str]) -> int:
    raise RuntimeError("boom")


def test_sloginfo_prints_entries_with_times_and_severities(sysk) -> None:
    k, _ = sysk
    assert k.waitpid(k.spawn(_logger, ["logger"]), 5) == 0
    k.waitpid(k.spawn(_crasher, ["crasher"]), 5)
    r = run(k, "sloginfo")
    rows = [line.split(None, 3) for line in r.text.splitlines()]
    assert [row[1:] for row in rows] == [
        ["WARNING", "logger", "disk almost full"],
        ["INFO", "logger", "all is well"],
        ["ERROR", "logger", "slogf refused severity 42"],
        ["CRITICAL", "procnto", "procnto: process 3 (crasher) terminated: RuntimeError: boom"],
    ]
    times = [float(row[0]) for row in rows]
    assert times == sorted(times)
    r = run(k, "sloginfo -s error")
    assert [line.split(None, 3)[1] for line in r.text.splitlines()] == ["ERROR", "CRITICAL"]
    r = run(k, "sloginfo -s 3")
    assert len(r.text.splitlines()) == 3
    r = run(k, "sloginfo -s loud")
    assert (r.status, r.errtext.splitlines()[0]) == (2, "sloginfo: unknown severity 'loud'")

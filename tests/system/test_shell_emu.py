"""`qrv emu` end to end: stdout carries only command output, stderr the logs, exit status."""

from __future__ import annotations

import subprocess
import sys

T = 60


def emu(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "qrv", "emu", *args],
        input=stdin,
        capture_output=True,
        timeout=T,
        check=False,
    )


def test_dash_c_runs_commands_and_exits_with_the_last_status() -> None:
    r = emu("-c", "echo hello; ls /; ls /nope")
    assert r.returncode == 1
    assert r.stdout == b"hello\ndev\n"
    assert b"ls: /nope: No such file or directory" in r.stderr
    assert b"procnto" in r.stderr  # the boot log is on stderr, not stdout


def test_exit_status_and_stdin_commands() -> None:
    assert emu("-c", "exit 5").returncode == 5
    r = emu(stdin=b"echo from-stdin\npidin\n")
    assert r.returncode == 0
    lines = r.stdout.decode().splitlines()
    assert lines[0] == "from-stdin"
    assert lines[1].split() == ["pid", "tid", "name", "prio", "STATE", "Blocked"]
    assert "# " not in r.stdout.decode()  # no prompt when stdin is not a terminal


def test_bad_option_is_one_line_usage_error() -> None:
    r = emu("--bogus")
    assert r.returncode == 2
    assert r.stderr.decode().count("\n") == 1 and b"Traceback" not in r.stderr

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
    assert r.stdout == b"hello\nbin\ndev\n"
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


def test_the_boot_log_is_in_sloginfo_and_pipelines_carry_the_image(tmp_path) -> None:
    image = str(tmp_path / "nvme.img")
    r = emu("--nvme", "--image", image, "-c", "sloginfo")
    assert r.returncode == 0, r.stderr
    log = r.stdout.decode().splitlines()
    assert any("NOTICE" in line and "procnto: up" in line for line in log)
    assert any(" devb-nvme " in line and "GPT OK" in line for line in log)
    for line in r.stderr.decode().splitlines():  # every boot line is in the log too
        if line.startswith("devb-nvme:"):
            assert any(line in entry for entry in log), line
    with open(image, "rb") as f:
        f.seek(34 * 512)
        p1 = f.read(32)
    r = emu("--nvme", "--image", image, "-c", "cat /dev/nvme0n1p1 | hexdump -C -n 32")
    assert r.returncode == 0, r.stderr
    cells = " ".join(f"{b:02x}" for b in p1[:8])
    assert r.stdout.decode().startswith(f"00000000  {cells}")
    r = emu("--nvme", "--image", image, "-c", "echo /dev/nvme0n1p*; ls /nope 2>&1 | wc -l")
    assert r.stdout == b"/dev/nvme0n1p1 /dev/nvme0n1p2\n      1\n"

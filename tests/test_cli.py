"""The `qrv` command line as a user meets it (issue 10): usage on stderr, help that says
what happens, quiet broken pipes, and one ``write error`` line when stdout cannot be written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qrv.tools.mkgpt import create_seed_image

T = 60


def qrv(*args: str, stdout: int, cwd: Path | None = None) -> tuple[int, str]:
    """Run ``qrv ARGS`` with the given stdout descriptor; (status, stderr)."""
    r = subprocess.run(
        [sys.executable, "-m", "qrv", *args],
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=T,
        check=False,
        cwd=cwd,
    )
    return r.returncode, r.stderr.decode()


def broken_pipe() -> int:
    """The write end of a pipe whose reader is already gone (as ``| true``)."""
    r, w = os.pipe()
    os.close(r)
    return w


@pytest.fixture
def seed_image(tmp_path: Path) -> Path:
    img = tmp_path / "seed.img"
    create_seed_image(img)
    return img


@pytest.mark.parametrize("args", [["--help"], ["--version"], []])
def test_top_level_output_into_a_closed_pipe_is_quiet(args: list[str]) -> None:
    w = broken_pipe()
    try:
        status, err = qrv(*args, stdout=w)
    finally:
        os.close(w)
    if args:
        assert (status, err) == (141, "")
    else:  # the usage goes to stderr, so the closed stdout is never written
        assert status == 2 and err.startswith("usage: qrv"), err


def test_no_arguments_is_usage_on_stderr_with_status_2() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "qrv"], capture_output=True, timeout=T, check=False, text=True
    )
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.startswith("usage: qrv") and "emu" in r.stderr


def test_help_describes_behaviour_not_the_seed() -> None:
    for args in (["--help"], ["emu", "--help"], ["mkgpt", "--help"], ["gpt", "--help"]):
        r = subprocess.run(
            [sys.executable, "-m", "qrv", *args], capture_output=True, text=True, check=True
        )
        text = r.stdout.replace("--seed", "")  # the option of `qrv emu` (its random seed)
        assert "emu.sh" not in text and "seed" not in text, (args, r.stdout)
    emu_help = subprocess.run(
        [sys.executable, "-m", "qrv", "emu", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "QEMU" in emu_help.split("--machine", 1)[1]  # --machine says what it chooses


@pytest.mark.parametrize("json", [False, True])
def test_gpt_into_a_full_disk_is_a_write_error(seed_image: Path, json: bool) -> None:
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        status, err = qrv("gpt", *(["--json"] if json else []), str(seed_image), stdout=fd)
    finally:
        os.close(fd)
    assert err == "qrv gpt: write error: No space left on device\n"
    assert status == 2


def test_emu_output_into_a_full_disk_is_a_write_error(tmp_path: Path) -> None:
    fd = os.open("/dev/full", os.O_WRONLY)
    try:
        status, err = qrv("emu", "-c", "echo x", stdout=fd, cwd=tmp_path)
    finally:
        os.close(fd)
    assert "echo: write error: No space left on device\n" in err
    assert status == 1 and "terminated" not in err


def test_emu_with_stdout_closed_is_a_write_error(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "qrv", "emu", "-c", "ls"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=T,
        check=False,
        cwd=tmp_path,
        preexec_fn=closed_stdout,
    )
    err = r.stderr.decode()
    assert "ls: write error: Bad file descriptor\n" in err
    assert r.returncode == 1 and "terminated" not in err


def closed_stdout() -> None:
    os.close(1)  # what the shell's `>&-` does


def test_stdout_closed_at_start_is_a_write_error(seed_image: Path) -> None:
    before = seed_image.read_bytes()
    r = subprocess.run(
        [sys.executable, "-m", "qrv", "gpt", str(seed_image)],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=T,
        check=False,
        preexec_fn=closed_stdout,
    )
    assert (r.returncode, r.stderr.decode()) == (2, "qrv gpt: write error: Bad file descriptor\n")
    assert seed_image.read_bytes() == before


@pytest.mark.parametrize("stdout", ["/dev/full", None])
def test_bytes_written_to_stdout_buffer_fail_as_a_write_error(
    tmp_path: Path, stdout: str | None
) -> None:
    # `qrv fs cat` writes through sys.stdout.buffer, not through qrv's print helper
    image, text = tmp_path / "fs.img", tmp_path / "h.txt"
    text.write_text("hello\n")
    for args in (["mkfs", "--size", "16", str(image)], ["fs", str(image), "put", str(text), "/h"]):
        subprocess.run([sys.executable, "-m", "qrv", *args], capture_output=True, check=True)
    fd = os.open(stdout or os.devnull, os.O_WRONLY)
    try:
        r = subprocess.run(
            [sys.executable, "-m", "qrv", "fs", str(image), "cat", "/h"],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.PIPE,
            timeout=T,
            check=False,
            preexec_fn=None if stdout else closed_stdout,
        )
    finally:
        os.close(fd)
    why = "No space left on device" if stdout else "Bad file descriptor"
    assert (r.returncode, r.stderr.decode()) == (2, f"qrv fs: write error: {why}\n")

"""QEMU dies in the middle of a read (issue 10): the reader gets EIO, devb-nvme says once
which machine was lost and answers EIO from then on, and ``qrv emu`` ends non-zero with one
clear line, never a "terminated" process or a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool

pytestmark = pytest.mark.qemu

T = 60
CHUNK = 1 << 16
P1_BYTES = 16 << 20


def qemu_children(pid: int) -> list[int]:
    """The QEMU processes `pid` started (from /proc/PID/task/*/children)."""
    found: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/children") as f:
            found += [int(c) for c in f.read().split()]
    qemu = []
    for child in found:
        with open(f"/proc/{child}/comm") as f:
            if f.read().startswith("qemu-system"):
                qemu.append(child)
    return qemu


def running_qemu(pid: int) -> int:
    """The one QEMU child of `pid` (the device-tree dump before it has been reaped)."""
    children = qemu_children(pid)
    assert len(children) == 1, children
    return children[0]


def test_qemu_killed_mid_read_is_eio_and_one_clear_line(tmp_path: Path) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    image = tmp_path / "nvme.img"
    create_seed_image(image)
    commands = "cat /dev/nvme0n1p1; cat /dev/nvme0n1p2; ls /dev"
    argv = ["emu", "--nvme", "--machine", "qemu", "--image", str(image), "-c", commands]
    proc = subprocess.Popen(
        [sys.executable, "-m", "qrv", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        got = proc.stdout.read(CHUNK)  # cat is running; it then blocks on the full pipe
        assert len(got) == CHUNK
        qemu = running_qemu(proc.pid)
        os.kill(qemu, signal.SIGKILL)
        rest = proc.stdout.read()
        err = proc.stderr.read().decode()
        status = proc.wait(T)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(got) + len(rest) < P1_BYTES  # the read stopped where the machine went
    assert "cat: /dev/nvme0n1p1: Input/output error\n" in err, err
    assert "cat: /dev/nvme0n1p2: Input/output error\n" in err, err  # the driver still answers
    assert b"\nnvme0n1p1\n" in rest[-200:]  # ls /dev after the loss: the nodes are still there
    lost = [line for line in err.splitlines() if line.startswith("devb-nvme:") and "lost" in line]
    assert lost == [
        "devb-nvme: the machine is lost (QEMU exited with status -9 (killed by SIGKILL)): "
        "every request now fails with EIO"
    ], err
    assert err.splitlines()[-1] == (
        "qrv emu: the machine was lost: QEMU exited with status -9 (killed by SIGKILL)"
    )
    assert status == 2
    assert "terminated" not in err and "Traceback" not in err

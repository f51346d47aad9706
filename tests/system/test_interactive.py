"""`qrv emu` under Ctrl-C and Ctrl-D, as a shell behaves: in a pseudo-terminal and not.

The interactive tests run qrv emu with a pty as its controlling terminal, so
^C and ^D are what the terminal's line discipline makes of the bytes 0x03
and 0x04 (SIGINT to the foreground process group, end of file), exactly as
when a user types them.  Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool

CTRL_C = b"\x03"
CTRL_D = b"\x04"
PROMPT = b"# "
BOOT_T = 60.0
"""Seconds for the boot (first prompt); QEMU's start is the slow part."""
T = 10.0
"""Seconds for anything after the boot: a prompt after ^C, exit after ^D."""
DISK = 64 << 20
"""Size of the seed image qrv emu --nvme creates (64 MiB, the release notes' disk)."""
BAD = (b"Fatal Python error", b"Traceback")


def _take_terminal() -> None:  # pragma: no cover - runs in the child
    """Make the pty on fd 0 the child's controlling terminal (it leads a new session)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Tty:
    """qrv emu on a pty (stdin, stdout and stderr): what it printed so far, and a way to wait."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qrv", "emu", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_take_terminal,  # noqa: PLW1509 - TIOCSCTTY must run in the child
        )
        os.close(slave)
        self.out = bytearray()
        self.mark = 0

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def _pump(self, timeout: float) -> bool:
        """Read what is there (waiting up to `timeout`); False once the pty is closed."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:  # EIO: the child closed its side
            return False
        self.out += data
        return bool(data)

    def expect(self, pattern: bytes, timeout: float = T) -> int:
        """Wait for `pattern` after the mark; move the mark past it; its end offset."""
        deadline = time.monotonic() + timeout
        while True:
            at = self.out.find(pattern, self.mark)
            if at >= 0:
                self.mark = at + len(pattern)
                return self.mark
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(min(left, 0.2)):
                tail = bytes(self.out[-400:])
                pytest.fail(f"no {pattern!r} within {timeout} s; output ends {tail!r}")

    def wait_quiet_prompt(self, timeout: float = T, quiet: float = 0.5) -> None:
        """Wait until the output ends with a prompt and nothing more comes for `quiet` s."""
        deadline = time.monotonic() + timeout
        since = time.monotonic()
        size = len(self.out)
        while time.monotonic() < deadline:
            self._pump(0.05)
            if len(self.out) != size:
                size, since = len(self.out), time.monotonic()
            elif self.out.endswith(PROMPT) and time.monotonic() - since >= quiet:
                self.mark = len(self.out)
                return
        pytest.fail(f"no quiet prompt within {timeout} s; output ends {bytes(self.out[-400:])!r}")

    def finish(self, timeout: float = T) -> tuple[int, bytes]:
        """Wait for exit (draining the pty); (status, the whole transcript with \\n lines)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            if not self._pump(0.05):
                break
        status = self.proc.wait(max(0.1, deadline - time.monotonic()))
        while self._pump(0.05):
            pass
        return status, bytes(self.out).replace(b"\r\n", b"\n")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(T)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        os.close(self.master)


@contextlib.contextmanager
def tty(args: list[str], cwd: Path) -> Iterator[Tty]:
    t = Tty(args, cwd)
    try:
        yield t
    finally:
        t.close()


def test_ctrl_c_at_the_prompt_drops_the_line_and_ctrl_d_exits(tmp_path: Path) -> None:
    with tty([], tmp_path) as t:
        t.expect(PROMPT, BOOT_T)
        t.send(b"echo never-run")
        t.expect(b"never-run")  # echoed by the terminal, not yet read by the shell
        t.send(CTRL_C)
        t.expect(PROMPT)
        t.send(b"echo done-1\n")
        t.expect(b"\r\ndone-1\r\n" + PROMPT)  # the dropped "echo never-run" did not run
        assert b"never-run\r\n" not in t.out
        t.send(b"ls /nope\n")
        t.expect(b"ls /nope\r\nls: /nope: No such file or directory\r\n" + PROMPT)
        t.send(CTRL_D)
        status, err = t.finish()
    assert status == 1  # ^D on an empty line: exit with the last status (ls failed)
    assert err.endswith(PROMPT + b"\n")  # ^D leaves the terminal on a new line
    assert not any(bad in err for bad in BAD), err.decode(errors="replace")


def test_exit_n_and_the_exit_errors(tmp_path: Path) -> None:
    with tty([], tmp_path) as t:
        t.expect(PROMPT, BOOT_T)
        t.send(b"exit 1 2\n")
        t.expect(b"exit 1 2\r\nsh: exit: too many arguments\r\n" + PROMPT)  # still running
        t.send(b"exit 7\n")
        status, err = t.finish()
    assert status == 7
    assert b"sh: exit: too many arguments\n" in err
    assert not any(bad in err for bad in BAD), err.decode(errors="replace")


MACHINES = pytest.mark.parametrize(
    "machine", ["builtin", pytest.param("qemu", marks=pytest.mark.qemu)], ids=str
)


def _machine_args(machine: str) -> list[str]:
    if machine == "qemu":
        require_tool("qemu-system-riscv64", "qemu-system-misc")
    return ["--nvme", "--machine", machine]


@MACHINES
def test_ctrl_c_ends_a_running_command_not_the_shell(tmp_path: Path, machine: str) -> None:
    copies = 4
    total = copies * DISK
    with tty(_machine_args(machine), tmp_path) as t:
        t.expect(PROMPT, BOOT_T)
        t.send(b"cat" + b" /dev/nvme0n1" * copies + b"; echo not-after-ctrl-c\n")
        start = t.expect(b"EFI PART")  # the GPT header (LBA 1) is on its way
        t.send(CTRL_C)
        t.wait_quiet_prompt()
        assert len(t.out) - start < total  # the prompt came back before all was printed
        t.send(b"echo done-2\n")
        t.expect(b"\r\ndone-2\r\n" + PROMPT)
        assert b"\r\nnot-after-ctrl-c\r\n" not in t.out  # ^C ended the whole line, as sh does
        t.send(b"dd if=/dev/nvme0n1 bs=512\n")
        t.expect(b"EFI PART")
        t.send(CTRL_C)
        t.wait_quiet_prompt()
        t.send(CTRL_D)
        status, err = t.finish()
    assert status == 128 + signal.SIGINT  # the last command died of ^C
    assert not any(bad in err for bad in BAD), err.decode(errors="replace")


def _qemu_pids(pid: int) -> list[int]:
    """Host processes started by `pid` (qrv emu's QEMU)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@MACHINES
def test_sigint_ends_a_non_interactive_run_promptly(tmp_path: Path, machine: str) -> None:
    cmd = [sys.executable, "-m", "qrv", "emu", *_machine_args(machine)]
    proc = subprocess.Popen(
        [*cmd, "-c", "cat /dev/nvme0n1; cat /dev/nvme0n1"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,  # not read: the shell's output fills the pipe and blocks
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], BOOT_T)
        assert ready, "no output from cat"
        time.sleep(0.3)  # let cat block on the full pipe
        children = _qemu_pids(proc.pid)
        assert (machine == "qemu") == bool(children)
        os.kill(proc.pid, signal.SIGINT)
        start = time.monotonic()
        status = proc.wait(T)
        elapsed = time.monotonic() - start
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(T)
        proc.stdout.close()
        proc.stderr.close()
    assert status == 128 + signal.SIGINT
    assert elapsed < 5.0
    assert err.endswith(b"qrv emu: interrupted\n"), err.decode(errors="replace")
    assert b"cat:" not in err  # the shell was stopped, not left to go on without the driver
    assert not any(bad in err for bad in BAD), err.decode(errors="replace")
    deadline = time.monotonic() + T
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in children)  # QEMU is gone


LEFT, UP = b"\x1b[D", b"\x1b[A"


def test_line_editing_history_completion_and_redraw(tmp_path: Path) -> None:
    with tty(["--nvme"], tmp_path) as t:
        t.expect(PROMPT, BOOT_T)
        t.send(b"echo abc" + LEFT + LEFT + b"X\r")  # the arrows move the cursor, not the text
        t.expect(b"\r\naXbc\r\n" + PROMPT)
        t.send(UP + b"\r")  # Up recalls the previous line
        t.expect(b"\r\naXbc\r\n" + PROMPT)
        t.send(b"echo /dev/nvme0n\t")  # Tab completes a path (nvme0 is the controller)
        t.expect(b"echo /dev/nvme0n1")
        t.send(b"\r")
        t.expect(b"\r\n/dev/nvme0n1\r\n" + PROMPT)
        t.send(b"hexd\t-C -n 4 /dev/nvme0n1\r")  # and a command name
        t.expect(b"00000000  ")
        t.expect(PROMPT)
        t.send(b"echo one\x0c")  # ^L clears the screen and redraws the line
        t.expect(b"\x1b[H\x1b[2J\r# echo one")
        t.send(b" two\r")
        t.expect(b"\r\none two\r\n" + PROMPT)
        t.send(b"ls /nope 2>&1 | wc -l\r")
        t.expect(b"      1\r\n" + PROMPT)
        t.send(b"echo x\x01\x0b\r")  # ^A then ^K: an empty line, nothing runs
        t.expect(b"\r\n" + PROMPT)
        t.send(b"echo yz" + LEFT + b"\x15\r")  # ^U: what is left of the cursor goes
        t.expect(b"sh: z: not found\r\n" + PROMPT)  # only "z" was left
        t.send(b"history\r")
        t.expect(b"  history\r\n" + PROMPT)
        assert b"    1  echo aXbc\r\n    2  echo aXbc\r\n    3  echo /dev/nvme0n1" in t.out
        t.send(CTRL_D)
        status, out = t.finish()
    assert status == 0
    assert out.endswith(PROMPT + b"\n")
    assert not any(bad in out for bad in BAD), out.decode(errors="replace")

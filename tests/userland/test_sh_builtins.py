"""sh's builtins and its behaviour under ^C (SIGINT) and ^D (end of file).

Expected statuses are POSIX's and bash's: an exit status is 8 bits, a
command ended by SIGINT (2) is 128 + 2, ``exit`` with a non-numeric argument
exits 2, with too many arguments fails (1) without exiting.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator

import pytest

from qrv.kernel import SIGINT, ConsoleInput, Kernel, Stdio
from qrv.userland import sh
from qrv.userland.shsyntax import NAME_CHARS, NAME_START
from tests.kernel.system import Console
from tests.userland.shell import T, run

INTERRUPTED = 128 + 2


@pytest.fixture
def k(sysk) -> Kernel:
    kernel, _ = sysk
    return kernel


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("exit 0", 0),
        ("exit 3", 3),
        ("exit +4", 4),
        ("exit 256", 0),
        ("exit 257", 1),
        ("exit -1", 255),
    ],
)
def test_exit_status_is_eight_bits(k, line: str, status: int) -> None:
    r = run(k, line + "; echo never")
    assert (r.status, r.text, r.errtext) == (status, "", "")


def test_exit_with_too_many_arguments_fails_and_the_shell_goes_on(k) -> None:
    r = run(k, "exit 1 2; echo still-here")
    assert (r.status, r.text) == (0, "still-here\n")
    assert r.errtext == "sh: exit: too many arguments\n"
    r = run(k, "exit 1 2")
    assert r.status == 1
    r = run(k, None, stdin=b"exit 5 6\necho read-on\n")  # the same reading commands from stdin
    assert (r.status, r.text) == (0, "read-on\n")


def test_exit_with_a_non_numeric_argument_exits_2(k) -> None:
    for line in ("exit foo", "exit foo 1", "exit 1x", "exit ''"):
        r = run(k, line + "; echo never")
        assert r.status == 2, line
        assert r.text == ""
        assert "numeric argument required" in r.errtext


class ScriptedTty(io.RawIOBase):
    """A terminal whose reads are scripted: bytes give a line, None a ^C (EINTR)."""

    def __init__(self, reads: list[bytes | None]) -> None:
        super().__init__()
        self.reads = reads

    def isatty(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        if not self.reads:
            return b""  # ^D
        item = self.reads.pop(0)
        if item is None:
            raise InterruptedError
        return item


def _interactive(k: Kernel, reads: list[bytes | None]) -> tuple[int, bytes, bytes]:
    console = Console()
    stdio = Stdio(ScriptedTty(reads), console.stdout, console.stderr)  # type: ignore[arg-type]
    status = k.waitpid(k.spawn(sh.main, ["sh"], stdio=stdio), T)
    return status, console.stdout.getvalue(), console.stderr.getvalue()


def test_ctrl_c_at_the_prompt_gives_a_fresh_prompt(k) -> None:
    # the prompt and the newlines of ^C and ^D go to stderr; stdout has only the output
    status, out, err = _interactive(k, [None, b"echo hi\n"])
    assert (status, out, err) == (0, b"hi\n", b"# \n# # \n")
    status, out, err = _interactive(k, [b"echo a\n", None])  # ^C, then ^D: the ^C's status
    assert (status, out, err) == (INTERRUPTED, b"a\n", b"# # \n# \n")


@pytest.fixture
def blocking_stdin() -> Iterator[ConsoleInput]:
    """A console stdin over a pipe nobody writes to: a read of it blocks."""
    r, w = os.pipe()
    try:
        yield ConsoleInput(r)
    finally:
        os.close(r)
        os.close(w)


def _wait_child(k: Kernel, parent: int) -> int:
    deadline = time.monotonic() + T
    while not (kids := k.descendants(parent)):
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.01)
    return kids[0]


def test_a_command_killed_by_sigint_is_130_and_ends_the_line(
    k, blocking_stdin: ConsoleInput
) -> None:
    console = Console()
    stdio = Stdio(blocking_stdin, console.stdout, console.stderr)  # type: ignore[arg-type]
    pid = k.spawn(sh.main, ["sh", "-c", "cat; echo after"], stdio=stdio)
    cat = _wait_child(k, pid)
    k.kill(cat, SIGINT)
    assert k.waitpid(pid, T) == INTERRUPTED
    assert console.stdout.getvalue() == b""  # "echo after" did not run
    assert console.stderr.getvalue() == b""  # no crash report for the killed cat


def test_ctrl_c_interrupts_a_shell_blocked_reading_the_console(
    k, blocking_stdin: ConsoleInput
) -> None:
    class Tty(ConsoleInput):
        def isatty(self) -> bool:
            return True

    stdin = Tty(blocking_stdin.fd)
    console = Console()
    stdio = Stdio(stdin, console.stdout, console.stderr)  # type: ignore[arg-type]
    pid = k.spawn(sh.main, ["sh"], stdio=stdio)
    deadline = time.monotonic() + T
    while console.stderr.getvalue() != b"# ":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stdin.interrupt()  # ^C at the prompt: the shell's read fails with EINTR
    while console.stderr.getvalue() != b"# ^C\n# ":  # edit mode: no terminal echo of ^C
        assert time.monotonic() < deadline, console.stderr.getvalue()
        time.sleep(0.01)
    assert k.process(pid).status is None  # still running
    k.kill(pid, SIGINT)  # a shell that does not catch it (a kill from outside) ends
    assert k.waitpid(pid, T) == -SIGINT


def test_an_assignment_is_a_shell_name_then_equals() -> None:
    """sh.ASSIGNMENT (written with ranges) takes exactly NAME_START, then NAME_CHARS."""
    for code in range(256):
        c = chr(code)
        assert bool(sh.ASSIGNMENT.fullmatch(c + "=")) == (c in NAME_START)
        assert bool(sh.ASSIGNMENT.fullmatch("a" + c + "=")) == (c in NAME_CHARS)
    assert sh.ASSIGNMENT.match("PATH=/bin") and not sh.ASSIGNMENT.match("=x")


def test_umask_prints_sets_and_is_inherited(k) -> None:
    r = run(k, "umask; umask 077; umask; sh -c umask; umask 0; umask; umask 0777; umask")
    assert (r.status, r.text, r.errtext) == (0, "0022\n0077\n0077\n0000\n0777\n", "")
    r = run(k, "sh -c 'umask 7'; umask")  # a child's umask is its own
    assert r.text == "0022\n"


@pytest.mark.parametrize("mode", ["8", "1000", "u=rwx", "-1", "", "0x1"])
def test_umask_refuses_a_bad_mode_in_one_line(k, mode: str) -> None:
    r = run(k, f"umask '{mode}'; echo $?; umask")
    assert r.text == "1\n0022\n"
    assert r.errtext == f"sh: umask: '{mode}': not an octal mode (0 to 0777)\n"


def test_umask_with_two_operands_is_a_usage_error(k) -> None:
    r = run(k, "umask 1 2; echo $?")
    assert (r.text, r.errtext) == ("2\n", "sh: umask: usage: umask [MODE]\n")

"""The host console streams, and killing processes as a signal's default action does.

The console streams are checked over real pipes (what ``qrv emu`` gets when
its stdio is redirected): what a read returns, that ``interrupt()`` makes a
blocked read fail with EINTR, and that a process blocked reading or writing
the console is torn down promptly when it is killed.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Iterator

import pytest

from qrv.kernel import (
    EXIT_INTERRUPTED,
    SIGINT,
    ConsoleInput,
    ConsoleOutput,
    Kernel,
    Stdio,
)
from qrv.lib.c import proc, stdio
from tests.kernel.system import Console

T = 10.0
PROMPT_S = 2.0
"""A kill must end a blocked console read or write well within this (s)."""


class Pipe:
    """A host pipe; each end closed once (by the test or at the end)."""

    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        self.open = {self.r, self.w}

    def close(self, fd: int) -> None:
        if fd in self.open:
            self.open.discard(fd)
            os.close(fd)


@pytest.fixture
def pipe() -> Iterator[Pipe]:
    p = Pipe()
    try:
        yield p
    finally:
        for fd in list(p.open):
            p.close(fd)


def _in_thread(fn) -> tuple[threading.Thread, dict[str, object]]:
    result: dict[str, object] = {}

    def body() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:
            result["error"] = exc

    th = threading.Thread(target=body, daemon=True)
    th.start()
    return th, result


def test_input_lines_partial_lines_and_end_of_file(pipe: Pipe) -> None:
    r, w = pipe.r, pipe.w
    stdin = ConsoleInput(r)
    os.write(w, b"one\ntwo\nthr")
    assert stdin.readline() == b"one\n"
    assert stdin.read1(100) == b"two\nthr"  # what is there, no more
    os.write(w, b"ee\nfour")
    assert stdin.readline() == b"ee\n"
    pipe.close(w)
    assert stdin.readline() == b"four"  # a last line without newline, at end of file
    assert stdin.readline() == b""
    assert stdin.read() == b""


def test_input_readline_waits_for_the_newline(pipe: Pipe) -> None:
    r, w = pipe.r, pipe.w
    stdin = ConsoleInput(r)
    os.write(w, b"par")
    th, result = _in_thread(stdin.readline)
    time.sleep(0.2)
    assert th.is_alive()  # no newline yet
    os.write(w, b"tial\n")
    th.join(T)
    assert result == {"value": b"partial\n"}


def test_interrupt_fails_a_blocked_read_with_eintr_and_drops_typeahead(pipe: Pipe) -> None:
    r, w = pipe.r, pipe.w
    stdin = ConsoleInput(r)
    os.write(w, b"typed\nahead\n")
    assert stdin.readline() == b"typed\n"  # "ahead\n" is now buffered
    stdin.interrupt()
    os.write(w, b"fresh\n")
    assert stdin.readline() == b"fresh\n"  # the buffered line was dropped

    th, result = _in_thread(stdin.readline)
    time.sleep(0.2)
    stdin.interrupt()
    th.join(T)
    assert not th.is_alive()
    error = result.get("error")
    assert isinstance(error, InterruptedError) and error.errno == errno.EINTR
    os.write(w, b"next\n")
    assert stdin.readline() == b"next\n"  # one interrupt fails one read only


def test_output_writes_every_byte(pipe: Pipe) -> None:
    r, w = pipe.r, pipe.w
    out = ConsoleOutput(w)
    data = bytes(range(256)) * 1000  # more than a pipe holds: written in pieces
    chunks: list[bytes] = []
    reader, _ = _in_thread(lambda: chunks.extend(iter(lambda: os.read(r, 65536), b"")))
    assert out.write(data) == len(data)
    pipe.close(w)
    reader.join(T)
    assert b"".join(chunks) == data


def _console_kernel(stdio: Stdio) -> Kernel:
    return Kernel(None, stdio)


def _blocked(k: Kernel, pid: int) -> None:
    time.sleep(0.2)
    assert k.process(pid).status is None  # still blocked on the console


def test_kill_ends_a_process_blocked_reading_the_console(pipe: Pipe) -> None:
    r = pipe.r
    console = Console()
    k = _console_kernel(Stdio(ConsoleInput(r), console.stdout, console.stderr))  # type: ignore[arg-type]
    try:
        pid = k.spawn(lambda argv: len(stdio.stdin().readline()), ["reader"])
        _blocked(k, pid)
        start = time.monotonic()
        k.kill(pid, SIGINT)
        assert k.waitpid(pid, T) == EXIT_INTERRUPTED == -2
        assert time.monotonic() - start < PROMPT_S
        assert console.stderr.getvalue() == b""  # killed, not crashed
    finally:
        k.shutdown()


def test_kill_ends_a_process_blocked_writing_the_console(pipe: Pipe) -> None:
    w = pipe.w
    console = Console()
    k = _console_kernel(Stdio(console.stdin, ConsoleOutput(w), console.stderr))  # type: ignore[arg-type]

    def flood(argv: list[str]) -> int:
        while True:
            stdio.stdout().write(bytes(65536))  # nobody reads: the pipe fills, the write waits

    try:
        pid = k.spawn(flood, ["flood"])
        _blocked(k, pid)
        start = time.monotonic()
        k.kill(pid, SIGINT)
        assert k.waitpid(pid, T) == -SIGINT
        assert time.monotonic() - start < PROMPT_S
    finally:
        k.shutdown()


def test_kill_errors_and_descendants(sysk) -> None:
    k, _ = sysk
    gate = threading.Event()

    def leaf(argv: list[str]) -> int:
        proc.delay(T)
        return 0

    def parent(argv: list[str]) -> int:
        proc.spawn(leaf, ["leaf"])
        proc.spawn(leaf, ["leaf"])
        gate.set()
        proc.delay(T)
        return 0

    top = k.spawn(parent, ["parent"])
    assert gate.wait(T)
    kids = k.descendants(top)
    assert len(kids) == 2 and all(kid > top for kid in kids)
    assert k.descendants(kids[0]) == []
    assert k.descendants(999) == []
    for kid in kids:
        k.kill(kid)
        assert k.waitpid(kid, T) == -SIGINT
    assert k.descendants(top) == []
    with pytest.raises(OSError) as info:
        k.kill(999)
    assert info.value.errno == errno.ESRCH
    with pytest.raises(OSError) as info:
        k.kill(1)  # procnto is not killable
    assert info.value.errno == errno.ESRCH
    k.kill(top, 15)
    assert k.waitpid(top, T) == -15


def test_no_spawn_once_the_kernel_is_shut_down() -> None:
    k = Kernel(None, Console().stdio())
    k.shutdown()
    with pytest.raises(OSError) as info:
        k.spawn(lambda argv: 0, ["late"])
    assert info.value.errno == errno.ESRCH


def test_a_thread_blocked_on_console_input_lets_every_other_thread_run(pipe: Pipe) -> None:
    """One CPU thread runs every modelled thread: a console read must block only its reader."""
    console = Console()
    k = _console_kernel(Stdio(ConsoleInput(pipe.r), console.stdout, console.stderr))  # type: ignore[arg-type]
    try:
        reader = k.spawn(lambda argv: len(stdio.stdin().readline()), ["reader"])

        def worker(argv: list[str]) -> int:
            for _ in range(100):
                proc.sched_yield()
            proc.delay(0.01)
            return 7

        # the worker runs to its end while the reader waits for a line nobody typed yet
        assert k.waitpid(k.spawn(worker, ["worker"]), T) == 7
        states = {p.name: p.threads[0].state for p in k.snapshot()}
        assert states["reader"] != "DEAD" and k.process(reader).status is None
        os.write(pipe.w, b"typed\n")
        assert k.waitpid(reader, T) == len(b"typed\n")
    finally:
        k.shutdown()

"""The shell's language through real processes: quotes, $?, globs, redirections, pipes, jobs."""

from __future__ import annotations

import pytest

from qrv.servers.pipe.main import main as pipe_main
from qrv.spec.iomsg import S_IFBLK
from tests.lib.c.memfs import BLOCK_RO, memfs
from tests.userland.conftest import BIG, BLOB
from tests.userland.shell import run


@pytest.fixture
def k(sysk):
    k, _ = sysk
    files = {
        "/dev/blob": (BLOCK_RO, BLOB),
        "/dev/big": (BLOCK_RO, BIG),
        "/dev/nvme0n1": (BLOCK_RO, b"N" * 16),
        "/dev/nvme0n1p1": (BLOCK_RO, b"P" * 16),
        "/dev/ram": (S_IFBLK | 0o666, bytes(32)),
    }
    pid = k.spawn(memfs(files), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    pipe = k.spawn(pipe_main, ["pipe"])
    assert k.wait_ready(pipe, "/dev/pipe", 5)
    return k


def test_quotes_backslash_and_comments(k) -> None:
    r = run(k, """echo 'a  b' "c  d" e\\ f "x\\"y" '$HOME' # not echoed""")
    assert (r.status, r.text) == (0, 'a  b c  d e f x"y $HOME\n')


def test_and_or_and_status(k) -> None:
    assert run(k, "false || echo ok").text == "ok\n"
    assert run(k, "true && echo yes; false && echo no").text == "yes\n"
    assert run(k, "ls /nope; echo $?").text == "1\n"
    assert run(k, "nosuch; echo $?").text == "127\n"
    assert run(k, "false; echo ${?}").text == "1\n"
    r = run(k, "false")
    assert r.status == 1


def test_variables_export_and_env(k) -> None:
    r = run(k, "A=1; B='two words'; echo $A \"$B\" ${A}x $NOPE.")
    assert r.text == "1 two words 1x .\n"
    r = run(k, "export X=7; sh -c 'echo $X'; Y=local; sh -c 'echo [$Y]'")
    assert r.text == "7\n[]\n"
    r = run(k, "export A=1 B=2; export")
    assert r.text == "export A='1'\nexport B='2'\n"


def test_globs_over_the_pathname_space(k) -> None:
    assert run(k, "echo /dev/nvme*").text == "/dev/nvme0n1 /dev/nvme0n1p1\n"
    assert run(k, "echo /dev/nvme0n1p?").text == "/dev/nvme0n1p1\n"
    assert run(k, "echo /dev/b[il]*").text == "/dev/big /dev/blob\n"
    assert run(k, "echo /dev/nothing* '/dev/*'").text == "/dev/nothing* /dev/*\n"


def test_redirections_on_device_nodes(k) -> None:
    r = run(k, "echo a > /dev/null; echo $?")
    assert (r.status, r.text) == (0, "0\n")
    r = run(k, "ls /nope 2> /dev/null; echo $?")
    assert (r.text, r.errtext) == ("1\n", "")
    r = run(k, "ls /nope 2>&1")
    assert (r.status, r.text, r.errtext) == (1, "ls: /nope: No such file or directory\n", "")
    r = run(k, "hexdump -C < /dev/nvme0n1")
    assert r.text.startswith("00000000  4e 4e 4e"), r.errtext
    r = run(k, "echo x > /nope/file; echo $?")
    assert r.text == "1\n"
    assert r.errtext == "sh: /nope/file: No such file or directory\n"
    r = run(k, "echo > /dev/blob")  # a read-only device
    assert r.status == 1
    assert "Read-only file system" in r.errtext or "Permission denied" in r.errtext


def test_redirected_output_is_written_to_the_device(k) -> None:
    r = run(k, "echo -n hello > /dev/ram; hexdump -C -n 8 /dev/ram")
    assert r.text.startswith("00000000  68 65 6c 6c 6f 00 00 00"), r.errtext


def test_pipelines_carry_the_bytes(k) -> None:
    r = run(k, "cat /dev/blob | cat | cat")
    assert (r.status, r.out) == (0, BLOB)
    r = run(k, "cat /dev/nvme0n1 | hexdump -C -n 4")
    assert r.text.startswith("00000000  4e 4e 4e 4e"), r.errtext
    r = run(k, "cat /dev/blob | hexdump -C -s 16 -n 16")  # a pipe cannot seek: read past
    assert r.text == run(k, "hexdump -C -s 16 -n 16 /dev/blob").text
    r = run(k, "ls /nope 2>&1 | cat")
    assert r.text == "ls: /nope: No such file or directory\n"


def test_a_reader_that_ends_early_ends_the_writer(k) -> None:
    # hexdump stops after 16 bytes; cat (4 MiB to go) gets EPIPE and ends quietly
    r = run(k, "cat /dev/big | hexdump -n 16 -C; echo $?")
    assert r.text.endswith("0\n")
    assert r.errtext == ""
    r = run(k, "cat /dev/big | false")
    assert r.status == 1


def test_a_pipeline_status_is_the_last_stage(k) -> None:
    assert run(k, "false | true").status == 0
    assert run(k, "true | false").status == 1
    assert run(k, "echo a | nosuch").status == 127


def test_background_jobs_and_wait(k) -> None:
    r = run(k, "echo bg > /dev/null & wait; echo $?")
    assert r.text == "0\n"
    r = run(k, "false & wait $!; echo $?")
    assert r.text == "1\n"
    r = run(k, "true & jobs; wait %1; jobs")
    assert r.text.startswith("[1] ")
    assert r.text.count("\n") == 1
    r = run(k, "wait %9")
    assert (r.status, r.errtext) == (127, "sh: wait: %9: no such job\n")
    r = run(k, "false && echo no & wait $!; echo $?")
    assert r.text == "1\n"


def test_syntax_errors_are_one_line_status_2(k) -> None:
    for line in ("echo 'open", "| cat", "echo >", "cat &&", 'echo "x', "echo 3>x", "echo ${"):
        r = run(k, line)
        assert r.status == 2, line
        assert r.errtext.startswith("sh: syntax error: "), line
        assert r.errtext.count("\n") == 1, line


def test_help_and_use(k) -> None:
    r = run(k, "help")
    names = [line.split()[0] for line in r.text.splitlines()]
    assert {"cat", "echo", "help", "use", "exit", "jobs", "wait"} <= set(names)
    assert names == sorted(names)
    assert run(k, "use cat").text.startswith("cat [-u] [FILE...]")
    assert run(k, "use wait").text.startswith("wait ")
    r = run(k, "use nope")
    assert (r.status, r.errtext) == (1, "use: nope: not found\n")
    assert run(k, "use").status == 2
    r = run(k, "help --bad")
    assert r.status == 2
    assert "--bad" in r.errtext


def test_history_needs_an_interactive_shell(k) -> None:
    assert run(k, "history").text == ""

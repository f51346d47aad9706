"""The everyday commands: wc, head, tail, grep, sleep, kill/slay, uname, env, clear, cd/pwd."""

from __future__ import annotations

import pytest

from qrv.servers.pipe.main import main as pipe_main
from qrv.userland.commands import COMMANDS
from tests.lib.c.memfs import BLOCK_RO, memfs
from tests.userland.shell import ClosedPipe, run

TEXT = b"alpha one\nbeta two\n\ngamma  three four\nALPHA five\nlast"


@pytest.fixture
def k(sysk):
    k, _ = sysk
    files = {"/dev/text": (BLOCK_RO, TEXT), "/dev/other": (BLOCK_RO, b"x\ny\n")}
    pid = k.spawn(memfs(files), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    pipe = k.spawn(pipe_main, ["pipe"])
    assert k.wait_ready(pipe, "/dev/pipe", 5)
    return k


def test_wc(k) -> None:
    assert run(k, "wc /dev/text").text == "      5      10      53 /dev/text\n"
    assert run(k, "wc -l /dev/text").text == "      5 /dev/text\n"
    assert run(k, "wc -c < /dev/text").text == "     53\n"
    r = run(k, "wc -lw /dev/text /dev/other")
    assert r.text.splitlines() == [
        "      5      10 /dev/text",
        "      2       2 /dev/other",
        "      7      12 total",
    ]
    r = run(k, "wc /dev/text /nope")
    assert r.status == 1
    assert r.errtext == "wc: /nope: No such file or directory\n"


def test_wc_counts_words_across_read_boundaries(k) -> None:
    r = run(k, "hexdump -C /dev/text | wc -l")
    assert r.text.strip() == "5"


def test_head_and_tail(k) -> None:
    assert run(k, "head -n 2 /dev/text").text == "alpha one\nbeta two\n"
    assert run(k, "head -c 5 /dev/text").text == "alpha"
    assert run(k, "tail -n 2 /dev/text").text == "ALPHA five\nlast"
    assert run(k, "tail -c 4 /dev/text").text == "last"
    assert run(k, "head -n 0 /dev/text").text == ""
    assert run(k, "cat /dev/text | head -n 1").text == "alpha one\n"
    r = run(k, "head -n 1 /dev/text /dev/other")
    assert r.text == "==> /dev/text <==\nalpha one\n\n==> /dev/other <==\nx\n"
    r = run(k, "head -n x /dev/text")
    assert (r.status, r.errtext.splitlines()[0]) == (2, "head: bad line count 'x'")


def test_grep(k) -> None:
    assert run(k, "grep alpha /dev/text").text == "alpha one\n"
    assert run(k, "grep -i alpha /dev/text").text == "alpha one\nALPHA five\n"
    assert run(k, "grep -c a /dev/text").text == "4\n"
    assert run(k, "grep -n 'e.*o' /dev/text").text == "2:beta two\n4:gamma  three four\n"
    assert run(k, "grep -v a /dev/text").text == "\nALPHA five\n"
    assert run(k, "grep -F 'a.' /dev/text").status == 1
    assert run(k, "grep '^l' /dev/text").text == "last\n"
    r = run(k, "grep x /dev/text /dev/other")
    assert r.text == "/dev/other:x\n"
    r = run(k, "grep '(' /dev/text")
    assert r.status == 2
    assert r.errtext.startswith("grep: bad pattern '('")
    r = run(k, "grep a /nope")
    assert (r.status, r.errtext) == (2, "grep: /nope: No such file or directory\n")
    r = run(k, "grep")
    assert r.status == 2


def test_sleep_and_its_errors(k) -> None:
    assert run(k, "sleep 0.01 && echo slept").text == "slept\n"
    for bad in ("sleep", "sleep x", "sleep -1", "sleep 1 2", "sleep nan"):
        r = run(k, bad)
        assert r.status == 2, bad
        assert "usage: sleep SECONDS" in r.errtext


def test_kill_and_slay(k) -> None:
    r = run(k, "sleep 100 & kill $!; wait $!; echo $?")
    assert r.text == "143\n"  # 128 + SIGTERM
    r = run(k, "sleep 100 & kill -INT $!; wait $!; echo $?")
    assert r.text == "130\n"
    r = run(k, "sleep 100 & kill -s 9 $!; wait $!; echo $?")
    assert r.text == "137\n"
    r = run(k, "sleep 100 & slay sleep; wait; echo done")
    assert r.text == "done\n"
    r = run(k, "kill 999")
    assert (r.status, r.errtext) == (1, "kill: 999: No such process\n")
    r = run(k, "kill -0 1")
    assert (r.status, r.errtext) == (1, "kill: 1: No such process\n")  # procnto is not signalled
    r = run(k, "slay nothing-of-that-name")
    assert (r.status, r.errtext) == (1, "slay: nothing-of-that-name: no such process\n")
    r = run(k, "kill -FOO 5")
    assert r.status == 2
    assert "kill: unknown signal '-FOO'" in r.errtext


def test_uname_env_clear(k) -> None:
    assert run(k, "uname").text == "QRV\n"
    assert run(k, "uname -a").text.split() == ["QRV", "localhost", "0.24.0", "qrv-v0.24", "riscv64"]
    assert run(k, "uname -m").text == "riscv64\n"
    assert run(k, "export B=2 A=1; env").text == "A=1\nB=2\n"
    assert run(k, "clear").out == b"\x1b[H\x1b[2J"


def test_cd_and_pwd(k) -> None:
    assert run(k, "pwd; cd /dev; pwd; ls text; echo o*; cd ..; pwd").text == (
        "/\n/dev\ntext\nother\n/\n"
    )
    r = run(k, "cd /nope")
    assert (r.status, r.errtext) == (1, "sh: cd: /nope: No such file or directory\n")
    r = run(k, "cd /dev/text")
    assert (r.status, r.errtext) == (1, "sh: cd: /dev/text: Not a directory\n")
    assert run(k, "cd /dev; sh -c pwd").text == "/dev\n"  # a child starts in its parent's


# echo, true, false take no options (POSIX); lspci follows pciutils (its own tests)
@pytest.mark.parametrize("name", sorted(set(COMMANDS) - {"sh", "true", "false", "echo", "lspci"}))
def test_every_command_answers_help_and_bad_options_with_usage(k, name: str) -> None:
    r = run(k, f"{name} --help")
    assert (r.status, r.text) == (2, ""), name
    assert "usage" in r.errtext.lower(), name
    r = run(k, f"{name} -Z")
    assert r.status == 2, name
    assert "-Z" in r.errtext, name
    assert r.text == "", name


@pytest.mark.parametrize("line", ["grep a /dev/text", "head -n 3 /dev/text", "tail /dev/text"])
def test_quiet_on_a_broken_pipe(k, line: str) -> None:
    r = run(k, line, stdout=ClosedPipe(0))
    assert (r.status, r.errtext) == (141, "")

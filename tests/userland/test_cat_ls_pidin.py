"""cat on directories and broken pipes; ls operand headers; pidin usage errors."""

from __future__ import annotations

from tests.userland.conftest import BLOB
from tests.userland.shell import ClosedPipe, run


def test_cat_on_a_directory_is_an_error(box) -> None:
    r = run(box, "cat /dev")
    assert (r.status, r.out, r.errtext) == (1, b"", "cat: /dev: Is a directory\n")
    r = run(box, "cat / /dev/blob")  # the next operand is still copied
    assert (r.status, r.out, r.errtext) == (1, BLOB, "cat: /: Is a directory\n")


def test_cat_ends_quietly_on_a_broken_pipe(box) -> None:
    r = run(box, "cat /dev/big", stdout=ClosedPipe(10))
    assert (r.status, r.out, r.err) == (141, bytes(10), b"")


def test_echo_and_ls_end_quietly_on_a_broken_pipe(box) -> None:
    for line in ("echo hello", "ls /dev", "ls -l /dev /", "pidin"):
        r = run(box, line, stdout=ClosedPipe(0))
        assert (r.status, r.err) == (141, b""), line


def test_ls_l_files_have_no_headers(box) -> None:
    r = run(box, "ls -l /dev/ram /dev/blob")
    assert r.status == 0, r.errtext
    assert r.text.splitlines() == [
        "br--r--r--  1     0     0     3069 /dev/blob",
        "brw-rw-rw-  1     0     0       32 /dev/ram",
    ]


def test_ls_files_first_then_headed_directories(box) -> None:
    # coreutils: non-directory operands (sorted), a blank line, then each directory with a header
    r = run(box, "ls /dev/tty / /dev/blob")
    assert (r.status, r.text) == (0, "/dev/blob\n/dev/tty\n\n/:\ndev\n")
    r = run(box, "ls / /")
    assert r.text == "/:\ndev\n\n/:\ndev\n"
    r = run(box, "ls /nope /")  # a failed operand still counts: the header stays
    assert (r.status, r.text) == (1, "/:\ndev\n")
    assert r.errtext == "ls: /nope: No such file or directory\n"
    assert run(box, "ls /").text == "dev\n"


def test_pidin_unknown_option_is_a_usage_error(box) -> None:
    r = run(box, "pidin -x")
    assert (r.status, r.out, r.errtext) == (2, b"", "pidin: unknown option '-x' (usage: pidin)\n")
    r = run(box, "pidin mem")
    assert (r.status, r.errtext) == (2, "pidin: unknown argument 'mem' (usage: pidin)\n")

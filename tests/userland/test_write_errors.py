"""A failed stdout write (disk full, closed descriptor) is one line naming the program and
the error, status 1: as coreutils' ``cat: write error: No space left on device``."""

from __future__ import annotations

import errno

import pytest

from tests.userland.shell import FailingOutput, run

COMMANDS = ["echo x", "ls /dev", "ls -l /", "cat /dev/blob", "hexdump -C /dev/blob", "pidin"]


@pytest.mark.parametrize("line", COMMANDS)
@pytest.mark.parametrize(
    ("err", "text"),
    [(errno.ENOSPC, "No space left on device"), (errno.EBADF, "Bad file descriptor")],
)
def test_failed_stdout_write_is_a_write_error(box, line: str, err: int, text: str) -> None:
    r = run(box, line, stdout=FailingOutput(err))
    cmd = line.split(maxsplit=1)[0]
    assert (r.status, r.errtext) == (1, f"{cmd}: write error: {text}\n")


def test_the_shell_goes_on_after_a_write_error(box) -> None:
    r = run(box, "echo x; exit 7", stdout=FailingOutput(errno.ENOSPC))
    assert (r.status, r.errtext) == (7, "echo: write error: No space left on device\n")

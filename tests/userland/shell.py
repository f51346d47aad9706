"""Run shell command lines inside a kernel with captured console streams."""

from __future__ import annotations

import errno
import io
import os
from dataclasses import dataclass

from qrv.kernel import Kernel
from qrv.userland import sh
from tests.kernel.system import Console

T = 10.0


@dataclass
class Result:
    status: int
    out: bytes
    err: bytes

    @property
    def text(self) -> str:
        return self.out.decode()

    @property
    def errtext(self) -> str:
        return self.err.decode()


class ClosedPipe(io.BytesIO):
    """A pipe whose reader goes away after taking `keep` bytes: then EPIPE, as write(2) gives."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def write(self, data: bytes) -> int:  # type: ignore[override]
        room = self.keep - self.tell()
        if room <= 0:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        return super().write(bytes(data)[:room])


def run(
    k: Kernel, line: str | None = None, stdin: bytes = b"", stdout: io.BytesIO | None = None
) -> Result:
    """``sh -c line`` (or sh reading `stdin` when line is None); `stdout` replaces the capture."""
    console = Console(stdin)
    if stdout is not None:
        console.stdout = stdout
    argv = ["sh"] if line is None else ["sh", "-c", line]
    status = k.waitpid(k.spawn(sh.main, argv, stdio=console.stdio()), T)
    return Result(status, console.stdout.getvalue(), console.stderr.getvalue())


class FailingOutput(io.BytesIO):
    """An output whose every write fails with `err`: ENOSPC as /dev/full, EBADF as a closed fd."""

    def __init__(self, err: int) -> None:
        super().__init__()
        self.errno = err

    def write(self, data: bytes) -> int:  # type: ignore[override]
        raise OSError(self.errno, os.strerror(self.errno))

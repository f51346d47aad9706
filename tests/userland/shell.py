"""Run shell command lines inside a kernel with captured console streams."""

from __future__ import annotations

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


def run(k: Kernel, line: str | None = None, stdin: bytes = b"") -> Result:
    """``sh -c line`` (or sh reading `stdin` when line is None)."""
    console = Console(stdin)
    argv = ["sh"] if line is None else ["sh", "-c", line]
    status = k.waitpid(k.spawn(sh.main, argv, stdio=console.stdio()), T)
    return Result(status, console.stdout.getvalue(), console.stderr.getvalue())

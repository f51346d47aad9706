"""uname [-amnrsv]: the system's name (``-s``, the default), node, release, version, machine."""

from __future__ import annotations

from qrv import __version__
from qrv.userland._opts import Usage, options, usage_error
from qrv.userland._util import dies_of_sigpipe, out

USAGE = "uname [-amnrsv]"
FIELDS = {
    "-s": "QRV",
    "-n": "localhost",
    "-r": __version__,
    "-v": "qrv-v0.24",
    "-m": "riscv64",
}


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts, rest = options("uname", argv[1:], "amnrsv")
        if rest:
            raise Usage(f"unknown argument '{rest[0]}'")
    except Usage as exc:
        return usage_error("uname", USAGE, exc)
    chosen = list(FIELDS) if "-a" in opts else [k for k in FIELDS if k in opts] or ["-s"]
    out(" ".join(FIELDS[k] for k in chosen) + "\n")
    return 0

"""devb-nvme's command line: QNX-style ``key=value`` words, also as ``-o a,b=c``.

``timeout=S`` bounds one command (seconds), ``depth=N`` is each I/O queue's
entries, ``queues=N`` the I/O queue pairs asked of Set Features (at most
:data:`MAX_IO_QUEUES`; the controller may grant fewer), ``threads=N`` the
resource manager's thread pool (requests served at once), ``poll`` keeps
polling for completions instead of the interrupt service thread, ``intx``
attaches the controller's INTx wire even where MSI-X is available, ``verbose``
and ``rw`` as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qrv.drivers.devb_nvme.controller import COMMAND_TIMEOUT_S, DEFAULT_IO_ENTRIES
from qrv.errors import NvmeError

DEFAULT_IO_QUEUES = 4
MAX_IO_QUEUES = 16
"""The cap on I/O queue pairs (Linux makes one per CPU; this system has one CPU, so
more queues only spread commands, they add no parallelism)."""
DEFAULT_THREADS = 16
MAX_THREADS = 64
USAGE = "timeout=S, depth=N, queues=N, threads=N, poll, intx, verbose, rw"


@dataclass(frozen=True)
class Options:
    timeout_s: float = COMMAND_TIMEOUT_S
    depth: int = DEFAULT_IO_ENTRIES
    queues: int = DEFAULT_IO_QUEUES
    threads: int = DEFAULT_THREADS
    poll: bool = False
    intx: bool = False
    verbose: bool = False
    writable: bool = False


def _words(argv: list[str]) -> list[str]:
    """The option words: ``-o a,b`` spelled out, everything else as given."""
    words: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if arg == "-o":
            listed = next(args, None)
            if listed is None:
                raise NvmeError(f"-o needs a list of options ({USAGE})")
            words += [w for w in listed.split(",") if w]
        else:
            words.append(arg)
    return words


def _apply(opts: Options, key: str, value: str) -> Options:
    if key == "timeout":
        return replace(opts, timeout_s=float(value))
    if key == "depth":
        return replace(opts, depth=int(value))
    if key == "queues":
        return replace(opts, queues=int(value))
    if key == "threads":
        return replace(opts, threads=int(value))
    flags = {"verbose": "verbose", "poll": "poll", "intx": "intx", "rw": "writable"}
    if key in flags and not value:
        return replace(opts, **{flags[key]: True})
    raise ValueError(key)


def parse_options(argv: list[str]) -> Options:
    """QNX-style ``key=value`` options (as ``devb-nvme depth=16 -o poll``)."""
    opts = Options()
    for arg in _words(argv):
        key, _, value = arg.partition("=")
        try:
            opts = _apply(opts, key, value)
        except ValueError:
            raise NvmeError(f"bad option '{arg}' (expected {USAGE})") from None
    if opts.depth < 2 or opts.timeout_s <= 0:
        raise NvmeError("depth must be >= 2 and timeout > 0")
    if not 1 <= opts.queues <= MAX_IO_QUEUES:
        raise NvmeError(f"queues must be 1..{MAX_IO_QUEUES}")
    if not 1 <= opts.threads <= MAX_THREADS:
        raise NvmeError(f"threads must be 1..{MAX_THREADS}")
    return opts

"""kill [-s SIGNAL | -SIGNAL] PID...: send a signal; slay [-s SIGNAL] NAME...: by name (QNX).

A signal is a number or a name (``TERM``, ``SIGTERM``); the default is
SIGTERM.  Every signal here takes its default action, ending the process
(status 128 + N in a shell); 0 only checks that the process exists.
``slay`` sends it to every process of that name but itself and its caller.
Status 1 if some process could not be signalled (``kill: PID: No such
process``); ``slay`` also when no process has that name.
"""

from __future__ import annotations

from qrv.lib.c import getpid, proc_snapshot, strerror
from qrv.lib.c.proc import kill
from qrv.userland._opts import Usage, usage_error
from qrv.userland._util import EXIT_FAILURE, dies_of_sigpipe, err

SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 16, "USR2": 17, "TERM": 15}
"""QNX's numbers (``<signal.h>``): SIGUSR1 16, SIGUSR2 17."""
SIGTERM = 15
SIG_MAX = 64
USAGE = {"kill": "kill [-s SIGNAL | -SIGNAL] PID...", "slay": "slay [-s SIGNAL] NAME..."}


def signal_number(text: str, given: str | None = None) -> int:
    """A signal by number or name; Usage naming the argument as `given` (``-FOO``)."""
    name = text.upper().removeprefix("SIG")
    if text.isdigit() and int(text) <= SIG_MAX:
        return int(text)
    if name in SIGNALS:
        return SIGNALS[name]
    raise Usage(f"unknown signal '{given or text}'")


def _parse(name: str, args: list[str]) -> tuple[int, list[str]]:
    signo = SIGTERM
    if args and args[0] == "--help":
        raise Usage("")
    if args and args[0] == "-s":
        if len(args) < 2:
            raise Usage("option '-s' needs a value")
        signo, args = signal_number(args[1]), args[2:]
    elif args and args[0].startswith("-") and args[0] != "--" and name == "kill":
        signo, args = signal_number(args[0][1:], args[0]), args[1:]
    if args and args[0] == "--":
        args = args[1:]
    if args and args[0].startswith("-"):
        raise Usage(f"unknown option '{args[0]}'")
    if not args:
        raise Usage("nothing to signal")
    return signo, args


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    name = argv[0].rsplit("/", 1)[-1] if argv else "kill"
    name = name if name in USAGE else "kill"
    try:
        signo, targets = _parse(name, argv[1:])
    except Usage as exc:
        return usage_error(name, USAGE[name], exc)
    if name == "slay":
        return _slay(signo, targets)
    status = 0
    for target in targets:
        if not target.isdigit():
            err(f"kill: {target}: not a process id")
            status = EXIT_FAILURE
            continue
        try:
            kill(int(target), signo)
        except OSError as exc:
            err(f"kill: {target}: {strerror(exc.errno or 0)}")
            status = EXIT_FAILURE
    return status


def _slay(signo: int, names: list[str]) -> int:
    me = getpid()
    status = 0
    for name in names:
        pids = [p.pid for p in proc_snapshot() if p.name == name and p.pid != me]
        if not pids:
            err(f"slay: {name}: no such process")
            status = EXIT_FAILURE
        for pid in pids:
            try:
                kill(pid, signo)
            except OSError as exc:
                err(f"slay: {name} ({pid}): {strerror(exc.errno or 0)}")
                status = EXIT_FAILURE
    return status

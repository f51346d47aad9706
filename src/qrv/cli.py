"""The `qrv` command line: one subcommand per host entry point.

Each subcommand is a module with ``main(argv: list[str]) -> int``.  Errors a
user can cause are :class:`qrv.errors.QrvError`; they are printed as one line
on stderr (``qrv <cmd>: message``) with exit status 2, never a traceback.
A Ctrl-C that reaches here (KeyboardInterrupt: ``qrv emu`` raises it only
once its system is torn down) is ``qrv <cmd>: interrupted``, status 130
(128 + SIGINT, as a shell reports it).

stdout: when its reader has gone (``qrv --help | true``) qrv ends quietly with
status 141 (128 + SIGPIPE, as a program killed by SIGPIPE); when it cannot
be written (``> /dev/full``) the error is one line, ``qrv <cmd>: write
error: No space left on device``, status 2.  Either way stdout is then
pointed at /dev/null so the interpreter's final flush cannot fail again.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence

from qrv import __version__, dataclass_code
from qrv.errors import OutputError, QrvError
from qrv.tools.output import StdoutWriteError, marked_stdout, print_out, write_error

# name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "emu": ("qrv.emu", "boot the system and run its shell (--nvme attaches an NVMe drive)"),
    "mkgpt": ("qrv.tools.mkgpt", "write a GPT partition table to an image file"),
    "gpt": ("qrv.tools.gpt", "print and verify the GPT of an image or block device"),
    "mkfs": ("qrv.tools.mkfs", "format an image or GPT partition with qrvfs (fs-qrv's format)"),
    "fsck": ("qrv.tools.fsck", "check (and repair) the qrvfs of an image or GPT partition"),
    "fs": ("qrv.tools.fs", "ls, cat, get, put, mkdir, rm on a qrvfs image without booting"),
}

EXIT_INTERRUPTED = 128 + 2
"""Status after Ctrl-C: 128 + SIGINT."""
EXIT_SIGPIPE = 128 + 13
"""Status when stdout's reader has gone: 128 + SIGPIPE."""
EXIT_ERROR = 2

USAGE = "usage: qrv [--version] <command> [args...]"


def _help() -> str:
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'qrv <command> --help' for a command's options."]
    return "\n".join(lines)


def _dispatch(args: list[str]) -> int:
    if not args:
        print(_help(), file=sys.stderr)
        return EXIT_ERROR
    if args[0] in ("-h", "--help", "help"):
        print_out(_help())
        return 0
    if args[0] == "--version":
        print_out(f"qrv {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"qrv: unknown command '{name}' (try 'qrv --help')", file=sys.stderr)
        return EXIT_ERROR
    try:
        with marked_stdout():
            module = importlib.import_module(COMMANDS[name][0])
            entry: Callable[[list[str]], int] = module.main
            status = entry(rest)
            _flush_stdout()
    except KeyboardInterrupt:
        print(f"qrv {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except StdoutWriteError as exc:  # wherever the command wrote it
        raise write_error(exc) from None
    return status


def _flush_stdout() -> None:
    """Flush what a command printed; a stdout that cannot take it is OutputError."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise write_error(exc) from None


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush has nothing to fail on."""
    if sys.stdout is None:
        return
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real descriptor (e.g. captured in a test)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    dataclass_code.install()  # before a command's modules create their dataclasses
    args = list(sys.argv[1:] if argv is None else argv)
    who = f"qrv {args[0]}" if args and args[0] in COMMANDS else "qrv"
    try:
        return _dispatch(args)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_SIGPIPE
    except QrvError as exc:
        print(f"{who}: {exc}", file=sys.stderr)
        if isinstance(exc, OutputError):
            _silence_stdout()
        return EXIT_ERROR

"""The `qrv` command line: one subcommand per host entry point.

Each subcommand is a module with ``main(argv: list[str]) -> int``.  Errors a
user can cause are :class:`qrv.errors.QrvError`; they are printed as one line
on stderr (``qrv <cmd>: message``) with exit status 2, never a traceback.
A Ctrl-C that reaches here (KeyboardInterrupt: ``qrv emu`` raises it only
once its system is torn down) is ``qrv <cmd>: interrupted``, status 130
(128 + SIGINT, as a shell reports it).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

from qrv import __version__
from qrv.errors import QrvError

# name -> (module, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "emu": ("qrv.emu", "boot the system (add --nvme for the NVMe drive, as emu.sh -nvme)"),
    "mkgpt": ("qrv.tools.mkgpt", "write a GPT partition table to an image file"),
    "gpt": ("qrv.tools.gpt", "print and verify the GPT of an image or block device"),
}

EXIT_INTERRUPTED = 128 + 2
"""Status after Ctrl-C: 128 + SIGINT."""

USAGE = "usage: qrv [--version] <command> [args...]"


def _help() -> str:
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<8} {summary}" for name, (_, summary) in COMMANDS.items()]
    lines += ["", "Run 'qrv <command> --help' for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_help())
        return 0 if args else 2
    if args[0] == "--version":
        print(f"qrv {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"qrv: unknown command '{name}' (try 'qrv --help')", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[name][0])
        entry: Callable[[list[str]], int] = module.main
        return entry(rest)
    except QrvError as exc:
        print(f"qrv {name}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"qrv {name}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 141

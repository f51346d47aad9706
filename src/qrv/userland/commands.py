"""The system's commands: name -> (program module, one line for ``help``).

A program module has ``main(argv) -> int``.  Built into the shell (they
change the shell itself): ``exit``, ``export``, ``unset``, ``jobs``,
``wait``, ``history``.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "cat": ("qrv.userland.cat", "copy files (or stdin) to stdout"),
    "dd": ("qrv.userland.dd", "copy blocks between files and devices"),
    "echo": ("qrv.userland.echo", "write the arguments"),
    "false": ("qrv.userland.truefalse", "do nothing, unsuccessfully"),
    "help": ("qrv.userland.help", "list the commands, one line each"),
    "hexdump": ("qrv.userland.hexdump", "dump bytes in hex"),
    "ls": ("qrv.userland.ls", "list directory contents"),
    "lspci": ("qrv.userland.lspci", "list PCI functions"),
    "mount": ("qrv.userland.mount", "mount a qrvfs partition, or list the mounts"),
    "pidin": ("qrv.userland.pidin", "list processes and threads"),
    "sh": ("qrv.userland.sh", "the shell"),
    "sync": ("qrv.userland.sync", "flush devices' write caches"),
    "true": ("qrv.userland.truefalse", "do nothing, successfully"),
    "umount": ("qrv.userland.umount", "unmount a qrvfs mount"),
    "use": ("qrv.userland.help", "print a command's usage"),
}

BUILTINS: dict[str, str] = {
    "exit": "exit [N]: leave the shell with status N (or the last status)",
    "export": "export NAME[=VALUE]...: put variables in the environment of commands",
    "unset": "unset NAME...: remove variables",
    "jobs": "jobs: list the background jobs",
    "wait": "wait [%JOB|PID]...: wait for background jobs",
    "history": "history: list the lines typed so far",
}
"""Commands the shell runs itself, with their usage."""

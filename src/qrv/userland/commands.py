"""The system's commands: name -> (program module, one line for ``help``).

A program module has ``main(argv) -> int``.  Built into the shell (they
change the shell itself): ``cd``, ``pwd``, ``exit``, ``export``, ``unset``,
``jobs``, ``wait``, ``history``.
"""

from __future__ import annotations

COMMANDS: dict[str, tuple[str, str]] = {
    "cat": ("qrv.userland.cat", "copy files (or stdin) to stdout"),
    "clear": ("qrv.userland.clear", "clear the terminal"),
    "cp": ("qrv.userland.cp", "copy files and directories"),
    "dd": ("qrv.userland.dd", "copy blocks between files and devices"),
    "df": ("qrv.userland.df", "report free space of mounted filesystems"),
    "echo": ("qrv.userland.echo", "write the arguments"),
    "env": ("qrv.userland.env", "print the environment"),
    "false": ("qrv.userland.truefalse", "do nothing, unsuccessfully"),
    "grep": ("qrv.userland.grep", "print lines that match a pattern"),
    "head": ("qrv.userland.head", "print the first lines of files"),
    "help": ("qrv.userland.help", "list the commands, one line each"),
    "hexdump": ("qrv.userland.hexdump", "dump bytes in hex"),
    "kill": ("qrv.userland.kill", "send a signal to processes"),
    "ln": ("qrv.userland.ln", "make hard or symbolic links"),
    "ls": ("qrv.userland.ls", "list directory contents"),
    "lspci": ("qrv.userland.lspci", "list PCI functions"),
    "mkdir": ("qrv.userland.mkdir", "make directories"),
    "mount": ("qrv.userland.mount", "mount a qrvfs partition, or list the mounts"),
    "mv": ("qrv.userland.mv", "move (rename) files"),
    "nvme": ("qrv.userland.nvme", "NVMe controllers and namespaces (as nvme-cli)"),
    "pidin": ("qrv.userland.pidin", "list processes and threads"),
    "rm": ("qrv.userland.rm", "remove files or directories"),
    "rmdir": ("qrv.userland.rmdir", "remove empty directories"),
    "sh": ("qrv.userland.sh", "the shell"),
    "slay": ("qrv.userland.kill", "send a signal to processes by name"),
    "sleep": ("qrv.userland.sleep", "wait some seconds"),
    "sloginfo": ("qrv.userland.sloginfo", "print the system log"),
    "stat": ("qrv.userland.stat", "print a file's inode fields"),
    "sync": ("qrv.userland.sync", "commit mounted filesystems, flush devices' caches"),
    "tail": ("qrv.userland.tail", "print the last lines of files"),
    "touch": ("qrv.userland.touch", "set file times, creating missing files"),
    "true": ("qrv.userland.truefalse", "do nothing, successfully"),
    "umount": ("qrv.userland.umount", "unmount a qrvfs mount"),
    "uname": ("qrv.userland.uname", "print the system's name"),
    "use": ("qrv.userland.help", "print a command's usage"),
    "wc": ("qrv.userland.wc", "count lines, words and bytes"),
}

BUILTINS: dict[str, str] = {
    "cd": "cd [DIR]: change the working directory (default /)",
    "pwd": "pwd: print the working directory",
    "exit": "exit [N]: leave the shell with status N (or the last status)",
    "export": "export NAME[=VALUE]...: put variables in the environment of commands",
    "unset": "unset NAME...: remove variables",
    "jobs": "jobs: list the background jobs",
    "wait": "wait [%JOB|PID]...: wait for background jobs",
    "history": "history: list the lines typed so far",
    "umask": "umask [MODE]: print or set (octal) the file mode creation mask",
}
"""Commands the shell runs itself, with their usage."""

"""`qrv fs [--partition N] IMAGE ls|cat|get|put|mkdir|rm ARGS`: file access
to a qrvfs image without booting (as mtools or debugfs for their formats).

  ls [-l] [-a] [PATH]     list a directory (or show one file)
  cat PATH...             write files to stdout
  get PATH [HOSTFILE]     copy a file out (default: its name, in the current directory)
  put HOSTFILE [PATH]     copy a host file in (PATH may be a directory; default /NAME)
  mkdir [-p] PATH...      make directories
  rm [-r] PATH...         remove files and symbolic links (-r: directories too)

Exit status: 0 done; 1 an operation failed (one line each); 2 no usable
filesystem or a usage error.  Changes are committed and flushed before exit.
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from qrv.errors import QrvError, UsageError
from qrv.lib.qrvfs import Filesystem, FsError
from qrv.lib.qrvfs.fs import split_path
from qrv.spec.qrvfs import Inode, InodeType
from qrv.tools.fsargs import ToolParser
from qrv.tools.fsimage import FsImage

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2
WRITE_COMMANDS = ("put", "mkdir", "rm")
_TYPE_CHAR = {
    InodeType.DIR: "d",
    InodeType.FILE: "-",
    InodeType.SYMLINK: "l",
    InodeType.DEVICE: "c",
}
_CHUNK = 1 << 20


def mode_string(ino: Inode) -> str:
    """``drwxr-xr-x`` from the inode's type and permission bits (setuid etc. shown as ls)."""
    kind = stat.S_IFDIR if ino.type == InodeType.DIR else stat.S_IFREG
    text = stat.filemode(kind | ino.mode)
    return _TYPE_CHAR.get(InodeType(ino.type), "?") + text[1:]


def long_line(fs: Filesystem, path: bytes, name: bytes, ino: Inode) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(ino.mtime))
    line = (
        f"{mode_string(ino)} {ino.nlink:>3} {ino.uid:>5} {ino.gid:>5} {ino.size:>10} "
        f"{when} {os.fsdecode(name)}"
    )
    if ino.type == InodeType.SYMLINK:
        line += f" -> {os.fsdecode(fs.readlink(path))}"
    return line


def cmd_ls(fs: Filesystem, args: list[str]) -> int:
    p = ToolParser(prog="qrv fs ls")
    p.add_argument("-l", action="store_true", dest="long")
    p.add_argument("-a", action="store_true", dest="all")
    p.add_argument("path", nargs="?", default="/")
    a = p.parse_args(args)
    path = os.fsencode(a.path)
    _, ino = fs.stat(path, follow=True)
    if ino.type != InodeType.DIR:
        name = split_path(path)[-1] if split_path(path) else path
        print(long_line(fs, path, name, fs.stat(path, follow=False)[1]) if a.long else a.path)
        return EXIT_OK
    for name, child in fs.listdir(path):
        if name in (b".", b"..") and not a.all:
            continue
        if a.long:
            print(long_line(fs, path.rstrip(b"/") + b"/" + name, name, fs.inode(child)))
        else:
            print(os.fsdecode(name))
    return EXIT_OK


def _copy_out(fs: Filesystem, path: bytes, write: Callable[[bytes], object]) -> None:
    inum, ino = fs.stat(path)
    if ino.type == InodeType.DIR:
        raise FsError.of(errno.EISDIR, os.fsdecode(path))
    offset = 0
    while offset < ino.size:
        chunk = fs.read(inum, offset, _CHUNK)
        if not chunk:
            break
        write(chunk)
        offset += len(chunk)


def cmd_cat(fs: Filesystem, args: list[str]) -> int:
    if not args:
        raise UsageError("cat: no PATH given")
    status = EXIT_OK
    for arg in args:
        try:
            _copy_out(fs, os.fsencode(arg), sys.stdout.buffer.write)
        except FsError as exc:
            print(f"qrv fs: cat: {exc}", file=sys.stderr)
            status = EXIT_FAILED
    sys.stdout.buffer.flush()
    return status


def cmd_get(fs: Filesystem, args: list[str]) -> int:
    if not 1 <= len(args) <= 2:
        raise UsageError("get: expected PATH [HOSTFILE]")
    path = os.fsencode(args[0])
    host = Path(args[1] if len(args) == 2 else os.fsdecode(split_path(path)[-1]))
    if host.is_dir():
        host = host / os.fsdecode(split_path(path)[-1])
    fs.stat(path)  # fail before creating the host file
    try:
        with open(host, "wb") as out:
            _copy_out(fs, path, out.write)
    except OSError as exc:
        raise UsageError(f"get: {host}: {exc.strerror or exc}") from None
    return EXIT_OK


def cmd_put(fs: Filesystem, args: list[str]) -> int:
    if not 1 <= len(args) <= 2:
        raise UsageError("put: expected HOSTFILE [PATH]")
    host = Path(args[0])
    target = os.fsencode(args[1]) if len(args) == 2 else b"/" + os.fsencode(host.name)
    try:
        if fs.stat(target)[1].type == InodeType.DIR:
            target = target.rstrip(b"/") + b"/" + os.fsencode(host.name)
    except FsError as exc:
        if exc.errno != errno.ENOENT:
            raise
    try:
        st = host.stat()
        with open(host, "rb") as f:
            inum = fs.create(target, stat.S_IMODE(st.st_mode), truncate=True)
            offset = 0
            while chunk := f.read(_CHUNK):
                fs.write(inum, offset, chunk)
                offset += len(chunk)
    except OSError as exc:
        raise UsageError(f"put: {host}: {exc.strerror or exc}") from None
    return EXIT_OK


def cmd_mkdir(fs: Filesystem, args: list[str]) -> int:
    parents = "-p" in args
    paths = [a for a in args if a != "-p"]
    if not paths:
        raise UsageError("mkdir: no PATH given")
    for arg in paths:
        comps = split_path(arg)
        todo = (
            [b"/" + b"/".join(comps[: i + 1]) for i in range(len(comps))]
            if parents
            else [os.fsencode(arg)]
        )
        for path in todo:
            try:
                fs.mkdir(path)
            except FsError as exc:
                if not (parents and exc.errno == errno.EEXIST):
                    raise
    return EXIT_OK


def _remove_tree(fs: Filesystem, path: bytes) -> None:
    for name, _ in fs.listdir(path):
        if name in (b".", b".."):
            continue
        child = path.rstrip(b"/") + b"/" + name
        if fs.stat(child, follow=False)[1].type == InodeType.DIR:
            _remove_tree(fs, child)
        else:
            fs.unlink(child)
    fs.rmdir(path)


def cmd_rm(fs: Filesystem, args: list[str]) -> int:
    recursive = "-r" in args or "-rf" in args
    paths = [a for a in args if a not in ("-r", "-rf")]
    if not paths:
        raise UsageError("rm: no PATH given")
    for arg in paths:
        path = os.fsencode(arg)
        if fs.stat(path, follow=False)[1].type == InodeType.DIR:
            if not recursive:
                raise FsError.of(errno.EISDIR, arg)
            _remove_tree(fs, path)
        else:
            fs.unlink(path)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Filesystem, list[str]], int]] = {
    "ls": cmd_ls,
    "cat": cmd_cat,
    "get": cmd_get,
    "put": cmd_put,
    "mkdir": cmd_mkdir,
    "rm": cmd_rm,
}


def _parser() -> ToolParser:
    p = ToolParser(
        prog="qrv fs",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="commands: " + ", ".join(COMMANDS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--partition", type=int, metavar="N")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", choices=list(COMMANDS), metavar="COMMAND")
    p.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: Sequence[str]) -> int:
    try:
        a = _parser().parse_args(list(argv))
    except SystemExit as done:
        return int(done.code or 0)
    writable = a.command in WRITE_COMMANDS
    try:
        with FsImage(Path(a.image), writable=writable, partition=a.partition) as image:
            fs = Filesystem.mount(image.device, read_only=not writable)
            for note in fs.notes:
                if "not crash-safe" not in note:
                    print(f"qrv fs: {note}", file=sys.stderr)
            try:
                return COMMANDS[a.command](fs, list(a.args))
            except FsError as exc:
                print(f"qrv fs: {a.command}: {exc}", file=sys.stderr)
                return EXIT_FAILED
            finally:
                fs.unmount()
    except SystemExit as done:
        return int(done.code or 0)
    except QrvError as exc:
        print(f"qrv fs: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE

"""The code of the methods ``@dataclass`` writes, compiled once and kept (issue 16).

CPython's :mod:`dataclasses` writes each class's ``__init__``, ``__repr__``,
``__eq__``, ``__hash__`` (and a frozen class's ``__setattr__`` and
``__delattr__``) as source text and compiles that text with ``exec`` while
the class is created.  The modules a boot imports create about 130
dataclasses: some 600 compiles, a quarter of a boot's instructions even with
every module's ``.pyc`` in place.

:func:`install` gives the dataclasses module an ``exec`` of its own (a global
of that module, which its one ``exec`` call finds before the builtin) that
looks the text up in a table of code objects before compiling it; the table
is read from one marshal file beside the package's ``.pyc`` files.  The
function made is the same either way: the key is the whole text, and a text
is compiled as ``exec`` compiles it (file name ``<string>``, no ``__future__``
flag inherited: the annotations of ``__init__`` stay objects).  A text not in
the table is compiled as before.  The file is written only by ``python -m
qrv.dataclass_code`` (``make`` runs it after ``compileall``, as sources
change): it imports what the ``qrv`` command and the system's programs import
and keeps the texts compiled on the way.  A file of another interpreter (its
bytecode magic number differs), or one that cannot be read, is ignored.
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import marshal
import os
import sys
from importlib.util import MAGIC_NUMBER
from types import CodeType
from typing import Any

FILE = os.path.join(
    os.path.dirname(__file__), "__pycache__", f"dataclasses.{sys.implementation.cache_tag}.bin"
)
"""Where the table lives (beside the package's ``.pyc`` files, one per interpreter)."""


class CodeTable:
    """Code objects by the source text that compiles to them, and what was asked."""

    def __init__(self, codes: dict[str, CodeType] | None = None) -> None:
        self.codes: dict[str, CodeType] = codes or {}
        self.hits = 0
        self.compiled: dict[str, CodeType] = {}
        """The texts compiled here (not found in the table)."""

    def exec(self, source: Any, globals: Any = None, locals: Any = None) -> None:
        """``exec`` as the dataclasses module calls it, with its text looked up first."""
        if not isinstance(source, str):
            builtins.exec(source, globals, locals)
            return
        code = self.codes.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)
            self.compiled[source] = code
        else:
            self.hits += 1
        builtins.exec(code, globals, locals)


def load(path: str = FILE) -> dict[str, CodeType]:
    """The table in `path` ({} when missing, unreadable or another interpreter's)."""
    try:
        with open(path, "rb") as f:
            if f.read(len(MAGIC_NUMBER)) != MAGIC_NUMBER:
                return {}
            table = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, CodeType)}


def save(codes: dict[str, CodeType], path: str = FILE) -> None:
    """Write `codes` to `path` (whole, or not at all: a reader never sees half a file)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC_NUMBER)
            marshal.dump(codes, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def install(path: str = FILE) -> CodeTable:
    """Make the dataclasses created from now on take their code from `path`'s table."""
    table = CodeTable(load(path))
    setattr(dataclasses, "exec", table.exec)  # noqa: B010 - a global of that module
    return table


def uninstall() -> None:
    """The dataclasses module compiles with the builtin ``exec`` again."""
    vars(dataclasses).pop("exec", None)


def modules() -> list[str]:
    """What the ``qrv`` command imports: its subcommands, fs-qrv, the system's programs."""
    from qrv.cli import COMMANDS as HOST
    from qrv.emu import FS_QRV
    from qrv.userland.commands import COMMANDS as SYSTEM

    host = [module for module, _ in HOST.values()]
    return [*host, FS_QRV, *(module for module, _ in SYSTEM.values())]


def main(argv: list[str]) -> int:
    """``python -m qrv.dataclass_code [FILE]``: the texts compiled while importing
    :func:`modules`, written to FILE (default :data:`FILE`)."""
    table = install(os.devnull)
    try:
        for module in modules():
            importlib.import_module(module)
    finally:
        uninstall()
    save(table.compiled, argv[0] if argv else FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

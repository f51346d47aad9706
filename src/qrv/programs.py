"""The user's own programs: ``qrv emu --program PATH.py[:NAME]`` and ``--programs DIR``.

A program is a Python file with ``main(argv: list[str]) -> int``; it is
installed as ``/bin/NAME`` (default: the file's stem) and the shell runs it
like a built-in command.  Its API is the one the built-in programs keep:
``qrv.lib.c``, ``qrv.lib.pci`` and ``qrv.spec`` (plus Python's standard
library).  :func:`check_imports` reads the file before it runs and refuses
any other ``qrv`` import (``qrv.hw``, ``qrv.kernel``, ...) wherever it is
written; imports built at run time (``importlib.import_module``) are not
seen, and are outside the contract all the same.

Everything is checked on the host before the system boots, so a mistake is
one line and ``qrv emu`` does not start: no such file, a name that is not a
command name or that a built-in command already has, two programs with one
name, a syntax error, a forbidden import, an error while the module loads,
no callable ``main``.  A program that raises once running crashes its
process like any other: the shell shows status 139 and the traceback goes to
the system log (stderr), starting at the program's own frame.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from qrv.errors import ProgramError

if TYPE_CHECKING:  # pathlib is imported where a user's program is read (every import is boot time)
    from pathlib import Path

ALLOWED = ("qrv.lib.c", "qrv.lib.pci", "qrv.spec")
"""The packages a program may import from qrv (and their submodules)."""
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
"""What a command name may be (no ``/``, no shell metacharacters, no leading ``-``)."""
MAX_NAME = 64
MODULE_PREFIX = "qrv_program_"


@dataclass(frozen=True)
class Program:
    """One installed program: its entry is what the kernel spawns."""

    name: str
    path: Path
    module: ModuleType
    source: bytes = b""
    """The file's bytes, as ``/bin/NAME`` shows them."""

    def __call__(self, argv: list[str]) -> int:
        status = self.module.main(argv)
        return status if isinstance(status, int) else 0

    log_traceback = True
    """The kernel logs the traceback of a crash (the program's frames, for its author)."""


def allowed(module: str) -> bool:
    """Whether a program may import `module` (anything outside qrv, or the API)."""
    if module != "qrv" and not module.startswith("qrv."):
        return True
    return any(module == a or module.startswith(a + ".") for a in ALLOWED)


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in `tree`; ``from A import b`` yields ``A.b``
    when A is qrv or a qrv package (b may be a module), relative imports ``.``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, "." * node.level + (node.module or "")
                continue
            base = node.module or ""
            if base in ("qrv", "qrv.lib"):
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            else:
                yield node.lineno, base


def check_imports(tree: ast.AST, where: str) -> None:
    """ProgramError naming the first import outside the program API."""
    for line, module in imported(tree):
        if module.startswith("."):
            raise ProgramError(f"{where}:{line}: relative import '{module}' (a program is a file)")
        if not allowed(module):
            api = ", ".join(ALLOWED)
            raise ProgramError(f"{where}:{line}: imports {module}; programs may use only {api}")


def parse_spec(spec: str) -> tuple[Path, str]:
    """``PATH.py[:NAME]`` -> (path, name); the name defaults to the file's stem."""
    from pathlib import Path

    path, sep, name = spec.rpartition(":")
    if not sep or not path or "/" in name:  # no name given (or a ':' inside the path)
        path, name = spec, Path(spec).stem
    return Path(path), name


def check_name(name: str, where: str, reserved: Iterable[str]) -> None:
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise ProgramError(
            f"{where}: {name!r} is not a command name (letters, digits, _ . + -; "
            f"at most {MAX_NAME})"
        )
    if name in set(reserved):
        raise ProgramError(f"{where}: {name!r} is a built-in command; pick another name")


def load(path: Path, name: str, reserved: Iterable[str] = ()) -> Program:
    """Check and load one program file (ProgramError: one line saying what is wrong)."""
    where = str(path)
    check_name(name, where, reserved)
    try:
        source = path.read_bytes()
    except IsADirectoryError:
        raise ProgramError(f"{where}: is a directory (use --programs DIR)") from None
    except OSError as exc:
        raise ProgramError(f"{where}: {exc.strerror}") from None
    try:
        tree = ast.parse(source, filename=where)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        at = f":{line}" if line else ""
        raise ProgramError(f"{where}{at}: syntax error: {getattr(exc, 'msg', exc)}") from None
    check_imports(tree, where)
    module = _execute(path, name, tree)
    if not callable(getattr(module, "main", None)):
        raise ProgramError(f"{where}: no main(argv) function")
    return Program(name, path, module, source)


@dataclass(frozen=True)
class SystemProgram:
    """One of the system's commands as ``/bin/NAME``: its module, imported when run."""

    name: str
    module: str

    def __call__(self, argv: list[str]) -> int:
        status = importlib.import_module(self.module).main(argv)
        return status if isinstance(status, int) else 0

    @property
    def source(self) -> bytes:
        spec = importlib.util.find_spec(self.module)
        if spec is None or spec.origin is None:
            return b""
        with open(spec.origin, "rb") as f:
            return f.read()


def system_programs(commands: Mapping[str, str]) -> dict[str, Callable[[list[str]], int]]:
    """The system's commands (name -> module) as /bin entries."""
    return {name: SystemProgram(name, module) for name, module in commands.items()}


def _execute(path: Path, name: str, tree: ast.Module) -> ModuleType:
    spec = importlib.util.spec_from_file_location(MODULE_PREFIX + name, path)
    if spec is None:
        raise ProgramError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import does (dataclasses, pickle look it up)
    try:
        exec(compile(tree, str(path), "exec"), module.__dict__)
    except Exception as exc:
        del sys.modules[spec.name]
        what = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        raise ProgramError(f"{path}: fails while loading: {what}") from None
    return module


def load_all(
    specs: Iterable[str], dirs: Iterable[str], reserved: Iterable[str] = ()
) -> dict[str, Callable[[list[str]], int]]:
    """Every ``--program`` spec and every ``*.py`` of each ``--programs`` dir, by name
    (files starting with ``_`` are helpers, not programs)."""
    from pathlib import Path

    reserved = set(reserved)
    wanted: list[tuple[Path, str]] = []
    for d in dirs:
        folder = Path(d)
        if not folder.is_dir():
            raise ProgramError(f"--programs {d}: not a directory")
        wanted += [(f, f.stem) for f in sorted(folder.glob("*.py")) if not f.name.startswith("_")]
    wanted += [parse_spec(s) for s in specs]
    programs: dict[str, Callable[[list[str]], int]] = {}
    for path, name in wanted:
        if name in programs:
            raise ProgramError(f"{path}: a program named {name!r} is already installed")
        programs[name] = load(path, name, reserved)
    return programs

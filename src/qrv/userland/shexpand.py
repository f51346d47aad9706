"""Word expansion: ``$NAME``/``$?`` then globs over the pathname space.

A glob (``*``, ``?``, ``[...]`` in unquoted text) is matched one path
component at a time against the directory listings the servers give
(``/dev/nvme*`` lists ``/dev``); matches come sorted, names starting with
``.`` only for a pattern starting with ``.``.  A pattern matching nothing
stays as written (POSIX sh).  A relative pattern is taken from the current
directory (``cd``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from qrv.lib.c import listdir, stat
from qrv.userland.shsyntax import GLOB_CHARS, Lit, Word

Lookup = Callable[[str], str]


def expand(word: Word, lookup: Lookup) -> list[str]:
    """The fields of `word`: one, or the sorted glob matches."""
    text = ""
    pattern = ""
    globbing = False
    for part in word:
        value = part.text if isinstance(part, Lit) else lookup(part.name)
        text += value
        if isinstance(part, Lit) and not part.quoted and any(c in value for c in GLOB_CHARS):
            globbing = True
            pattern += value
        else:
            pattern += _escape(value)
    if not globbing:
        return [text]
    matches = glob(pattern)
    return matches or [text]


def _escape(text: str) -> str:
    """`text` as literal glob characters."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def has_magic(component: str) -> bool:
    return re.search(r"(?<!\[)[*?]|\[(?![*?\[]\])", component) is not None


def glob(pattern: str) -> list[str]:
    """Paths of the pathname space matching `pattern`, sorted."""
    parts = [p for p in pattern.split("/") if p]
    found = ["/" if pattern.startswith("/") else ""]
    for comp in parts:
        if has_magic(comp):
            found = [_join(b, n) for b in found for n in _matching(b, comp)]
        else:
            found = [_join(b, re.sub(r"\[([*?\[])\]", r"\1", comp)) for b in found]
    if parts and not has_magic(parts[-1]):
        found = [f for f in found if _exists(f)]
    return sorted(found)


def _matching(base: str, comp: str) -> list[str]:
    try:
        names = listdir(base or ".")
    except OSError:
        return []
    return [
        n for n in names if fnmatch.fnmatchcase(n, comp) and (comp.startswith(".") or n[0] != ".")
    ]


def _exists(path: str) -> bool:
    try:
        stat(path)
    except OSError:
        return False
    return True


def _join(base: str, name: str) -> str:
    if not base:
        return name
    return base + name if base.endswith("/") else base + "/" + name

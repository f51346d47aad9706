"""The pathname space (procnto's path manager).

Servers link names to their channels (``resmgr_attach`` → ``pathmgr_link``).
:meth:`PathManager.resolve` returns the servers that may own a path,
**longest prefix first** (equal prefixes: ``_RESMGR_FLAG_BEFORE`` first,
``_AFTER`` last, otherwise newest first); a plain registration matches only
its exact path, a ``_RESMGR_FLAG_DIR`` one also every path below it (the
remainder goes to the server); an ``_OPAQUE`` entry hides shorter matches
(``pathmgr_resolve.c``; notes §2 "Pathname resolution").

Directories that only hold registered names (``/``, ``/dev``, ...) are
synthesised: the resolution ends with procnto's own entry, which serves
them as ``dr-xr-xr-x`` listing the child names.  ``/dev`` always exists.

A link or rename names two paths that one server must own:
:meth:`PathManager.resolve_pair` keeps the servers of the new path with the
longest prefix (a mount hides the ones below it) that are also among the
longest-prefix servers of the old one
(same process, channel and handle), each with the old path's remainder
there; none in common is EXDEV (a rename across mounts).
A resolution is remembered (by the path asked) until the next link or unlink.
All methods are called with the kernel lock held.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.spec.iomsg import EINVAL, ENOENT, ENOTDIR, EXDEV, ResmgrFlag, oserror

PERMANENT_DIRS = frozenset({"/", "/dev"})

_ORDER_BEFORE, _ORDER_NORMAL, _ORDER_AFTER = 0, 1, 2
_DIR, _BEFORE, _AFTER, _OPAQUE = (
    int(ResmgrFlag.DIR),
    int(ResmgrFlag.BEFORE),
    int(ResmgrFlag.AFTER),
    int(ResmgrFlag.OPAQUE),
)
"""The flags as plain ints: resolve runs on every open (IntFlag operators are slow)."""
RESOLUTIONS_KEPT = 256
"""Paths whose resolution is remembered at most (the cache is emptied when full)."""


@dataclass(frozen=True)
class Link:
    linkid: int
    path: str
    pid: int
    chid: int
    handle: int
    file_type: int
    flags: int
    seq: int


@dataclass(frozen=True)
class ResolveEntry:
    """One ``_io_connect_entry``: who to send the open to, and the rest of the path."""

    pid: int
    chid: int
    handle: int
    file_type: int
    prefix_len: int
    remainder: str


def normalize(path: str) -> tuple[str, bool]:
    """Absolute, ``.``/``..``/``//`` removed; also whether it ended in ``/``."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts), len(path) > 1 and path.endswith("/")


def _below(path: str, prefix: str) -> bool:
    return prefix == "/" or path.startswith(prefix + "/")


class PathManager:
    """Registered names and the synthesised directories above them."""

    def __init__(self, procnto_pid: int, procnto_chid: int) -> None:
        self._procnto = (procnto_pid, procnto_chid)
        self._links: dict[int, Link] = {}
        self._next_id = 1
        self._seq = 0
        self._resolved: dict[str, list[ResolveEntry]] = {}
        """What :meth:`resolve` answered, by the path asked, until a name is linked or
        unlinked (the answer depends on the links only): an open of a path opened
        before walks no links."""

    def link(  # noqa: PLR0917 - pathmgr_link's arguments
        self, path: str, pid: int, chid: int, handle: int, file_type: int, flags: int
    ) -> int:
        norm, _ = normalize(path)
        if not path.startswith("/"):
            raise oserror(EINVAL, path)
        linkid = self._next_id
        self._next_id += 1
        self._seq += 1
        self._links[linkid] = Link(linkid, norm, pid, chid, handle, file_type, flags, self._seq)
        self._resolved.clear()
        return linkid

    def unlink(self, linkid: int, pid: int) -> None:
        link = self._links.get(linkid)
        if link is None or link.pid != pid:
            raise oserror(EINVAL)
        del self._links[linkid]
        self._resolved.clear()

    def remove_pid(self, pid: int) -> None:
        """The names of a process vanish with it."""
        for linkid in [i for i, lk in self._links.items() if lk.pid == pid]:
            del self._links[linkid]
            self._resolved.clear()

    def names(self) -> list[str]:
        return sorted({lk.path for lk in self._links.values()})

    def exists(self, path: str) -> bool:
        norm, _ = normalize(path)
        return self.is_dir(norm) or any(lk.path == norm for lk in self._links.values())

    def is_dir(self, norm: str) -> bool:
        """A synthesised directory: permanent, or above some registered name."""
        return norm in PERMANENT_DIRS or any(
            lk.path != norm and _below(lk.path, norm) for lk in self._links.values()
        )

    def children(self, norm: str) -> list[str]:
        """Names directly under a synthesised directory (registered or synthesised)."""
        names: set[str] = set()
        for p in list(PERMANENT_DIRS) + [lk.path for lk in self._links.values()]:
            if p != norm and _below(p, norm):
                rest = p[len(norm) :].lstrip("/")
                names.add(rest.split("/", 1)[0])
        return sorted(names)

    def resolve(self, path: str) -> list[ResolveEntry]:
        """The servers to try for `path`, in order; ENOENT/ENOTDIR when none."""
        known = self._resolved.get(path)
        if known is None:
            known = self._resolve(path)
            if len(self._resolved) >= RESOLUTIONS_KEPT:
                self._resolved.clear()
            self._resolved[path] = known
        return list(known)

    def _resolve(self, path: str) -> list[ResolveEntry]:
        norm, want_dir = normalize(path)
        found: list[tuple[tuple[int, int, int], Link, str]] = []
        not_dir = False
        for lk in self._links.values():
            is_dir_server = bool(lk.flags & _DIR)
            if lk.path == norm:
                rest = ""
            elif is_dir_server and _below(norm, lk.path):
                rest = norm[len(lk.path) :].lstrip("/")
            else:
                continue
            if want_dir and not is_dir_server:
                not_dir = True
                continue
            order = _ORDER_NORMAL
            if lk.flags & _BEFORE:
                order = _ORDER_BEFORE
            elif lk.flags & _AFTER:
                order = _ORDER_AFTER
            found.append(((-len(lk.path), order, -lk.seq), lk, rest))
        found.sort(key=lambda f: f[0])
        out: list[ResolveEntry] = []
        for _key, lk, rest in found:
            out.append(ResolveEntry(lk.pid, lk.chid, lk.handle, lk.file_type, len(lk.path), rest))
            if lk.flags & _OPAQUE:
                return out
        if self.is_dir(norm):
            pid, chid = self._procnto
            out.append(ResolveEntry(pid, chid, 0, 0, 1, norm))
        if not out:
            raise oserror(ENOTDIR if not_dir else ENOENT, path)
        return out

    def resolve_pair(self, path: str, other: str) -> list[tuple[ResolveEntry, str]]:
        """The servers of `path` that own `other` too, with `other`'s remainder at
        each; ENOENT/ENOTDIR as :meth:`resolve`, EXDEV when they share none."""
        entries = _owners(self.resolve(path))
        others = {(o.pid, o.chid, o.handle): o.remainder for o in _owners(self.resolve(other))}
        out = [
            (e, others[(e.pid, e.chid, e.handle)])
            for e in entries
            if (e.pid, e.chid, e.handle) in others
        ]
        if not out:
            raise oserror(EXDEV, other)
        return out


def _owners(entries: list[ResolveEntry]) -> list[ResolveEntry]:
    """The entries of the longest prefix (resolve's first ones)."""
    return [e for e in entries if e.prefix_len == entries[0].prefix_len]

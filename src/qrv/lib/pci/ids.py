"""PCI ID names from the pci.ids database, formatted as pciutils prints them.

The database (Debian package ``pci.ids``, ``/usr/share/misc/pci.ids``) is a
text file: ``vvvv  Vendor`` lines, ``\\tdddd  Device`` under them,
``\\t\\tssvv ssdd  Subsystem`` under a device; ``C cc  Class`` lines with
``\\tss  Subclass`` and ``\\t\\tpp  Prog-if``.  A missing or unreadable file
gives an empty database: every name is then the number alone, as lspci
prints it without one.

``numeric``: 0 names (numbers where unknown), 1 numbers only (``lspci -n``),
2 both (``lspci -nn``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PATH = "/usr/share/misc/pci.ids"
PATH_ENV = "QRV_PCI_IDS"
MAX_FILE = 16 << 20  # pci.ids is ~1.4 MB; a larger file is not one
IDE_CLASS = 0x0101
IDE_PROGIF_RESERVED = 0x70


@dataclass(frozen=True)
class PciIds:
    """The database text, looked up in place (a parse into dicts would hold ~15 MB)."""

    text: str = ""

    def _block(self, key: str, start: int = 0, end: int | None = None, depth: int = 0) -> int:
        """The offset just past ``KEY  `` at line start and `depth` tabs, or -1."""
        needle = "\n" + "\t" * depth + key + "  "
        at = self.text.find(needle, start, len(self.text) if end is None else end)
        return -1 if at < 0 else at + len(needle)

    def _name(self, at: int) -> str | None:
        return (
            None
            if at < 0
            else self.text[at : self.text.find("\n", at) % (len(self.text) + 1)].strip()
        )

    def _end(self, at: int, depth: int) -> int:
        """Where the block opened at `at` ends: the next line with at most `depth` tabs."""
        pos = self.text.find("\n", at)
        while pos >= 0:
            line = self.text[pos + 1 : pos + 2 + depth]
            if not line.startswith("\t" * (depth + 1)) and not line.startswith("#"):
                return pos
            pos = self.text.find("\n", pos + 1)
        return len(self.text)

    def _vendor(self, vid: int) -> int:
        return self._block(f"{vid:04x}", 0, self._classes_start())

    def _classes_start(self) -> int:
        at = self.text.find("\nC ")
        return len(self.text) if at < 0 else at

    def vendor(self, vid: int) -> str | None:
        return self._name(self._vendor(vid))

    def device(self, vid: int, did: int) -> str | None:
        v = self._vendor(vid)
        return None if v < 0 else self._name(self._block(f"{did:04x}", v, self._end(v, 0), 1))

    def subsystem(self, vid: int, did: int, sv: int, sd: int) -> str | None:
        v = self._vendor(vid)
        d = -1 if v < 0 else self._block(f"{did:04x}", v, self._end(v, 0), 1)
        if d < 0:
            return None
        return self._name(self._block(f"{sv:04x} {sd:04x}", d, self._end(d, 1), 2))

    def _class(self, cls: int) -> int:
        return self._block(f"C {cls:02x}", self._classes_start() - 1)

    def class_name(self, cls: int) -> str | None:
        return self._name(self._class(cls))

    def subclass(self, cls: int, sub: int) -> str | None:
        c = self._class(cls)
        return None if c < 0 else self._name(self._block(f"{sub:02x}", c, self._end(c, 0), 1))

    def progif(self, cls: int, sub: int, progif: int) -> str | None:
        c = self._class(cls)
        s = -1 if c < 0 else self._block(f"{sub:02x}", c, self._end(c, 0), 1)
        return None if s < 0 else self._name(self._block(f"{progif:02x}", s, self._end(s, 1), 2))


def parse(text: str) -> PciIds:
    """The database of pci.ids text (lines are looked up, never parsed ahead)."""
    return PciIds("\n" + text.replace("\r\n", "\n") + "\n")


_cache: dict[tuple[str, int, int], PciIds] = {}


def load(path: str | None = None) -> PciIds:
    """The database at `path` (default: $QRV_PCI_IDS, then /usr/share/misc/pci.ids).

    The text (~1.4 MB) is kept for the file's (path, mtime, size): the database is
    read-only host data, and every lspci run would otherwise read it again.
    """
    path = path or os.environ.get(PATH_ENV) or DEFAULT_PATH
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            key = (path, st.st_mtime_ns, st.st_size)
            if key in _cache:
                return _cache[key]
            data = f.read(MAX_FILE + 1)
    except OSError:
        return PciIds()
    if len(data) > MAX_FILE:
        return PciIds()
    _cache.clear()
    _cache[key] = ids = parse(data.decode("utf-8", "replace"))
    return ids


@dataclass
class Names:
    """Lookups formatted as pciutils' pci_lookup_name."""

    ids: PciIds
    numeric: int = 0

    def _one(self, name: str | None, num: str, unknown: str, mixed: bool = False) -> str:
        if self.numeric == 1:
            return num
        if name is None:
            return f"{unknown} [{num}]" if self.numeric == 2 or mixed else f"{unknown} {num}"
        return f"{name} [{num}]" if self.numeric == 2 or mixed else name

    def _pair(self, v: str | None, d: str | None, num: str) -> str:
        if self.numeric == 1:
            return num
        if self.numeric == 2:
            if v is None:
                return f"Device [{num}]"
            return f"{v} {d} [{num}]" if d is not None else f"{v} Device [{num}]"
        if v is None:
            return f"Device {num}"
        return f"{v} {d}" if d is not None else f"{v} Device {num[5:]}"

    def vendor_device(self, vid: int, did: int) -> str:
        v, d = self.ids.vendor(vid), self.ids.device(vid, did)
        return self._pair(v, d, f"{vid:04x}:{did:04x}")

    def vendor(self, vid: int) -> str:
        return self._one(self.ids.vendor(vid), f"{vid:04x}", "Vendor")

    def device(self, vid: int, did: int) -> str:
        return self._one(self.ids.device(vid, did), f"{did:04x}", "Device")

    def _subsys(self, vid: int, did: int, sv: int, sd: int) -> str | None:
        name = self.ids.subsystem(vid, did, sv, sd) if vid > 0 and did > 0 else None
        if name is None and vid == sv and did == sd:
            name = self.ids.device(vid, did)
        return name

    def subsystem(self, vid: int, did: int, sv: int, sd: int) -> str:
        v, d = self.ids.vendor(sv), self._subsys(vid, did, sv, sd)
        return self._pair(v, d, f"{sv:04x}:{sd:04x}")

    def subsystem_vendor(self, sv: int) -> str:
        return self._one(self.ids.vendor(sv), f"{sv:04x}", "Unknown vendor")

    def subsystem_device(self, vid: int, did: int, sv: int, sd: int) -> str:
        return self._one(self._subsys(vid, did, sv, sd), f"{sd:04x}", "Device")

    def class_name(self, cls: int) -> str:
        """`cls` is class << 8 | subclass."""
        name = self.ids.subclass(cls >> 8, cls & 0xFF)
        mixed = False
        if name is None:
            name = self.ids.class_name(cls >> 8)
            mixed = name is not None and self.numeric != 1
        return self._one(name, f"{cls:04x}", "Class", mixed)

    def progif(self, cls: int, progif: int) -> str | None:
        """The prog-if name alone, or None (PCI_LOOKUP_NO_NUMBERS)."""
        name = self.ids.progif(cls >> 8, cls & 0xFF, progif)
        if name is None and cls == IDE_CLASS and not progif & IDE_PROGIF_RESERVED:
            bits = (
                (0x80, "Master"),
                (0x08, "SecP"),
                (0x04, "SecO"),
                (0x02, "PriP"),
                (0x01, "PriO"),
            )
            name = " ".join(text for bit, text in bits if progif & bit) or None
        return name

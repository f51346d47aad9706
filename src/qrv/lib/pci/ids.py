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
from dataclasses import dataclass, field

DEFAULT_PATH = "/usr/share/misc/pci.ids"
PATH_ENV = "QRV_PCI_IDS"
MAX_FILE = 16 << 20  # pci.ids is ~1.4 MB; a larger file is not one
IDE_CLASS = 0x0101
IDE_PROGIF_RESERVED = 0x70


@dataclass
class PciIds:
    vendors: dict[int, str] = field(default_factory=dict)
    devices: dict[tuple[int, int], str] = field(default_factory=dict)
    subsystems: dict[tuple[int, int, int, int], str] = field(default_factory=dict)
    classes: dict[int, str] = field(default_factory=dict)
    subclasses: dict[tuple[int, int], str] = field(default_factory=dict)
    progifs: dict[tuple[int, int, int], str] = field(default_factory=dict)


def _hex(text: str, width: int) -> int | None:
    if len(text) != width:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def parse(text: str) -> PciIds:
    """Parse pci.ids text; malformed lines are skipped (as pciutils warns and goes on)."""
    ids = PciIds()
    vendor = device = cls = sub = -1
    in_class = False
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        depth = len(raw) - len(raw.lstrip("\t"))
        line = raw[depth:]
        key, _, name = line.partition(" ")
        name = name.strip()
        if depth == 0:
            if key == "C":
                num, _, name = name.partition(" ")
                value = _hex(num, 2)
                in_class, cls = value is not None, -1 if value is None else value
                if value is not None:
                    ids.classes[value] = name.strip()
                continue
            value = _hex(key, 4)
            in_class, vendor, device = False, -1 if value is None else value, -1
            if value is not None:
                ids.vendors[value] = name
        elif depth == 1:
            value = _hex(key, 2 if in_class else 4)
            if value is None:
                continue
            if in_class and cls >= 0:
                sub = value
                ids.subclasses[(cls, value)] = name
            elif not in_class and vendor >= 0:
                device = value
                ids.devices[(vendor, value)] = name
        elif depth == 2:
            if in_class and cls >= 0:
                value = _hex(key, 2)
                if value is not None:
                    ids.progifs[(cls, sub, value)] = name
            elif vendor >= 0 and device >= 0:
                sv = _hex(key, 4)
                sd_text, _, sname = name.partition(" ")
                sd = _hex(sd_text, 4)
                if sv is not None and sd is not None:
                    ids.subsystems[(vendor, device, sv, sd)] = sname.strip()
    return ids


_cache: dict[tuple[str, int, int], PciIds] = {}


def load(path: str | None = None) -> PciIds:
    """The database at `path` (default: $QRV_PCI_IDS, then /usr/share/misc/pci.ids).

    A parse (~0.5 s) is kept for the file's (path, mtime, size): the database is
    read-only host data, and every lspci run would otherwise parse it again.
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
        v, d = self.ids.vendors.get(vid), self.ids.devices.get((vid, did))
        return self._pair(v, d, f"{vid:04x}:{did:04x}")

    def vendor(self, vid: int) -> str:
        return self._one(self.ids.vendors.get(vid), f"{vid:04x}", "Vendor")

    def device(self, vid: int, did: int) -> str:
        return self._one(self.ids.devices.get((vid, did)), f"{did:04x}", "Device")

    def _subsys(self, vid: int, did: int, sv: int, sd: int) -> str | None:
        name = self.ids.subsystems.get((vid, did, sv, sd)) if vid > 0 and did > 0 else None
        if name is None and vid == sv and did == sd:
            name = self.ids.devices.get((vid, did))
        return name

    def subsystem(self, vid: int, did: int, sv: int, sd: int) -> str:
        v, d = self.ids.vendors.get(sv), self._subsys(vid, did, sv, sd)
        return self._pair(v, d, f"{sv:04x}:{sd:04x}")

    def subsystem_vendor(self, sv: int) -> str:
        return self._one(self.ids.vendors.get(sv), f"{sv:04x}", "Unknown vendor")

    def subsystem_device(self, vid: int, did: int, sv: int, sd: int) -> str:
        return self._one(self._subsys(vid, did, sv, sd), f"{sd:04x}", "Device")

    def class_name(self, cls: int) -> str:
        """`cls` is class << 8 | subclass."""
        name = self.ids.subclasses.get((cls >> 8, cls & 0xFF))
        mixed = False
        if name is None:
            name = self.ids.classes.get(cls >> 8)
            mixed = name is not None and self.numeric != 1
        return self._one(name, f"{cls:04x}", "Class", mixed)

    def progif(self, cls: int, progif: int) -> str | None:
        """The prog-if name alone, or None (PCI_LOOKUP_NO_NUMBERS)."""
        name = self.ids.progifs.get((cls >> 8, cls & 0xFF, progif))
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

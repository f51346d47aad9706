"""``nvme list``: every namespace node in /dev, as nvme-cli 1.x lists them (and its JSON)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from qrv.lib.c import listdir
from qrv.spec.nvme import IdentifyController, IdentifyNamespace
from qrv.userland.nvme.fmt import JsonObject

DEV = "/dev"
_NODE = re.compile(r"^nvme(\d+)n(\d+)$")
HEADER = (
    f"{'Node':<16} {'SN':<20} {'Model':<40} {'Namespace':<9} {'Usage':<26} "
    f"{'Format':<16} {'FW Rev':<8}"
)
RULE = " ".join("-" * n for n in (16, 20, 40, 9, 26, 16, 8))


@dataclass(frozen=True)
class Row:
    path: str
    index: int
    nsid: int
    ctrl: IdentifyController
    ns: IdentifyNamespace


def namespace_nodes() -> list[tuple[str, int, int]]:
    """(path, controller index, nsid) of each whole-namespace node, in numeric order."""
    found = []
    for name in listdir(DEV):
        m = _NODE.match(name)
        if m:
            found.append((f"{DEV}/{name}", int(m.group(1)), int(m.group(2))))
    return sorted(found, key=lambda f: (f[1], f[2]))


def _si(value: float) -> tuple[float, str]:
    """nvme-cli's ``suffix_si_get``: value and prefix in powers of 1000."""
    for prefix in ("", "k", "M", "G", "T", "P"):
        if value < 1000 or prefix == "P":
            return value, prefix
        value /= 1000
    return value, "P"


def _binary(value: float) -> tuple[float, str]:
    """``suffix_binary_get``: powers of 1024."""
    for prefix in ("", "Ki", "Mi", "Gi", "Ti"):
        if value < 1024 or prefix == "Ti":
            return value, prefix
        value /= 1024
    return value, "Ti"


def _usage(ns: IdentifyNamespace) -> str:
    used, used_unit = _si(ns.nuse * ns.lba_size)
    size, size_unit = _si(ns.nsze * ns.lba_size)
    return f"{used:6.2f} {used_unit:>2}B / {size:6.2f} {size_unit:>2}B"


def _format(ns: IdentifyNamespace) -> str:
    lba, unit = _binary(ns.lba_size)
    ms = ns.lbaf[ns.flbas & 0xF] & 0xFFFF
    return f"{lba:3.0f} {unit:>2}B + {ms:2d} B"


def text(rows: list[Row]) -> str:
    lines = [HEADER, RULE]
    for r in rows:
        lines.append(
            f"{r.path:<16} {r.ctrl.sn:<20.20} {r.ctrl.mn:<40.40} {r.nsid:<9d} "
            f"{_usage(r.ns):<26} {_format(r.ns):<16} {r.ctrl.fr:<.8}"
        )
    return "\n".join(lines) + "\n"


def json_obj(rows: list[Row]) -> JsonObject:
    return {
        "Devices": [
            {
                "NameSpace": r.nsid,
                "DevicePath": r.path,
                "Firmware": r.ctrl.fr,
                "Index": r.index,
                "ModelNumber": r.ctrl.mn,
                "SerialNumber": r.ctrl.sn,
                "UsedBytes": r.ns.nuse * r.ns.lba_size,
                "MaximumLBA": r.ns.nsze,
                "PhysicalSize": r.ns.nsze * r.ns.lba_size,
                "SectorSize": r.ns.lba_size,
            }
            for r in rows
        ]
    }

"""``nvme id-ctrl`` and ``nvme id-ns`` output: nvme-cli's labels, order and JSON keys.

The fields are those of NVMe 1.4 (what :class:`IdentifyController` decodes);
nvme-cli's later (2.0) fields are left out (docs/nvme.md).
"""

from __future__ import annotations

from typing import Any

from qrv.spec.nvme import (
    FLBAS_INDEX,
    LBAF_LBADS,
    LBAF_MS,
    IdentifyController,
    IdentifyNamespace,
    PowerState,
)
from qrv.userland.nvme import ctrl_bits, ns_bits
from qrv.userland.nvme.bitlines import Decoder
from qrv.userland.nvme.fmt import (
    RENDERS,
    JsonObject,
    ascii_lines,
    c_hex,
    hex_bytes,
    hex_dump,
    ieee_oui,
    key_lines,
    uuid_text,
)

# (key, human format): "x" C %#x, "d" decimal, "s" text, "u" a 128-bit counter
CTRL_FIELDS: list[tuple[str, str]] = [
    ("vid", "x"),
    ("ssvid", "x"),
    ("sn", "s"),
    ("mn", "s"),
    ("fr", "s"),
    ("rab", "d"),
    ("ieee", "ieee"),
    ("cmic", "x"),
    ("mdts", "d"),
    ("cntlid", "x"),
    ("ver", "x"),
    ("rtd3r", "x"),
    ("rtd3e", "x"),
    ("oaes", "x"),
    ("ctratt", "x"),
    ("rrls", "x"),
    ("cntrltype", "d"),
    ("fguid", "uuid"),
    ("crdt1", "d"),
    ("crdt2", "d"),
    ("crdt3", "d"),
    ("nvmsr", "d"),
    ("vwci", "d"),
    ("mec", "d"),
    ("oacs", "x"),
    ("acl", "d"),
    ("aerl", "d"),
    ("frmw", "x"),
    ("lpa", "x"),
    ("elpe", "d"),
    ("npss", "d"),
    ("avscc", "x"),
    ("apsta", "x"),
    ("wctemp", "d"),
    ("cctemp", "d"),
    ("mtfa", "d"),
    ("hmpre", "d"),
    ("hmmin", "d"),
    ("tnvmcap", "d"),
    ("unvmcap", "d"),
    ("rpmbs", "x"),
    ("edstt", "d"),
    ("dsto", "d"),
    ("fwug", "d"),
    ("kas", "d"),
    ("hctma", "x"),
    ("mntmt", "d"),
    ("mxtmt", "d"),
    ("sanicap", "x"),
    ("hmminds", "d"),
    ("hmmaxd", "d"),
    ("nsetidmax", "d"),
    ("endgidmax", "d"),
    ("anatt", "d"),
    ("anacap", "d"),
    ("anagrpmax", "d"),
    ("nanagrpid", "d"),
    ("pels", "d"),
    ("sqes", "x"),
    ("cqes", "x"),
    ("maxcmd", "d"),
    ("nn", "d"),
    ("oncs", "x"),
    ("fuses", "x"),
    ("fna", "x"),
    ("vwc", "x"),
    ("awun", "d"),
    ("awupf", "d"),
    ("icsvscc", "d"),
    ("nwpc", "d"),
    ("acwu", "d"),
    ("sgls", "x"),
    ("mnan", "d"),
    ("subnqn", "s"),
    ("ioccsz", "d"),
    ("iorcsz", "d"),
    ("icdoff", "d"),
    ("fcatt", "x"),
    ("msdbd", "d"),
    ("ofcs", "d"),
]

NS_FIELDS: list[tuple[str, str]] = [
    ("nsze", "x"),
    ("ncap", "x"),
    ("nuse", "x"),
    ("nsfeat", "x"),
    ("nlbaf", "d"),
    ("flbas", "x"),
    ("mc", "x"),
    ("dpc", "x"),
    ("dps", "x"),
    ("nmic", "x"),
    ("rescap", "x"),
    ("fpi", "x"),
    ("dlfeat", "d"),
    ("nawun", "d"),
    ("nawupf", "d"),
    ("nacwu", "d"),
    ("nabsn", "d"),
    ("nabo", "d"),
    ("nabspf", "d"),
    ("noiob", "d"),
    ("nvmcap", "d"),
    ("npwg", "d"),
    ("npwa", "d"),
    ("npdg", "d"),
    ("npda", "d"),
    ("nows", "d"),
    ("anagrpid", "d"),
    ("nsattr", "d"),
    ("nvmsetid", "d"),
    ("endgid", "d"),
    ("nguid", "hex"),
    ("eui64", "hex"),
]
NSFEAT_OPTPERF = 0x10  # the npwg..nows fields are valid (NVMe 1.4 Figure 245)
CTRL_WIDTH = 10
NS_WIDTH = 8
CTRL_VS = slice(3072, 4096)  # Identify Controller bytes 4095:3072, vendor specific
NS_VS = slice(384, 4096)  # Identify Namespace bytes 4095:384, vendor specific


def _ns_fields(ns: IdentifyNamespace) -> list[tuple[str, str]]:
    optperf = {"npwg", "npwa", "npdg", "npda", "nows"}
    if ns.nsfeat & NSFEAT_OPTPERF:
        return NS_FIELDS
    return [(k, f) for k, f in NS_FIELDS if k not in optperf]


def _json_value(value: Any, kind: str) -> Any:
    if kind == "ieee":
        return ieee_oui(value)
    if kind == "uuid":
        return uuid_text(value)
    if kind == "hex":
        return hex_bytes(value)
    return value


def _human_value(value: Any, kind: str) -> str:
    if kind == "ieee":
        return f"{ieee_oui(value):06x}"
    if kind == "uuid":
        return uuid_text(value)
    if kind == "hex":
        return hex_bytes(value)
    return RENDERS[kind](value)


def _power(value: int, scale: int) -> str:
    """nvme-cli's power with its scale: 0 not reported, 1 0.0001 W, 2 0.01 W."""
    if scale == 1:
        return f"{value // 10000}.{value % 10000:04d}W"
    if scale == 2:
        return f"{value // 100}.{value % 100:02d}W"
    return "-"


def _ps_json(ps: PowerState) -> JsonObject:
    return {
        "max_power": ps.mp,
        "max_power_scale": ps.flags & PowerState.MXPS,
        "non-operational_state": int(bool(ps.flags & PowerState.NOPS)),
        "entry_lat": ps.enlat,
        "exit_lat": ps.exlat,
        "read_tput": ps.rrt,
        "read_lat": ps.rrl,
        "write_tput": ps.rwt,
        "write_lat": ps.rwl,
        "idle_power": ps.idlp,
        "idle_scale": ps.ips >> 6,
        "active_power": ps.actp,
        "active_power_work": ps.apws & 7,
        "active_scale": ps.apws >> 6,
    }


def _ps_lines(index: int, ps: PowerState) -> list[str]:
    mp = _power(ps.mp, 1 if ps.flags & PowerState.MXPS else 2)
    state = "non-operational" if ps.flags & PowerState.NOPS else "operational"
    work = str(ps.apws & 7) if ps.apws >> 6 else "-"
    return [
        f"ps {index:4d} : mp:{mp} {state} enlat:{ps.enlat} exlat:{ps.exlat} "
        f"rrt:{ps.rrt} rrl:{ps.rrl}",
        f"          rwt:{ps.rwt} rwl:{ps.rwl} idle_power:{_power(ps.idlp, ps.ips >> 6)} "
        f"active_power:{_power(ps.actp, ps.apws >> 6)}",
        f"          active_power_workload:{work}",
    ]


def _field_lines(
    ident: IdentifyController | IdentifyNamespace,
    fields: list[tuple[str, str]],
    width: int,
    decoders: dict[str, Decoder] | None,
    names: dict[str, str] | None = None,
) -> list[str]:
    """``key : value`` lines; with `decoders` (``-H``), each decoded field's bit lines, and
    the `names` nvme-cli gives some fields after a tab."""
    lines: list[str] = []
    for key, kind in fields:
        value = getattr(ident, key)
        shown = _human_value(value, kind)
        if names is not None and key in names:
            shown += f"\t{names[key]}"
        lines += key_lines([(key, shown)], width)
        if decoders is not None and key in decoders:
            lines += decoders[key].lines(value)
    return lines


def _vs_lines(vs: bytes) -> list[str]:
    """``-v``: the vendor specific area dumped as nvme-cli's ``vs[]:`` and ``d()``."""
    return ["vs[]:", *hex_dump(vs)]


def id_ctrl_json(ctrl: IdentifyController, raw: bytes, *, vs: bool = False) -> JsonObject:
    obj: JsonObject = {k: _json_value(getattr(ctrl, k), kind) for k, kind in CTRL_FIELDS}
    if not ctrl.subnqn:
        del obj["subnqn"]  # as nvme-cli: only when the controller reports one
    obj["psds"] = [_ps_json(ps) for ps in ctrl.power_states(raw)]
    if vs:
        obj["vs"] = ascii_lines(raw[CTRL_VS])
    return obj


def id_ctrl_text(
    ctrl: IdentifyController, raw: bytes, *, human: bool = False, vs: bool = False
) -> str:
    decoders = ctrl_bits.DECODERS if human else None
    lines = ["NVME Identify Controller:", *_field_lines(ctrl, CTRL_FIELDS, CTRL_WIDTH, decoders)]
    for i, ps in enumerate(ctrl.power_states(raw)):
        lines += _ps_lines(i, ps)
    if vs:
        lines += _vs_lines(raw[CTRL_VS])
    return "\n".join(lines) + "\n"


def in_use(ns: IdentifyNamespace) -> int:
    return FLBAS_INDEX.get(ns.flbas)


def _lbafs(ns: IdentifyNamespace) -> list[tuple[int, int, int, int]]:
    """(index, ms, lbads, rp) of formats 0..NLBAF."""
    return [
        (i, LBAF_MS.get(f), LBAF_LBADS.get(f), (f >> 24) & 0b11)
        for i, f in enumerate(ns.lbaf[: ns.nlbaf + 1])
    ]


def id_ns_json(ns: IdentifyNamespace, raw: bytes, *, vs: bool = False) -> JsonObject:
    obj: JsonObject = {k: _json_value(getattr(ns, k), kind) for k, kind in _ns_fields(ns)}
    obj["lbafs"] = [
        {"lbaf": i, "ms": ms, "ds": ds, "rp": rp, "in_use": int(i == in_use(ns))}
        for i, ms, ds, rp in _lbafs(ns)
    ]
    if vs:
        obj["vs"] = ascii_lines(raw[NS_VS])
    return obj


def _lbaf_line(i: int, ms: int, ds: int, rp: int, *, used: bool, human: bool) -> str:
    mark = "(in use)" if used else ""
    if human:
        perf = ns_bits.RELATIVE_PERFORMANCE[rp]
        line = (
            f"LBA Format {i:2d} : Metadata Size: {ms:<3d} bytes - Data Size: {1 << ds:<2d} bytes"
            f" - Relative Performance: {c_hex(rp)} {perf} {mark}"
        )
    else:
        line = f"lbaf {i:2d} : ms:{ms:<3d} lbads:{ds:<2d} rp:{c_hex(rp)} {mark}"
    return line.rstrip()


def id_ns_text(
    ns: IdentifyNamespace, nsid: int, raw: bytes, *, human: bool = False, vs: bool = False
) -> str:
    decoders, names = (ns_bits.DECODERS, ns_bits.SIZE_NAMES) if human else (None, None)
    lines = [
        f"NVME Identify Namespace {nsid}:",
        *_field_lines(ns, _ns_fields(ns), NS_WIDTH, decoders, names),
    ]
    for i, ms, ds, rp in _lbafs(ns):
        lines.append(_lbaf_line(i, ms, ds, rp, used=i == in_use(ns), human=human))
    if vs:
        lines += _vs_lines(raw[NS_VS])
    return "\n".join(lines) + "\n"

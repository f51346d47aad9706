"""nvme: NVMe controllers and namespaces as nvme-cli shows them (docs/nvme.md).

``nvme list``, ``id-ctrl``, ``id-ns``, ``smart-log``, ``error-log``, ``fw-log``,
``get-feature``, ``set-feature`` and ``flush``, each through devb-nvme's
passthrough on the controller node ``/dev/nvme<c>`` (root only, as on Linux).
``-o json`` prints nvme-cli's JSON keys.  A bad option or argument: the
command's usage on stderr, status 2; a failure (the node, the devctl, an NVMe
error status): one line, status 1.
"""

from __future__ import annotations

import getopt
from collections.abc import Callable
from dataclasses import dataclass, field

from qrv.spec.iomsg import strerror
from qrv.spec.nvme import (
    NSID_BROADCAST,
    AdminOpcode,
    Cns,
    ErrorLogEntry,
    FeatureField,
    FeatureSelect,
    FirmwareSlotLog,
    IdentifyNamespace,
    LogPage,
    NvmOpcode,
    SmartLog,
)
from qrv.spec.nvmectl import DataDir, PassthruCmd
from qrv.userland._opts import Usage
from qrv.userland._util import EXIT_FAILURE, EXIT_USAGE, dies_of_sigpipe, err, out, out_bytes
from qrv.userland.nvme import features, identify, listing, logs
from qrv.userland.nvme.device import BadDevice, CommandError, Controller, Target, parse_target
from qrv.userland.nvme.fmt import JsonObject, dump_json

NAME = "nvme"
FORMATS = ("normal", "json", "binary")
MAX_ERROR_ENTRIES = 256  # the Error Information log holds at most ELPE + 1 <= 256 entries


@dataclass
class Args:
    """A subcommand's parsed options (long names as nvme-cli's) and its device."""

    opts: dict[str, str] = field(default_factory=dict)
    target: Target | None = None

    def number(self, key: str, default: int | None = None, limit: int = 0xFFFF_FFFF) -> int:
        if key not in self.opts:
            if default is None:
                raise Usage(f"--{key} is required")
            return default
        text = self.opts[key]
        try:
            value = int(text, 0)
        except ValueError:
            raise Usage(f"bad --{key} '{text}'") from None
        if not 0 <= value <= limit:
            raise Usage(f"--{key} '{text}' out of range")
        return value

    @property
    def dev(self) -> Target:
        assert self.target is not None
        return self.target


@dataclass(frozen=True)
class Sub:
    usage: str
    short: str
    long: dict[str, str]  # short letter -> long name (a trailing '=' takes a value)
    run: Callable[[Args], int]
    needs_dev: bool = True


def _show(args: Args, obj: JsonObject, text: str, raw: bytes | None = None) -> None:
    """The output format chosen: normal (`text`), json (`obj`), binary (`raw`, the structure
    as the controller returned it, as nvme-cli's ``-o binary``)."""
    fmt = args.opts.get("output-format", "normal")
    if fmt == "binary":
        if raw is None:
            raise Usage("this command has no binary output")
        out_bytes(raw)
    else:
        out(dump_json(obj) if fmt == "json" else text)


def _namespace(args: Args, default: int | None = None) -> int:
    """-n NSID, else the namespace node's, else `default` (a usage error without one)."""
    fallback = args.dev.nsid if args.dev.nsid is not None else default
    return args.number("namespace-id", fallback)


# -- the subcommands ---------------------------------------------------------------------------


def cmd_list(args: Args) -> int:
    rows: list[listing.Row] = []
    controllers: dict[int, Controller] = {}
    status = 0
    try:
        for path, index, nsid in listing.namespace_nodes():
            try:
                ctrl = controllers.get(index) or Controller(parse_target(f"nvme{index}"))
            except OSError as exc:
                err(f"{NAME}: /dev/nvme{index}: {strerror(exc.errno or 0)}")
                status = EXIT_FAILURE
                continue
            controllers[index] = ctrl
            ident, _ = ctrl.id_ctrl()
            rows.append(listing.Row(path, index, nsid, ident, ctrl.id_ns(nsid)))
    finally:
        for ctrl in controllers.values():
            ctrl.__exit__()
    _show(args, listing.json_obj(rows), listing.text(rows))
    return status


def cmd_id_ctrl(args: Args) -> int:
    with Controller(args.dev) as c:
        ident, raw = c.id_ctrl()
    human, vs = "human-readable" in args.opts, "vendor-specific" in args.opts
    text = identify.id_ctrl_text(ident, raw, human=human, vs=vs)
    _show(args, identify.id_ctrl_json(ident, raw, vs=vs), text, raw)
    return 0


def cmd_id_ns(args: Args) -> int:
    nsid = _namespace(args)
    with Controller(args.dev) as c:
        raw = c.identify(Cns.NAMESPACE, nsid)
    ns = IdentifyNamespace.unpack(raw)
    human, vs = "human-readable" in args.opts, "vendor-specific" in args.opts
    text = identify.id_ns_text(ns, nsid, raw, human=human, vs=vs)
    _show(args, identify.id_ns_json(ns, raw, vs=vs), text, raw)
    return 0


def cmd_smart_log(args: Args) -> int:
    nsid = args.number("namespace-id", NSID_BROADCAST)
    with Controller(args.dev) as c:
        raw = c.log_page(LogPage.SMART_HEALTH, SmartLog.SIZE, nsid)
    log = SmartLog.unpack(raw)
    human = "human-readable" in args.opts
    text = logs.smart_text(log, args.dev.short, nsid, human=human)
    _show(args, logs.smart_json(log, human=human), text, raw)
    return 0


def cmd_error_log(args: Args) -> int:
    wanted = args.number("log-entries", 64, MAX_ERROR_ENTRIES)
    if not wanted:
        raise Usage("--log-entries must be at least 1")
    with Controller(args.dev) as c:
        ident, _ = c.id_ctrl()
        count = min(wanted, ident.elpe + 1)
        raw = c.log_page(LogPage.ERROR_INFORMATION, count * ErrorLogEntry.SIZE)
    size = ErrorLogEntry.SIZE
    entries = [ErrorLogEntry.unpack(raw[i * size : (i + 1) * size]) for i in range(count)]
    _show(args, logs.error_json(entries), logs.error_text(entries, args.dev.short), raw)
    return 0


def cmd_fw_log(args: Args) -> int:
    with Controller(args.dev) as c:
        raw = c.log_page(LogPage.FIRMWARE_SLOT, FirmwareSlotLog.SIZE)
    log = FirmwareSlotLog.unpack(raw)
    _show(args, logs.fw_json(log, args.dev.short), logs.fw_text(log, args.dev.short), raw)
    return 0


def cmd_get_feature(args: Args) -> int:
    fid = args.number("feature-id", limit=0xFF)
    sel = args.number("sel", FeatureSelect.CURRENT, limit=FeatureSelect.SUPPORTED_CAPABILITIES)
    nsid = _namespace(args, 0)
    cdw11 = args.number("cdw11", 0)
    size = 0 if sel == FeatureSelect.SUPPORTED_CAPABILITIES else features.DATA_LEN.get(fid, 0)
    cdw10 = FeatureField.SEL.put(FeatureField.FID.put(0, fid), sel)
    cmd = PassthruCmd(
        AdminOpcode.GET_FEATURES,
        nsid=nsid,
        direction=DataDir.FROM_DEVICE if size else DataDir.NONE,
        data_len=size,
        cdw10=cdw10,
        cdw11=cdw11,
    )
    with Controller(args.dev) as c:
        result, data = c.command(cmd)
    text = features.get_text(fid, sel, result.result, data, human="human-readable" in args.opts)
    _show(args, features.get_json(fid, sel, result.result, data), text, data)
    return 0


def cmd_set_feature(args: Args) -> int:
    fid = args.number("feature-id", limit=0xFF)
    value = args.number("value")
    cdw12 = args.number("cdw12", 0)
    nsid = _namespace(args, 0)
    save = "save" in args.opts
    cdw10 = FeatureField.FID.put(0, fid) | (FeatureField.SV.mask if save else 0)
    cmd = PassthruCmd(AdminOpcode.SET_FEATURES, nsid=nsid, cdw10=cdw10, cdw11=value, cdw12=cdw12)
    with Controller(args.dev) as c:
        c.command(cmd)
    out(features.set_text(fid, value, cdw12, save))
    return 0


def cmd_flush(args: Args) -> int:
    nsid = _namespace(args, NSID_BROADCAST)
    with Controller(args.dev) as c:
        c.command(PassthruCmd(NvmOpcode.FLUSH, nsid=nsid), admin=False)
    out("NVMe Flush: success\n")
    return 0


_O = {"o": "output-format="}
_N = {"n": "namespace-id="}
_H = {"H": "human-readable"}
_V = {"v": "vendor-specific"}
SUBCOMMANDS: dict[str, Sub] = {
    "list": Sub("nvme list [-o FMT]", "o:", _O, cmd_list, needs_dev=False),
    "id-ctrl": Sub("nvme id-ctrl DEV [-H] [-v] [-o FMT]", "o:Hv", _O | _H | _V, cmd_id_ctrl),
    "id-ns": Sub(
        "nvme id-ns DEV [-n NSID] [-H] [-v] [-o FMT]", "n:o:Hv", _O | _N | _H | _V, cmd_id_ns
    ),
    "smart-log": Sub(
        "nvme smart-log DEV [-n NSID] [-H] [-o FMT]", "n:o:H", _O | _N | _H, cmd_smart_log
    ),
    "error-log": Sub(
        "nvme error-log DEV [-e ENTRIES] [-o FMT]",
        "e:o:",
        _O | {"e": "log-entries="},
        cmd_error_log,
    ),
    "fw-log": Sub("nvme fw-log DEV [-o FMT]", "o:", _O, cmd_fw_log),
    "get-feature": Sub(
        "nvme get-feature DEV -f FID [-s SEL] [-n NSID] [-c CDW11] [-H] [-o FMT]",
        "f:s:n:c:o:H",
        _O | _N | _H | {"f": "feature-id=", "s": "sel=", "c": "cdw11="},
        cmd_get_feature,
    ),
    "set-feature": Sub(
        "nvme set-feature DEV -f FID -v VALUE [-n NSID] [-c CDW12] [-s]",
        "f:v:n:c:s",
        _N | {"f": "feature-id=", "v": "value=", "c": "cdw12=", "s": "save"},
        cmd_set_feature,
    ),
    "flush": Sub("nvme flush DEV [-n NSID]", "n:", _N, cmd_flush),
}
USAGE = "nvme COMMAND [DEV] [OPTIONS] (-o FMT: normal, json or binary); commands: " + ", ".join(
    SUBCOMMANDS
)


def parse(sub: Sub, argv: list[str]) -> Args:
    """The subcommand's options (keyed by long name) and its device operand."""
    if "--help" in argv or "-h" in argv:
        raise Usage("")
    try:
        pairs, rest = getopt.gnu_getopt(argv, sub.short, list(sub.long.values()))
    except getopt.GetoptError as exc:
        opt = f"-{exc.opt}" if len(exc.opt) == 1 else f"--{exc.opt}"
        if "requires argument" in exc.msg:
            raise Usage(f"option '{opt}' needs a value") from None
        raise Usage(f"unknown option '{opt}'" if exc.opt else exc.msg) from None
    args = Args()
    for opt, value in pairs:
        long = sub.long[opt[1:]] if not opt.startswith("--") else opt[2:]
        args.opts[long.rstrip("=")] = value
    if args.opts.get("output-format", "normal") not in FORMATS:
        raise Usage(f"bad output format '{args.opts['output-format']}' (normal, json or binary)")
    if sub.needs_dev:
        if len(rest) != 1:
            raise Usage("one device is needed" if not rest else f"unknown argument '{rest[1]}'")
        try:
            args.target = parse_target(rest[0])
        except BadDevice as exc:
            raise Usage(str(exc)) from None
    elif rest:
        raise Usage(f"unknown argument '{rest[0]}'")
    return args


def _usage(usage: str, exc: Usage) -> int:
    if str(exc):
        err(f"{NAME}: {exc}")
    err(f"usage: {usage}")
    return EXIT_USAGE


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        problem = "" if len(argv) < 2 or argv[1] == "--help" else f"unknown command '{argv[1]}'"
        return _usage(USAGE, Usage(problem))
    sub = SUBCOMMANDS[argv[1]]
    try:
        args = parse(sub, argv[2:])
    except Usage as exc:
        return _usage(sub.usage, exc)
    try:
        return sub.run(args)
    except Usage as exc:
        return _usage(sub.usage, exc)
    except CommandError as exc:
        err(f"{NAME}: {argv[1]}: {exc}")
    except OSError as exc:
        where = f"{args.dev.controller}: " if sub.needs_dev else ""
        err(f"{NAME}: {argv[1]}: {where}{strerror(exc.errno or 0)}")
    return EXIT_FAILURE

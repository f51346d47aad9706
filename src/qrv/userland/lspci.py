"""lspci: list the PCI functions pci-server enumerated, as pciutils 3.9 prints them.

``lspci [-nvxtkmD] [-s [[bus]:][dev][.fn]] [-d [vid]:[did][:class]] [-i FILE]``

``-n``/``-nn`` numbers instead of/beside names; ``-v``/``-vv``/``-vvv`` the
decoded header and capabilities; ``-x``/``-xxx``/``-xxxx`` 64/256/4096
bytes of configuration space in hex (what ``lspci -F FILE`` reads back);
``-t`` the bus tree; ``-k`` the driver owning each function (pci-server's
attach table); ``-m``/``-mm`` machine-readable.  Names come from pci.ids
(``-i FILE``, else $QRV_PCI_IDS, else /usr/share/misc/pci.ids) when the host
has it, numbers otherwise.  BAR sizes and IRQs come from pci-server's
enumeration, so listing needs no attach.  docs/lspci.md lists where the
output differs from pciutils' and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.lib.c.proc import proc_snapshot
from qrv.lib.c.stdio import eprintf
from qrv.lib.pci import (
    PCI_BUS,
    PCI_DEV,
    PCI_ERR_OK,
    PCI_FUNC,
    PciErr,
    find_all,
    pci_device_cfg_rd64,
    pci_device_info,
    pci_device_owners,
    pci_device_read_vid,
    pci_strerror,
)
from qrv.lib.pci.config import ConfigBytes
from qrv.lib.pci.ids import Names, load
from qrv.lib.pci.show import (
    Function,
    hex_dump,
    kernel_lines,
    machine,
    terse,
    tree,
    verbose_lines,
)
from qrv.spec.pci import CONFIG_SPACE_SIZE
from qrv.userland._util import EXIT_USAGE, dies_of_sigpipe, out

NAME = "lspci"
USAGE = (
    f"usage: {NAME} [-n|-nn] [-v|-vv|-vvv] [-x|-xxx|-xxxx] [-t] [-k] [-m|-mm] [-D]"
    " [-s [[bus]:][dev][.fn]] [-d [vid]:[did][:class]] [-i FILE]"
)
FLAGS = "nvxtkmD"
ARG_OPTS = "sdi"
QWORD = 8
MAX_BUS, MAX_DEV, MAX_FN, MAX_ID = 0xFF, 0x1F, 7, 0xFFFF


class LspciError(Exception):
    def __init__(self, err: PciErr) -> None:
        super().__init__(pci_strerror(err))
        self.err = err


class UsageError(Exception):
    pass


@dataclass
class Options:
    numeric: int = 0
    verbose: int = 0
    hex: int = 0
    tree: bool = False
    kernel: bool = False
    machine: int = 0
    domains: bool = False
    slot: tuple[int | None, int | None, int | None] = (None, None, None)
    ids: tuple[int | None, int | None, int | None] = (None, None, None)
    ids_file: str | None = None


def _hex_field(text: str, limit: int, what: str) -> int | None:
    if text in ("", "*"):
        return None
    try:
        value = int(text, 16)
    except ValueError:
        raise UsageError(f"-{what}: invalid number '{text}'") from None
    if not 0 <= value <= limit:
        raise UsageError(f"-{what}: value '{text}' out of range")
    return value


def parse_slot(text: str) -> tuple[int | None, int | None, int | None]:
    """``[[domain:]bus:][dev][.fn]``, hex, empty or ``*`` for any (pciutils' -s)."""
    head, _, fn = text.partition(".")
    parts = head.split(":")
    if len(parts) > 3:
        raise UsageError(f"-s: invalid slot '{text}'")
    if len(parts) == 3 and _hex_field(parts[0], MAX_ID, "s") not in (None, 0):
        return (-1, -1, -1)  # a domain other than 0 matches nothing
    bus = _hex_field(parts[-2], MAX_BUS, "s") if len(parts) >= 2 else None
    return bus, _hex_field(parts[-1], MAX_DEV, "s"), _hex_field(fn, MAX_FN, "s")


def parse_ids(text: str) -> tuple[int | None, int | None, int | None]:
    """``[vid]:[did][:class]`` (pciutils' -d)."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 3:
        raise UsageError(f"-d: invalid ID '{text}'")
    cls = _hex_field(parts[2], MAX_ID, "d") if len(parts) == 3 else None
    return _hex_field(parts[0], MAX_ID, "d"), _hex_field(parts[1], MAX_ID, "d"), cls


def parse_args(argv: list[str]) -> Options:
    opts = Options()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-":
            raise UsageError(f"unexpected argument '{arg}'")
        letters = arg[1:]
        while letters:
            ch, letters = letters[0], letters[1:]
            if ch in ARG_OPTS:
                value = letters or (args.pop(0) if args else None)
                if value is None:
                    raise UsageError(f"option -{ch} needs an argument")
                letters = ""
                if ch == "s":
                    opts.slot = parse_slot(value)
                elif ch == "d":
                    opts.ids = parse_ids(value)
                else:
                    opts.ids_file = value
            elif ch in FLAGS:
                _flag(opts, ch)
            else:
                raise UsageError(f"invalid option -- '{ch}'")
    if args:
        raise UsageError(f"unexpected argument '{args[0]}'")
    return opts


def _flag(opts: Options, ch: str) -> None:
    if ch == "n":
        opts.numeric += 1
    elif ch == "v":
        opts.verbose += 1
    elif ch == "x":
        opts.hex += 1
    elif ch == "t":
        opts.tree = True
    elif ch == "k":
        opts.kernel = True
    elif ch == "m":
        opts.machine += 1
    else:
        opts.domains = True


def _ok(result: tuple[PciErr, int]) -> int:
    err, value = result
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    return value


def read_function(bdf: int, names_of: dict[int, str]) -> Function:
    data = bytearray()
    for off in range(0, CONFIG_SPACE_SIZE, QWORD):
        data += _ok(pci_device_cfg_rd64(bdf, off)).to_bytes(QWORD, "little")
    err, irq, bas = pci_device_info(bdf)
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    err, pids = pci_device_owners(bdf)
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    drivers = [names_of.get(pid, f"pid {pid}") for pid in pids]
    return Function(
        PCI_BUS(bdf),
        PCI_DEV(bdf),
        PCI_FUNC(bdf),
        ConfigBytes(bytes(data)),
        sizes={ba.bar_num: ba.size for ba in bas},
        irq=irq if irq >= 0 else 0,
        driver=", ".join(drivers) or None,
    )


def selected(f: Function, opts: Options) -> bool:
    bus, dev, fn = opts.slot
    vid, did, cls = opts.ids
    want = ((bus, f.bus), (dev, f.dev), (fn, f.fn), (vid, f.vid), (did, f.did), (cls, f.cls))
    return all(w is None or w == have for w, have in want)


def render(f: Function, names: Names, opts: Options) -> list[str]:
    """One function's block, as pciutils' show_device."""
    if opts.machine:
        lines = machine(f, names, opts.verbose, opts.kernel)
    else:
        lines = (
            verbose_lines(f, names, opts.verbose)
            if opts.verbose
            else terse(f, names, 0, opts.kernel)
        )
        if opts.kernel or opts.verbose:
            lines += kernel_lines(f)
    if opts.hex:
        lines += hex_dump(f, opts.hex)
    if opts.verbose or opts.hex:
        lines.append("")
    return lines


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    try:
        opts = parse_args(argv[1:])
    except UsageError as exc:
        eprintf(f"{NAME}: {exc}\n{USAGE}\n")
        return EXIT_USAGE
    try:
        # pci_device_find reports a missing server as "no more devices": ask once explicitly
        err, _ = pci_device_read_vid(0)
        if err is PciErr.SERVER_NOT_AVAILABLE:
            raise LspciError(err)
        names_of = {p.pid: p.name for p in proc_snapshot()} if opts.kernel or opts.verbose else {}
        functions = [read_function(bdf, names_of) for bdf in find_all()]
    except LspciError as exc:
        eprintf(f"{NAME}: /dev/pci: {exc}\n")
        return 1
    names = Names(load(opts.ids_file), opts.numeric)
    shown = [f for f in functions if selected(f, opts)]
    for f in shown:
        f.domain = opts.domains
    if opts.tree:
        lines = tree(shown, names if opts.verbose else None)
        out("".join(line + "\n" for line in lines))
        return 0
    for f in shown:
        out("".join(line + "\n" for line in render(f, names, opts)))
    return 0

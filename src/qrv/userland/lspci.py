"""lspci: list the PCI functions pci-server enumerated (SPEC.md 3.3).

``lspci``      one line per function: ``00:01.0 NVM controller [0108]: 1b36:0010 (rev 02)``
``lspci -v``   adds subsystem, interrupt pin/IRQ, each BAR and the capabilities by name
``lspci -vv``  adds a dump of the 256-byte configuration header (``lspci -xxx`` layout)

Everything comes from /dev/pci through libpci; BAR sizes from the server's
enumeration (``pci_device_info``), so listing needs no attach.
"""

from __future__ import annotations

from qrv.lib.c.stdio import eprintf
from qrv.lib.pci import (
    PCI_BUS,
    PCI_DEV,
    PCI_ERR_OK,
    PCI_FUNC,
    AsType,
    PciBa,
    PciErr,
    find_all,
    pci_capabilities,
    pci_device_cfg_rd8,
    pci_device_cfg_rd32,
    pci_device_info,
    pci_device_read_ccode,
    pci_device_read_cmd,
    pci_device_read_did,
    pci_device_read_revid,
    pci_device_read_ssid,
    pci_device_read_ssvid,
    pci_device_read_vid,
    pci_strerror,
)
from qrv.spec.pci import (
    BRIDGE_IO_GRANULE,
    BRIDGE_IO_REG_MASK,
    BRIDGE_IO_SHIFT,
    BRIDGE_MEM_GRANULE,
    BRIDGE_MEM_REG_MASK,
    BRIDGE_MEM_SHIFT,
    CAP_NAMES,
    CLASS_NAMES,
    HEADER_TYPE_MASK,
    LEGACY_CONFIG_SIZE,
    Cfg,
    Command,
    HeaderType,
    Type1,
)
from qrv.spec.pci_msg import PCI_CCODE_CLASS, PCI_CCODE_SUBCLASS
from qrv.userland._util import dies_of_sigpipe, out

NAME = "lspci"
USAGE = f"usage: {NAME} [-v|-vv]"
DUMP_ROW = 16
PIN_NAMES = "ABCD"
UNITS = ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K"))
CLASS_FALLBACK = "Class"


class LspciError(Exception):
    def __init__(self, err: PciErr) -> None:
        super().__init__(pci_strerror(err))
        self.err = err


def _ok(result: tuple[PciErr, int]) -> int:
    err, value = result
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    return value


def bdf_text(bdf: int) -> str:
    return f"{PCI_BUS(bdf):02x}:{PCI_DEV(bdf):02x}.{PCI_FUNC(bdf)}"


def class_name(ccode: int) -> str:
    key = (PCI_CCODE_CLASS(ccode), PCI_CCODE_SUBCLASS(ccode))
    return CLASS_NAMES.get(key, f"{CLASS_FALLBACK} {key[0]:02x}{key[1]:02x}")


def size_text(size: int) -> str:
    """lspci's ``[size=16K]`` form."""
    for unit, suffix in UNITS:
        if size >= unit and size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)


def summary(bdf: int) -> str:
    ccode = _ok(pci_device_read_ccode(bdf))
    vid, did = _ok(pci_device_read_vid(bdf)), _ok(pci_device_read_did(bdf))
    rev = _ok(pci_device_read_revid(bdf))
    line = f"{bdf_text(bdf)} {class_name(ccode)} [{ccode >> 8:04x}]: {vid:04x}:{did:04x}"
    return line + (f" (rev {rev:02x})" if rev else "")


def bar_line(bdf: int, ba: PciBa, cmd: int) -> str:
    """``Memory at 0000000040000000 (64-bit, non-prefetchable) [size=16K]`` style."""
    raw = _ok(pci_device_cfg_rd32(bdf, Cfg.BAR0 + 4 * ba.bar_num))
    if ba.type is AsType.IO:
        where = f"{raw & ~0x3:x}" if ba.addr else "<unassigned>"
        text = f"I/O ports at {where} [size={size_text(ba.size)}]"
        enabled = cmd & Command.IO_SPACE
    else:
        pci_addr = raw & ~0xF
        if ba.is_64bit:
            pci_addr |= _ok(pci_device_cfg_rd32(bdf, Cfg.BAR0 + 4 * ba.bar_num + 4)) << 32
        where = f"{pci_addr:016x}" if ba.addr else "<unassigned>"
        bits = "64-bit" if ba.is_64bit else "32-bit"
        pref = "prefetchable" if ba.prefetchable else "non-prefetchable"
        text = f"Memory at {where} ({bits}, {pref}) [size={size_text(ba.size)}]"
        enabled = cmd & Command.MEMORY_SPACE
    return text if enabled and ba.addr else text + " [disabled]"


def bridge_lines(bdf: int) -> list[str]:
    """Bus numbers and forwarding windows of a type-1 header (PCI-to-PCI Bridge Spec 3.2)."""
    buses = _ok(pci_device_cfg_rd32(bdf, Type1.PRIMARY_BUS))
    primary, secondary, subordinate = buses & 0xFF, (buses >> 8) & 0xFF, (buses >> 16) & 0xFF
    lines = [
        f"\tBus: primary={primary:02x}, secondary={secondary:02x}, subordinate={subordinate:02x}"
    ]
    mem = _ok(pci_device_cfg_rd32(bdf, Type1.MEMORY_BASE))
    base = (mem & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT
    limit = ((mem >> 16) & BRIDGE_MEM_REG_MASK) << BRIDGE_MEM_SHIFT | (BRIDGE_MEM_GRANULE - 1)
    if base <= limit:
        lines.append(
            f"\tMemory behind bridge: {base:08x}-{limit:08x} [size={size_text(limit - base + 1)}]"
        )
    io = _ok(pci_device_cfg_rd32(bdf, Type1.IO_BASE)) & 0xFFFF
    io_base = (io & BRIDGE_IO_REG_MASK) << BRIDGE_IO_SHIFT
    io_limit = ((io >> 8) & BRIDGE_IO_REG_MASK) << BRIDGE_IO_SHIFT | (BRIDGE_IO_GRANULE - 1)
    if io_base <= io_limit:
        size = size_text(io_limit - io_base + 1)
        lines.append(f"\tI/O behind bridge: {io_base:04x}-{io_limit:04x} [size={size}]")
    return lines


def details(bdf: int) -> list[str]:
    hdr = _ok(pci_device_cfg_rd8(bdf, Cfg.HEADER_TYPE)) & HEADER_TYPE_MASK
    if hdr == HeaderType.NORMAL:
        ssvid, ssid = _ok(pci_device_read_ssvid(bdf)), _ok(pci_device_read_ssid(bdf))
        lines = [f"\tSubsystem: {ssvid:04x}:{ssid:04x}"]
    else:
        lines = bridge_lines(bdf) if hdr == HeaderType.BRIDGE else []
    err, irq, bas = pci_device_info(bdf)
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    pin = _ok(pci_device_cfg_rd8(bdf, Cfg.INTERRUPT_PIN))
    if 1 <= pin <= len(PIN_NAMES):
        routed = f"IRQ {irq}" if irq >= 0 else "no IRQ"
        lines.append(f"\tInterrupt: pin {PIN_NAMES[pin - 1]} routed to {routed}")
    cmd = _ok(pci_device_read_cmd(bdf))
    lines += [f"\t{bar_line(bdf, ba, cmd)}" for ba in bas]
    err, caps = pci_capabilities(bdf)
    if err is not PCI_ERR_OK:
        raise LspciError(err)
    for off, cap_id in caps:
        lines.append(f"\tCapabilities: [{off:02x}] {CAP_NAMES.get(cap_id, f'#{cap_id:02x}')}")
    return lines


def dump(bdf: int) -> list[str]:
    """The 256-byte header as ``00: 36 1b 10 00 ...`` rows."""
    data = bytearray()
    for off in range(0, LEGACY_CONFIG_SIZE, 4):
        data += _ok(pci_device_cfg_rd32(bdf, off)).to_bytes(4, "little")
    return [
        f"{row:02x}: " + " ".join(f"{b:02x}" for b in data[row : row + DUMP_ROW])
        for row in range(0, LEGACY_CONFIG_SIZE, DUMP_ROW)
    ]


@dies_of_sigpipe
def main(argv: list[str]) -> int:
    verbose = 0
    for arg in argv[1:]:
        if arg.startswith("-") and len(arg) > 1 and set(arg[1:]) == {"v"}:
            verbose += len(arg) - 1
        else:
            eprintf(f"{USAGE}\n")
            return 2
    try:
        # pci_device_find reports a missing server as "no more devices": ask once explicitly
        err, _ = pci_device_read_vid(0)
        if err is PciErr.SERVER_NOT_AVAILABLE:
            raise LspciError(err)
        for bdf in find_all():
            out(summary(bdf) + "\n")
            if verbose >= 1:
                lines = details(bdf)
                if verbose >= 2:
                    lines += dump(bdf)
                out("\n".join(lines) + "\n\n")
    except LspciError as exc:
        eprintf(f"{NAME}: /dev/pci: {exc}\n")
        return 1
    return 0

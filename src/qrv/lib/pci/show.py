"""lspci's output formats (pciutils 3.9) from configuration-space bytes.

:class:`Function` is what lspci knows of one function: its bdf, its
configuration bytes, and what the OS adds (BAR sizes from pci-server's
enumeration, the routed IRQ, the owning driver's name).  Everything else
is decoded from the bytes, so the same code lists a live bus and the
oracle tests can feed it any configuration space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qrv.lib.pci.caps import show_caps
from qrv.lib.pci.config import ConfigBytes, flag
from qrv.lib.pci.ids import Names
from qrv.spec.pci import BAR_IO, BAR_MEM_PREFETCH, BAR_MEM_TYPE_64, Cfg, HeaderType, Type1

DEVSEL = ("fast", "medium", "slow", "??")
MEM_TYPES = {0: "32-bit", 2: "low-1M", 4: "64-bit", 6: "type 3"}
SIZE_SUFFIXES = ("", "K", "M", "G", "T")
HEX_ROWS = {1: 64, 2: 64, 3: 256, 4: 4096}
CLASS_BRIDGE = 0x06
CLASS_PCI_BRIDGE = 0x0604
CLASS_CARDBUS_BRIDGE = 0x0607
ROM_ENABLE = 1
ROM_MASK = ~0x7FF & 0xFFFFFFFF


@dataclass
class Function:
    bus: int
    dev: int
    fn: int
    config: ConfigBytes
    sizes: dict[int, int] = field(default_factory=dict)
    irq: int | None = None
    driver: str | None = None
    domain: bool = False

    @property
    def slot(self) -> str:
        text = f"{self.bus:02x}:{self.dev:02x}.{self.fn}"
        return "0000:" + text if self.domain else text

    @property
    def vid(self) -> int:
        return self.config.w(Cfg.VENDOR_ID)

    @property
    def did(self) -> int:
        return self.config.w(Cfg.DEVICE_ID)

    @property
    def cls(self) -> int:
        return self.config.w(Cfg.SUBCLASS)

    @property
    def htype(self) -> int:
        return self.config.b(Cfg.HEADER_TYPE) & 0x7F

    @property
    def irq_number(self) -> int:
        """The IRQ lspci shows: the OS's, else the Interrupt Line register (as ``-F``)."""
        return self.config.b(Cfg.INTERRUPT_LINE) if self.irq is None else self.irq

    def subsystem_ids(self) -> tuple[int, int]:
        if self.htype == HeaderType.NORMAL:
            return self.config.w(Cfg.SUBSYSTEM_VENDOR_ID), self.config.w(Cfg.SUBSYSTEM_ID)
        if self.htype == HeaderType.CARDBUS and len(self.config.data) >= 128:
            return self.config.w(0x40), self.config.w(0x42)
        return 0xFFFF, 0xFFFF


def size_text(size: int) -> str:
    """`` [size=16K]``: pciutils divides by 1024 while the size is a multiple of 1024,
    then prints the count cast to ``unsigned`` (``show_size``): a window of 64 GiB + 1 MiB
    is ``[size=1M]``, its 0x1000000001 MiB cut to 32 bits."""
    if not size:
        return ""
    i = 0
    while i < len(SIZE_SUFFIXES) - 1 and size % 1024 == 0:
        size //= 1024
        i += 1
    return f" [size={size & 0xFFFFFFFF}{SIZE_SUFFIXES[i]}]"


def terse(f: Function, names: Names, verbose: int, kernel: bool = False) -> list[str]:
    c = f.config
    line = f"{f.slot} {names.class_name(f.cls)}: {names.vendor_device(f.vid, f.did)}"
    if rev := c.b(Cfg.REVISION_ID):
        line += f" (rev {rev:02x})"
    if verbose:
        progif = c.b(Cfg.PROG_IF)
        pname = names.progif(f.cls, progif)
        if progif or pname:
            line += f" (prog-if {progif:02x}" + (f" [{pname}]" if pname else "") + ")"
    lines = [line]
    if verbose or kernel:
        sv, sd = f.subsystem_ids()
        if sv and sv != 0xFFFF:
            lines.append(f"\tSubsystem: {names.subsystem(f.vid, f.did, sv, sd)}")
    return lines


def _devsel(status: int) -> str:
    return DEVSEL[(status >> 9) & 3]


def _control_status(c: ConfigBytes) -> list[str]:
    cmd, st = c.w(Cfg.COMMAND), c.w(Cfg.STATUS)
    bits = ("I/O", "Mem", "BusMaster", "SpecCycle", "MemWINV", "VGASnoop", "ParErr", "Stepping")
    control = " ".join(f"{name}{flag(cmd, 1 << i)}" for i, name in enumerate(bits))
    control += f" SERR{flag(cmd, 1 << 8)} FastB2B{flag(cmd, 1 << 9)} DisINTx{flag(cmd, 1 << 10)}"
    status = (
        f"Cap{flag(st, 1 << 4)} 66MHz{flag(st, 1 << 5)} UDF{flag(st, 1 << 6)}"
        f" FastB2B{flag(st, 1 << 7)} ParErr{flag(st, 1 << 8)} DEVSEL={_devsel(st)}"
        f" >TAbort{flag(st, 1 << 11)} <TAbort{flag(st, 1 << 12)} <MAbort{flag(st, 1 << 13)}"
        f" >SERR{flag(st, 1 << 14)} <PERR{flag(st, 1 << 15)} INTx{flag(st, 1 << 3)}"
    )
    return [f"\tControl: {control}", f"\tStatus: {status}"]


def _flags_line(c: ConfigBytes, irq: int) -> str:
    cmd, st = c.w(Cfg.COMMAND), c.w(Cfg.STATUS)
    parts = [
        text
        for on, text in (
            (cmd & 4, "bus master, "),
            (cmd & 0x20, "VGA palette snoop, "),
            (cmd & 0x80, "stepping, "),
            (cmd & 0x200, "fast Back2Back, "),
            (st & 0x20, "66MHz, "),
            (st & 0x40, "user-definable features, "),
        )
        if on
    ]
    line = "\tFlags: " + "".join(parts) + f"{_devsel(st)} devsel"
    if cmd & 4:
        line += f", latency {c.b(Cfg.LATENCY_TIMER)}"
    if irq:
        line += f", IRQ {irq}"
    return line


def bar_addresses(c: ConfigBytes, count: int) -> list[int]:
    """Each BAR's address as pciutils' fill reads it: a 64-bit BAR takes the next
    register as its upper half (that register's own address is then 0), and a 64-bit
    BAR in the last register has none."""
    addrs = [0] * count
    i = 0
    while i < count:
        flg = c.l(Cfg.BAR0 + 4 * i)
        flg = 0 if flg == 0xFFFFFFFF else flg
        if flg & BAR_IO:
            addrs[i] = flg & ~3
        elif flg & 6 == BAR_MEM_TYPE_64:
            if i < count - 1:
                addrs[i] = flg & ~0xF | c.l(Cfg.BAR0 + 4 * i + 4) << 32
            i += 1
        else:
            addrs[i] = flg & ~0xF
        i += 1
    return addrs


def _bases(f: Function, count: int, verbose: int) -> list[str]:
    c = f.config
    cmd = c.w(Cfg.COMMAND)
    lines = []
    for i, addr in enumerate(bar_addresses(c, count)):
        flg = c.l(Cfg.BAR0 + 4 * i)
        flg = 0 if flg == 0xFFFFFFFF else flg
        size = f.sizes.get(i, 0)
        if not flg and not size:
            continue
        text = f"\tRegion {i}: " if verbose > 1 else "\t"
        if flg & BAR_IO:
            text += "I/O ports at "
            text += f"{addr:04x}" if addr or cmd & 1 else "<unassigned>"
            text += "" if cmd & 1 else " [disabled]"
        else:
            pref = "" if flg & BAR_MEM_PREFETCH else "non-"
            text += f"Memory at {addr:08x}" if addr else "Memory at <unassigned>"
            text += f" ({MEM_TYPES[flg & 6]}, {pref}prefetchable)"
            text += "" if cmd & 2 else " [disabled]"
        lines.append(text + size_text(size))
    return lines


def _rom(c: ConfigBytes, reg: int) -> list[str]:
    flg = c.l(reg)
    if not flg:
        return []
    text = "\tExpansion ROM at "
    text += f"{flg & ROM_MASK:x}" if flg & ROM_MASK else "<unassigned>"
    if not flg & ROM_ENABLE:
        text += " [disabled]"
    elif not c.w(Cfg.COMMAND) & 2:
        text += " [disabled by cmd]"
    return [text]


def _sec_status(c: ConfigBytes) -> str:
    s = c.w(Type1.SECONDARY_STATUS)
    return (
        f"\tSecondary status: 66MHz{flag(s, 1 << 5)} FastB2B{flag(s, 1 << 7)}"
        f" ParErr{flag(s, 1 << 8)} DEVSEL={_devsel(s)} >TAbort{flag(s, 1 << 11)}"
        f" <TAbort{flag(s, 1 << 12)} <MAbort{flag(s, 1 << 13)} <SERR{flag(s, 1 << 14)}"
        f" <PERR{flag(s, 1 << 15)}"
    )


def _window(
    name: str, span: tuple[int, int], granule: int, shape: tuple[int, int], verb: bool
) -> str:
    """pciutils 3.9: ``base-limit [size=..] [N-bit]``, or ``[disabled] [N-bit]`` (with -vvv
    the registers' base-limit before it)."""
    (base, limit), (width, bits) = span, shape
    end = limit + granule - 1
    if base > limit:
        shown = f"{base:0{width}x}-{end:0{width}x} " if verb else ""
        return f"\t{name} behind bridge: {shown}[disabled] [{bits}-bit]"
    size = size_text(end + 1 - base)
    return f"\t{name} behind bridge: {base:0{width}x}-{end:0{width}x}{size} [{bits}-bit]"


@dataclass(frozen=True)
class _BridgeWindow:
    """One of a type-1 header's forwarding windows (PCI-to-PCI Bridge Architecture 1.2
    §3.2.5.6-3.2.5.9): a base and a limit register whose low 4 bits give the addressing
    type (0: narrow; 1: wide, the upper address bits in two more registers) and whose
    other bits are address bits 15:12 (I/O, 8-bit registers) or 31:20 (memory, 16-bit)."""

    name: str  # lspci's "<name> behind bridge"
    kind: str  # lspci's "Unknown <kind> range types"
    base: int
    limit: int
    reg_bytes: int  # 1 for I/O, 2 for memory
    upper: tuple[int, int] | None  # base and limit upper halves of a wide window
    granule: int
    shapes: tuple[tuple[int, int], ...]  # (hex digits, bits) per addressing type

    def line(self, c: ConfigBytes, verb: bool) -> str:
        """pciutils 3.9 ``show_htype1``'s line for this window."""
        reg_base = _reg(c, self.base, self.reg_bytes)
        reg_limit = _reg(c, self.limit, self.reg_bytes)
        rtype = reg_base & 0xF
        if rtype != reg_limit & 0xF or rtype >= len(self.shapes):
            return f"\t!!! Unknown {self.kind} range types {reg_base:x}/{reg_limit:x}"
        reg_bits = 8 * self.reg_bytes
        base, limit = (reg_base & ~0xF) << reg_bits, (reg_limit & ~0xF) << reg_bits
        width, bits = self.shapes[rtype]
        if rtype == 1 and self.upper is not None:
            low_bits = 2 * reg_bits  # the address bits the base and limit registers give
            upper_bytes = (bits - low_bits) // 8
            base |= _reg(c, self.upper[0], upper_bytes) << low_bits
            limit |= _reg(c, self.upper[1], upper_bytes) << low_bits
        return _window(self.name, (base, limit), self.granule, (width, bits), verb)


def _reg(c: ConfigBytes, off: int, nbytes: int) -> int:
    return {1: c.b, 2: c.w, 4: c.l}[nbytes](off)


IO_GRANULE, MEM_GRANULE = 0x1000, 0x100000  # 4 KiB and 1 MiB (bridge spec 3.2.5)
BRIDGE_WINDOWS = (
    _BridgeWindow(
        "I/O", "I/O", Type1.IO_BASE, Type1.IO_LIMIT, 1,
        (Type1.IO_BASE_UPPER16, Type1.IO_LIMIT_UPPER16), IO_GRANULE, ((4, 16), (8, 32)),
    ),
    _BridgeWindow(
        "Memory", "memory", Type1.MEMORY_BASE, Type1.MEMORY_LIMIT, 2, None, MEM_GRANULE, ((8, 32),)
    ),
    _BridgeWindow(
        "Prefetchable memory", "prefetchable memory",
        Type1.PREF_MEMORY_BASE, Type1.PREF_MEMORY_LIMIT, 2,
        (Type1.PREF_BASE_UPPER32, Type1.PREF_LIMIT_UPPER32), MEM_GRANULE, ((8, 32), (16, 64)),
    ),
)  # fmt: skip


def _windows(c: ConfigBytes, verb: bool) -> list[str]:
    return [w.line(c, verb) for w in BRIDGE_WINDOWS]


def _htype1(f: Function, verbose: int) -> list[str]:
    c = f.config
    lines = _bases(f, 2, verbose)
    lines.append(
        f"\tBus: primary={c.b(Type1.PRIMARY_BUS):02x}, secondary={c.b(Type1.SECONDARY_BUS):02x},"
        f" subordinate={c.b(Type1.SUBORDINATE_BUS):02x}, sec-latency={c.b(Type1.SECONDARY_LATENCY)}"
    )
    lines += _windows(c, verbose > 2)
    if verbose > 1:
        lines.append(_sec_status(c))
    lines += _rom(c, 0x38)
    if verbose > 1:
        b = c.w(Type1.BRIDGE_CONTROL)
        lines.append(
            f"\tBridgeCtl: Parity{flag(b, 1)} SERR{flag(b, 2)} NoISA{flag(b, 4)} VGA{flag(b, 8)}"
            f" VGA16{flag(b, 16)} MAbort{flag(b, 32)} >Reset{flag(b, 64)} FastB2B{flag(b, 128)}"
        )
        lines.append(
            f"\t\tPriDiscTmr{flag(b, 1 << 8)} SecDiscTmr{flag(b, 1 << 9)}"
            f" DiscTmrStat{flag(b, 1 << 10)} DiscTmrSERREn{flag(b, 1 << 11)}"
        )
    return lines


def has_mem_bar(f: Function) -> bool:
    """pciutils' test for AtomicOpsCap: a memory BAR whose register (flags included) or
    upper half is not zero; the upper-half register of a 64-bit BAR is not a BAR."""
    c = f.config
    count = 6 if f.htype == HeaderType.NORMAL else 2
    i = 0
    while i < count:
        flg = c.l(Cfg.BAR0 + 4 * i)
        flg = 0 if flg == 0xFFFFFFFF else flg
        upper = 0
        if not flg & BAR_IO and flg & 6 == BAR_MEM_TYPE_64:
            if i == count - 1:
                return False  # no upper half: pciutils reads no address at all
            upper = c.l(Cfg.BAR0 + 4 * i + 4)
            i += 1
        if (flg or upper) and not flg & BAR_IO:
            return True
        i += 1
    return False


def verbose_lines(f: Function, names: Names, verbose: int) -> list[str]:
    c = f.config
    lines = terse(f, names, verbose)
    htype, irq = f.htype, f.irq_number
    if htype == HeaderType.NORMAL:
        if f.cls == CLASS_PCI_BRIDGE:
            lines.append(f"\t!!! Invalid class {f.cls:04x} for header type {htype:02x}")
        max_lat, min_gnt = c.b(Cfg.MAX_LAT), c.b(Cfg.MIN_GNT)
    elif htype in (HeaderType.BRIDGE, HeaderType.CARDBUS):
        if f.cls >> 8 != CLASS_BRIDGE:
            lines.append(f"\t!!! Invalid class {f.cls:04x} for header type {htype:02x}")
        max_lat = min_gnt = 0
    else:
        return [*lines, f"\t!!! Unknown header type {htype:02x}"]
    if verbose > 1:
        lines += _control_status(c)
        cmd = c.w(Cfg.COMMAND)
        if cmd & 4:
            lat = f"\tLatency: {c.b(Cfg.LATENCY_TIMER)}"
            if min_gnt or max_lat:
                parts = [f"{min_gnt * 250}ns min"] if min_gnt else []
                parts += [f"{max_lat * 250}ns max"] if max_lat else []
                lat += " (" + ", ".join(parts) + ")"
            if cache := c.b(Cfg.CACHE_LINE_SIZE):
                lat += f", Cache Line Size: {cache * 4} bytes"
            lines.append(lat)
        pin = c.b(Cfg.INTERRUPT_PIN)
        if pin or irq:
            letter = chr(ord("A") + pin - 1) if pin else "?"
            lines.append(f"\tInterrupt: pin {letter} routed to IRQ {irq}")
    else:
        lines.append(_flags_line(c, irq))
    bist = c.b(Cfg.BIST)
    if bist & 0x80:
        lines.append("\tBIST is running" if bist & 0x40 else f"\tBIST result: {bist & 0xF:02x}")
    if htype == HeaderType.NORMAL:
        lines += _bases(f, 6, verbose) + _rom(c, Cfg.EXPANSION_ROM)
    elif htype == HeaderType.BRIDGE:
        lines += _htype1(f, verbose)
    else:
        lines += _bases(f, 1, verbose)
        return lines  # CardBus windows: not decoded (no such function on either machine)
    return lines + show_caps(c, verbose, has_mem_bar(f), names)


def kernel_lines(f: Function) -> list[str]:
    return [f"\tKernel driver in use: {f.driver}"] if f.driver else []


def hex_dump(f: Function, level: int) -> list[str]:
    count = min(HEX_ROWS[min(level, 4)], len(f.config.data))
    data = f.config.data
    width = 2 if count <= 256 else 3
    return [
        f"{row:0{width}x}: " + " ".join(f"{b:02x}" for b in data[row : row + 16])
        for row in range(0, count, 16)
    ]


def _quoted(text: str) -> str:
    return ' "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def machine(f: Function, names: Names, verbose: int, kernel: bool = False) -> list[str]:
    """``-m``/``-mm`` (verbose: ``-vmm``): the forms scripts parse."""
    c = f.config
    sv, sd = f.subsystem_ids()
    rev, progif = c.b(Cfg.REVISION_ID), c.b(Cfg.PROG_IF)
    has_sub = sv and sv != 0xFFFF
    if verbose:
        lines = [f"Slot:\t{f.slot}", f"Class:\t{names.class_name(f.cls)}"]
        lines += [f"Vendor:\t{names.vendor(f.vid)}", f"Device:\t{names.device(f.vid, f.did)}"]
        if has_sub:
            lines.append(f"SVendor:\t{names.subsystem_vendor(sv)}")
            lines.append(f"SDevice:\t{names.subsystem_device(f.vid, f.did, sv, sd)}")
        lines += [f"Rev:\t{rev:02x}"] if rev else []
        lines.append(f"ProgIf:\t{progif:02x}")  # the prog-if is always known (class_ext)
        if kernel and f.driver:
            lines.append(f"Driver:\t{f.driver}")
        return lines
    line = f.slot + _quoted(names.class_name(f.cls)) + _quoted(names.vendor(f.vid))
    line += _quoted(names.device(f.vid, f.did))
    line += f" -r{rev:02x}" if rev else ""
    line += f" -p{progif:02x}"
    if has_sub:
        line += _quoted(names.subsystem_vendor(sv))
        line += _quoted(names.subsystem_device(f.vid, f.did, sv, sd))
    else:
        line += ' "" ""'
    return [line]


class _Tree:
    """ls-tree's line buffer: a printed line leaves ``|`` where it had ``+`` or ``|``."""

    def __init__(self, by_bus: dict[int, list[Function]], names: Names | None) -> None:
        self.by_bus = by_bus
        self.names = names
        self.buf: list[str] = []
        self.out: list[str] = []
        self.seen: set[int] = set()

    def put(self, p: int, text: str) -> int:
        del self.buf[p:]
        self.buf += text
        return p + len(text)

    def emit(self, p: int) -> None:
        del self.buf[p:]
        self.out.append("".join(self.buf))
        self.buf = ["|" if ch in "+|" else " " for ch in self.buf]

    def bus(self, bus: int, p: int) -> None:
        self.seen.add(bus)
        devices = self.by_bus.get(bus, [])
        if not devices:
            self.emit(p)
        elif len(devices) == 1:
            self.dev(devices[0], self.put(p, "--"))
        else:
            for f in devices[:-1]:
                self.dev(f, self.put(p, "+-"))
            self.dev(devices[-1], self.put(p, "\\-"))

    def dev(self, f: Function, p: int) -> None:
        p = self.put(p, f"{f.dev:02x}.{f.fn:x}")
        bridge = f.cls in (CLASS_PCI_BRIDGE, CLASS_CARDBUS_BRIDGE)
        if bridge and f.htype in (HeaderType.BRIDGE, HeaderType.CARDBUS):
            sec, sub = f.config.b(Type1.SECONDARY_BUS), f.config.b(Type1.SUBORDINATE_BUS)
            if sec not in self.seen:
                span = f"{sec:02x}" if sec == sub else f"{sec:02x}-{sub:02x}"
                self.bus(sec, self.put(p, f"-[{span}]--"))
                return
        if self.names is not None:
            p = self.put(p, "  " + self.names.vendor_device(f.vid, f.did))
        self.emit(p)


def tree(functions: list[Function], names: Names | None = None) -> list[str]:
    """``-t``: the bus tree from the first bus, bridges by their secondary/subordinate numbers;
    with `names` (``-tv``) each function's vendor and device."""
    by_bus: dict[int, list[Function]] = {}
    for f in sorted(functions, key=lambda f: (f.bus, f.dev, f.fn)):
        by_bus.setdefault(f.bus, []).append(f)
    t = _Tree(by_bus, names)
    first = min(by_bus) if by_bus else 0
    t.bus(first, t.put(0, f"-[0000:{first:02x}]-"))
    return t.out

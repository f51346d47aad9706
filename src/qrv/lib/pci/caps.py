"""Capability blocks of ``lspci -v``/``-vv``, decoded as pciutils 3.9 prints them.

Decoded: Power Management, MSI, MSI-X, PCI Express (device, link, slot,
root and the v2 registers), Vendor Specific; any other ID is named by
number (``Capability ID 0x..``) with nothing below it.  The list walk stops at a loop
or a broken chain, as pciutils does.
"""

from __future__ import annotations

from qrv.lib.pci.config import ConfigBytes, flag
from qrv.lib.pci.ids import Names
from qrv.spec.pci import CapId, Cfg, Status

PM_AUX_CURRENT = (0, 55, 100, 160, 220, 270, 320, 375)
L0S = ("<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited")
L1 = ("<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited")
ASPM_ENABLED = ("Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled")
ASPM_SUPPORT = ("not supported", "L0s", "L1", "L0s L1")
CT_RANGES = {0: "Not Supported", 1: "Range A", 2: "Range B", 3: "Range AB", 6: "Range BC"}
CT_RANGES |= {7: "Range ABC", 14: "Range BCD", 15: "Range ABCD"}
CT_VALUES = {0: "50us to 50ms", 1: "50us to 100us", 2: "1ms to 10ms", 5: "16ms to 55ms"}
CT_VALUES |= {6: "65ms to 210ms", 9: "260ms to 900ms", 10: "1s to 3.5s", 13: "4s to 13s"}
CT_VALUES |= {14: "17s to 64s"}
OBFF_CAP = ("Not Supported", "Via message", "Via WAKE#", "Via message/WAKE#")
OBFF_CTL = ("Disabled", "Via message A", "Via message B", "Via WAKE#")
EPR = ("Not Supported", "Dev Specific", "Form Factor Dev Specific", "Reserved")
LINK_SPEEDS = {1: "2.5GT/s", 2: "5GT/s", 3: "8GT/s", 4: "16GT/s", 5: "32GT/s", 6: "64GT/s"}

# PCI Express capability register offsets and port types (PCIe 4.0 7.5.3)
EXP_DEVCAP, EXP_DEVCTL, EXP_DEVSTA = 0x04, 0x08, 0x0A
EXP_LNKCAP, EXP_LNKCTL, EXP_LNKSTA = 0x0C, 0x10, 0x12
EXP_DEVCAP2, EXP_DEVCTL2, EXP_LNKSTA2 = 0x24, 0x28, 0x32
CROSSLINK = ("unsupported", "Upstream Port", "Downstream Port", "incomplete")
T_ENDPOINT, T_LEGACY, T_RCIEP, T_RCEC = 0x0, 0x1, 0x9, 0xA
T_ROOT, T_UP, T_DOWN, T_PCIE_PCI, T_PCI_PCIE = 0x4, 0x5, 0x6, 0x7, 0x8
EXP_TYPES = {
    T_ENDPOINT: "Endpoint",
    T_LEGACY: "Legacy Endpoint",
    T_UP: "Upstream Port",
    T_PCIE_PCI: "PCI-Express to PCI/PCI-X Bridge",
    T_RCIEP: "Root Complex Integrated Endpoint",
    T_RCEC: "Root Complex Event Collector",
}
SLOT_TYPES = {
    T_ROOT: "Root Port",
    T_DOWN: "Downstream Port",
    T_PCI_PCIE: "PCI/PCI-X to PCI-Express Bridge",
}


# Capabilities pciutils names without decoding them
SIMPLE = {
    0x00: "Null",
    CapId.HOT_SWAP: "CompactPCI hot-swap <?>",
    0x0B: "CompactPCI central resource control <?>",
    CapId.HOTPLUG: "Hot-plug capable",
    CapId.AGP8X: "AGP3 <?>",
    CapId.SECURE: "Secure device <?>",
}


def _bits(value: int, shift: int, width: int) -> int:
    return (value >> shift) & ((1 << width) - 1)


def cap_pm(c: ConfigBytes, where: int, cap: int, verbose: int) -> list[str]:
    lines = [f"Power Management version {cap & 7}"]
    if verbose < 2:
        return lines
    pme = ",".join(
        f"{n}{flag(cap, 1 << b)}"
        for n, b in (("D0", 11), ("D1", 12), ("D2", 13), ("D3hot", 14), ("D3cold", 15))
    )
    lines.append(
        f"\t\tFlags: PMEClk{flag(cap, 1 << 3)} DSI{flag(cap, 1 << 5)} D1{flag(cap, 1 << 9)}"
        f" D2{flag(cap, 1 << 10)} AuxCurrent={PM_AUX_CURRENT[_bits(cap, 6, 3)]}mA PME({pme})"
    )
    t = c.w(where + 4)
    lines.append(
        f"\t\tStatus: D{t & 3} NoSoftRst{flag(t, 1 << 3)} PME-Enable{flag(t, 1 << 8)}"
        f" DSel={_bits(t, 9, 4)} DScale={_bits(t, 13, 2)} PME{flag(t, 1 << 15)}"
    )
    if b := c.b(where + 6):
        lines.append(f"\t\tBridge: PM{flag(b, 1 << 7)} B3{flag(~b, 1 << 6)}")
    return lines


def cap_msi(c: ConfigBytes, where: int, cap: int, verbose: int) -> list[str]:
    is64, maskable = cap & (1 << 7), cap & (1 << 8)
    lines = [
        f"MSI: Enable{flag(cap, 1)} Count={1 << _bits(cap, 4, 3)}/{1 << _bits(cap, 1, 3)}"
        f" Maskable{flag(cap, maskable)} 64bit{flag(cap, is64)}"
    ]
    if verbose < 2:
        return lines
    lo = c.l(where + 4)
    if is64:
        lines.append(f"\t\tAddress: {c.l(where + 8):08x}{lo:08x}  Data: {c.w(where + 12):04x}")
    else:
        lines.append(f"\t\tAddress: {lo:08x}  Data: {c.w(where + 8):04x}")
    if maskable:
        mask_at = where + (16 if is64 else 12)
        lines.append(f"\t\tMasking: {c.l(mask_at):08x}  Pending: {c.l(mask_at + 4):08x}")
    return lines


def cap_msix(c: ConfigBytes, where: int, cap: int, verbose: int) -> list[str]:
    lines = [
        f"MSI-X: Enable{flag(cap, 1 << 15)} Count={(cap & 0x7FF) + 1} Masked{flag(cap, 1 << 14)}"
    ]
    if verbose >= 2:
        table, pba = c.l(where + 4), c.l(where + 8)
        lines.append(f"\t\tVector table: BAR={table & 7} offset={table & ~7 & 0xFFFFFFFF:08x}")
        lines.append(f"\t\tPBA: BAR={pba & 7} offset={pba & ~7 & 0xFFFFFFFF:08x}")
    return lines


def _power(value: int, scale: int) -> str:
    return f"{value * (1.0, 0.1, 0.01, 0.001)[scale]:g}W"


def _exp_dev(c: ConfigBytes, where: int, kind: int) -> list[str]:
    t = c.l(where + EXP_DEVCAP)
    ep = kind in (T_ENDPOINT, T_LEGACY)
    head = f"\t\tDevCap:\tMaxPayload {128 << (t & 7)} bytes, PhantFunc {(1 << _bits(t, 3, 2)) - 1}"
    if ep:
        head += f", Latency L0s {L0S[_bits(t, 6, 3)]}, L1 {L1[_bits(t, 9, 3)]}"
    line2 = f"\t\t\tExtTag{flag(t, 1 << 5)}"
    if kind in (T_ENDPOINT, T_LEGACY, T_UP, T_PCIE_PCI):
        line2 += f" AttnBtn{flag(t, 1 << 12)} AttnInd{flag(t, 1 << 13)} PwrInd{flag(t, 1 << 14)}"
    line2 += f" RBE{flag(t, 1 << 15)}"
    if ep or kind == T_RCIEP:
        line2 += f" FLReset{flag(t, 1 << 28)}"
    if kind in (T_ENDPOINT, T_UP, T_PCIE_PCI):
        line2 += f" SlotPowerLimit {_power(_bits(t, 18, 8), _bits(t, 26, 2))}"
    w = c.w(where + EXP_DEVCTL)
    ctl2 = (
        f"\t\t\tRlxdOrd{flag(w, 1 << 4)} ExtTag{flag(w, 1 << 8)} PhantFunc{flag(w, 1 << 9)}"
        f" AuxPwr{flag(w, 1 << 10)} NoSnoop{flag(w, 1 << 11)}"
    )
    if kind == T_PCIE_PCI:
        ctl2 += f" BrConfRtry{flag(w, 1 << 15)}"
    if (ep or kind == T_RCIEP) and t & (1 << 28):
        ctl2 += f" FLReset{flag(w, 1 << 15)}"
    s = c.w(where + EXP_DEVSTA)
    return [
        head,
        line2,
        f"\t\tDevCtl:\tCorrErr{flag(w, 1)} NonFatalErr{flag(w, 2)} FatalErr{flag(w, 4)}"
        f" UnsupReq{flag(w, 8)}",
        ctl2,
        f"\t\t\tMaxPayload {128 << _bits(w, 5, 3)} bytes,"
        f" MaxReadReq {128 << _bits(w, 12, 3)} bytes",
        f"\t\tDevSta:\tCorrErr{flag(s, 1)} NonFatalErr{flag(s, 2)} FatalErr{flag(s, 4)}"
        f" UnsupReq{flag(s, 8)} AuxPwr{flag(s, 16)} TransPend{flag(s, 32)}",
    ]


def _speed(code: int) -> str:
    return LINK_SPEEDS.get(code, "unknown")


def _compare(sta: int, cap: int) -> str:
    return " (downgraded)" if sta < cap else " (overdriven)" if sta > cap else ""


def _exp_link(c: ConfigBytes, where: int, kind: int) -> list[str]:
    t = c.l(where + EXP_LNKCAP)
    aspm, speed, width = _bits(t, 10, 2), t & 0xF, _bits(t, 4, 6)
    head = f"\t\tLnkCap:\tPort #{t >> 24}, Speed {_speed(speed)}, Width x{width},"
    head += f" ASPM {ASPM_SUPPORT[aspm]}"
    if aspm:
        parts = []
        if aspm & 1:
            parts.append(f"L0s {L0S[_bits(t, 12, 3)]}")
        if aspm & 2:
            parts.append(f"L1 {L1[_bits(t, 15, 3)]}")
        head += ", Exit Latency " + ", ".join(parts)
    w = c.w(where + EXP_LNKCTL)
    ctl = f"\t\tLnkCtl:\tASPM {ASPM_ENABLED[w & 3]};"
    if kind in (T_ROOT, T_ENDPOINT, T_LEGACY, T_PCIE_PCI):
        ctl += f" RCB {128 if w & 8 else 64} bytes,"
    s = c.w(where + EXP_LNKSTA)
    sspeed, swidth = s & 0xF, _bits(s, 4, 6)
    sta = f"\t\tLnkSta:\tSpeed {_speed(sspeed)}{_compare(sspeed, speed)},"
    sta += f" Width x{swidth}{_compare(swidth, width)}"
    return [
        head,
        f"\t\t\tClockPM{flag(t, 1 << 18)} Surprise{flag(t, 1 << 19)} LLActRep{flag(t, 1 << 20)}"
        f" BwNot{flag(t, 1 << 21)} ASPMOptComp{flag(t, 1 << 22)}",
        f"{ctl} Disabled{flag(w, 1 << 4)} CommClk{flag(w, 1 << 6)}",
        f"\t\t\tExtSynch{flag(w, 1 << 7)} ClockPM{flag(w, 1 << 8)} AutWidDis{flag(w, 1 << 9)}"
        f" BWInt{flag(w, 1 << 10)} AutBWInt{flag(w, 1 << 11)}",
        sta,
        f"\t\t\tTrErr{flag(s, 1 << 10)} Train{flag(s, 1 << 11)} SlotClk{flag(s, 1 << 12)}"
        f" DLActive{flag(s, 1 << 13)} BWMgmt{flag(s, 1 << 14)} ABWMgmt{flag(s, 1 << 15)}",
    ]


def _exp_dev2(c: ConfigBytes, where: int, kind: int, has_mem_bar: bool) -> list[str]:
    t = c.l(where + EXP_DEVCAP2)
    port = kind in (T_ROOT, T_UP, T_DOWN)
    head = (
        f"\t\tDevCap2: Completion Timeout: {CT_RANGES.get(t & 0xF, 'Unknown')},"
        f" TimeoutDis{flag(t, 1 << 4)} NROPrPrP{flag(t, 1 << 10)} LTR{flag(t, 1 << 11)}"
    )
    if kind in (T_ROOT, T_DOWN):
        head += f" ARIFwd{flag(t, 1 << 5)}"
    lines = [head]
    eetlp = f"ExtFmt{flag(t, 1 << 20)} EETLPPrefix{flag(t, 1 << 21)}"
    if t & (1 << 21):
        eetlp += f", MaxEETLPPrefixes {_bits(t, 22, 2) or 4}"
    lines.append(
        f"\t\t\t 10BitTagComp{flag(t, 1 << 16)} 10BitTagReq{flag(t, 1 << 17)}"
        f" OBFF {OBFF_CAP[_bits(t, 18, 2)]}, {eetlp}"
    )
    lines.append(
        f"\t\t\t EmergencyPowerReduction {EPR[_bits(t, 24, 2)]},"
        f" EmergencyPowerReductionInit{flag(t, 1 << 26)}"
    )
    frs = f"\t\t\t FRS{flag(t, 1 << 31)}"
    if kind == T_ENDPOINT:
        frs += f" TPHComp{flag(t, 1 << 12)} ExtTPHComp{flag(t, 1 << 13)}"
    lines.append(frs)
    if port or has_mem_bar:
        ops = "\t\t\t AtomicOpsCap:"
        if port:
            ops += f" Routing{flag(t, 1 << 6)}"
        if kind == T_ROOT or has_mem_bar:
            ops += f" 32bit{flag(t, 1 << 7)} 64bit{flag(t, 1 << 8)} 128bitCAS{flag(t, 1 << 9)}"
        lines.append(ops)
    w = c.w(where + EXP_DEVCTL2)
    ctl = (
        f"\t\tDevCtl2: Completion Timeout: {CT_VALUES.get(w & 0xF, 'Unknown')},"
        f" TimeoutDis{flag(w, 1 << 4)} LTR{flag(w, 1 << 10)}"
        f" 10BitTagReq{flag(w, 1 << 12)} OBFF {OBFF_CTL[_bits(w, 13, 2)]},"
    )
    if kind in (T_ROOT, T_DOWN):
        ctl += f" ARIFwd{flag(w, 1 << 5)}"
    lines.append(ctl)
    if port or kind in (T_ENDPOINT, T_RCIEP, T_LEGACY):
        ops = "\t\t\t AtomicOpsCtl:"
        if kind in (T_ROOT, T_ENDPOINT, T_RCIEP, T_LEGACY):
            ops += f" ReqEn{flag(w, 1 << 6)}"
        if port:
            ops += f" EgressBlck{flag(w, 1 << 7)}"
        lines.append(ops)
    return lines


def cap_express(c: ConfigBytes, where: int, cap: int, verbose: int, has_mem_bar: bool) -> list[str]:
    kind = _bits(cap, 4, 4)
    slot = bool(cap & (1 << 8)) and kind in SLOT_TYPES
    if kind in SLOT_TYPES:
        name = f"{SLOT_TYPES[kind]} (Slot{flag(cap, 1 << 8)})"
    else:
        name = EXP_TYPES.get(kind, f"Unknown type {kind}")
    version = f"(v{cap & 0xF}) " if verbose >= 2 else ""
    lines = [f"Express {version}{name}, MSI {_bits(cap, 9, 5):02x}"]
    if verbose < 2:
        return lines
    link = kind not in (T_RCIEP, T_RCEC)
    lines += _exp_dev(c, where, kind)
    if link:
        lines += _exp_link(c, where, kind)
    if slot or kind in (T_ROOT, T_RCEC):
        return lines  # slot and root registers: not decoded (see docs/lspci.md)
    if cap & 0xF >= 2:
        lines += _exp_dev2(c, where, kind, has_mem_bar)
        if link:
            lines += _exp_link2(c, where)
    return lines


def _exp_link2(c: ConfigBytes, where: int) -> list[str]:
    """LnkSta2 (LnkCap2/LnkCtl2 of a function 0: see docs/lspci.md)."""
    w = c.w(where + EXP_LNKSTA2)
    return [
        f"\t\tLnkSta2: Current De-emphasis Level: {'-3.5dB' if w & 1 else '-6dB'},"
        f" EqualizationComplete{flag(w, 2)} EqualizationPhase1{flag(w, 4)}",
        f"\t\t\t EqualizationPhase2{flag(w, 8)} EqualizationPhase3{flag(w, 16)}"
        f" LinkEqualizationRequest{flag(w, 32)}",
        f"\t\t\t Retimer{flag(w, 1 << 6)} 2Retimers{flag(w, 1 << 7)}"
        f" CrosslinkRes: {CROSSLINK[_bits(w, 8, 2)]}",
    ]


def show_caps(
    c: ConfigBytes, verbose: int, has_mem_bar: bool, names: Names | None = None
) -> list[str]:
    if not c.w(Cfg.STATUS) & Status.CAP_LIST:
        return []
    lines: list[str] = []
    where = c.b(Cfg.CAPABILITIES_PTR) & ~3
    seen: set[int] = set()
    while where:
        cap_id, nxt, cap = c.b(where), c.b(where + 1) & ~3, c.w(where + 2)
        prefix = f"\tCapabilities: [{where:02x}] "
        if where in seen:
            lines.append(prefix + "<chain looped>")
            break
        seen.add(where)
        if cap_id == 0xFF:
            lines.append(prefix + "<chain broken>")
            break
        if cap_id == CapId.POWER_MANAGEMENT:
            body = cap_pm(c, where, cap, verbose)
        elif cap_id == CapId.MSI:
            body = cap_msi(c, where, cap, verbose)
        elif cap_id == CapId.MSIX:
            body = cap_msix(c, where, cap, verbose)
        elif cap_id == CapId.PCI_EXPRESS:
            body = cap_express(c, where, cap, verbose, has_mem_bar)
        elif cap_id in SIMPLE:
            body = [SIMPLE[cap_id]]
        elif cap_id == CapId.SLOT_ID:
            body = [f"Slot ID: {cap & 0x1F} slots, First{flag(cap, 0x20)}, chassis {cap >> 8:02x}"]
        elif cap_id == CapId.BRIDGE_SUBSYSTEM_VID and names is not None:
            vid, did = c.w(Cfg.VENDOR_ID), c.w(Cfg.DEVICE_ID)
            body = [f"Subsystem: {names.subsystem(vid, did, c.w(where + 4), c.w(where + 6))}"]
        elif cap_id == CapId.DEBUG_PORT:
            body = [f"Debug port: BAR={cap >> 13} offset={cap & 0x1FFF:04x}"]
        elif cap_id == CapId.VENDOR:
            body = [f"Vendor Specific Information: Len={c.b(where + 2):02x} <?>"]
        else:
            body = [f"Capability ID {cap_id:#x} [{cap:04x}]"]
        lines.append(prefix + body[0])
        lines += body[1:]
        where = nxt
    return lines

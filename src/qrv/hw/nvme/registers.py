"""The controller register file (NVMe 1.4 §3.1) and the checks CC.EN=1 makes.

The register file stores values and applies the spec's read-only and reserved bits; the
side effects of CC (enable, reset, shutdown) live in the controller, which asks
:func:`enable_problem` whether the admin queue configuration is usable.
"""

from __future__ import annotations

from dataclasses import dataclass

from qrv.spec.nvme import (
    AQA_WRITABLE,
    CC_WRITABLE,
    CQES_LOG2,
    NVME_VERSION_1_4,
    QUEUE_BASE_MASK,
    SQES_LOG2,
    Ams,
    AqaField,
    Cap,
    CapCss,
    Cc,
    CcCss,
    Reg,
)

DWORD = 4
CAP_AMS_WRR = 0b01  # CAP.AMS bit 17: weighted round robin with urgent priority
CAP_AMS_VENDOR = 0b10
DWORD_MASK = 0xFFFF_FFFF

# CC.CSS value -> the CAP.CSS bit that must be set for it (NVMe 2.0 §3.1.3.5)
_CSS_NEEDS = {
    CcCss.NVM: CapCss.NVM,
    CcCss.ALL_IO: CapCss.IO_COMMAND_SETS,
    CcCss.ADMIN_ONLY: CapCss.ADMIN_ONLY,
}


@dataclass
class RegisterFile:
    """Values of BAR0 0h..FFFh.  CSTS is composed by the controller at read time."""

    cap: int
    vs: int = NVME_VERSION_1_4
    intms: int = 0
    cc: int = 0
    aqa: int = 0
    asq: int = 0
    acq: int = 0

    def reset(self) -> None:
        """Controller Level Reset (NVMe 1.4 §7.3.2): INTMS/INTMC clear; AQA/ASQ/ACQ kept."""
        self.intms = 0

    def load_dword(self, offset: int) -> int | None:
        """The dword at an aligned offset; None for CSTS (the controller supplies it).

        Reserved and unimplemented registers (NSSR, CMB, boot partitions, PMR) read 0.
        """
        match offset:
            case Reg.CAP:
                return self.cap & DWORD_MASK
            case 0x04:
                return self.cap >> 32
            case Reg.VS:
                return self.vs
            case Reg.INTMS | Reg.INTMC:
                return self.intms
            case Reg.CC:
                return self.cc
            case Reg.CSTS:
                return None
            case Reg.AQA:
                return self.aqa
            case Reg.ASQ:
                return self.asq & DWORD_MASK
            case 0x2C:
                return self.asq >> 32
            case Reg.ACQ:
                return self.acq & DWORD_MASK
            case 0x34:
                return self.acq >> 32
        return 0

    def store_dword(self, offset: int, value: int, *, msix_enabled: bool) -> None:
        """Store to a plain register (the controller handles CC itself).  Writes to
        read-only or reserved registers are dropped (NVMe 1.4 §3.1)."""
        match offset:
            case Reg.INTMS:
                if not msix_enabled:  # undefined with MSI-X (NVMe 1.4 §3.1.3)
                    self.intms |= value
            case Reg.INTMC:
                if not msix_enabled:
                    self.intms &= ~value & DWORD_MASK
            case Reg.AQA:
                self.aqa = value & AQA_WRITABLE
            case Reg.ASQ:
                self.asq = ((self.asq & ~DWORD_MASK) | value) & QUEUE_BASE_MASK
            case 0x2C:
                self.asq = (self.asq & DWORD_MASK) | (value << 32)
            case Reg.ACQ:
                self.acq = ((self.acq & ~DWORD_MASK) | value) & QUEUE_BASE_MASK
            case 0x34:
                self.acq = (self.acq & DWORD_MASK) | (value << 32)

    @staticmethod
    def cc_value(value: int) -> int:
        """A CC write with reserved bits cleared."""
        return value & CC_WRITABLE

    @property
    def asqs(self) -> int:
        """Admin SQ entries (AQA.ASQS is 0's based)."""
        return AqaField.ASQS.get(self.aqa) + 1

    @property
    def acqs(self) -> int:
        return AqaField.ACQS.get(self.aqa) + 1


def enable_problem(regs: RegisterFile) -> str | None:
    """Why CC.EN=1 cannot bring the controller up, or None (NVMe 1.4 §3.1.5, §7.6.1).

    The spec leaves an invalid configuration's outcome to the controller; like QEMU's
    device this model then reports Controller Fatal Status instead of becoming ready.
    """
    cap = Cap.decode(regs.cap)
    cc = Cc.decode(regs.cc)
    need = next((bit for css, bit in _CSS_NEEDS.items() if css == cc.css), None)
    if need is None or not cap.css & need:
        return f"CC.CSS {cc.css:#05b} not supported by CAP.CSS {cap.css:#x}"
    if not cap.mpsmin <= cc.mps <= cap.mpsmax:
        return f"CC.MPS {cc.mps} outside CAP.MPSMIN..MPSMAX {cap.mpsmin}..{cap.mpsmax}"
    ams_ok = (
        cc.ams == Ams.ROUND_ROBIN
        or (cc.ams == Ams.WEIGHTED_ROUND_ROBIN and cap.ams & CAP_AMS_WRR)
        or (cc.ams == Ams.VENDOR and cap.ams & CAP_AMS_VENDOR)
    )
    if not ams_ok:
        return f"CC.AMS {cc.ams} not supported by CAP.AMS {cap.ams:#x}"
    if cc.iosqes != SQES_LOG2 or cc.iocqes != CQES_LOG2:
        return f"CC.IOSQES/IOCQES {cc.iosqes}/{cc.iocqes}, expected {SQES_LOG2}/{CQES_LOG2}"
    if regs.asqs < 2 or regs.acqs < 2:
        return f"AQA {regs.aqa:#x}: admin queues need at least 2 entries"
    page = cc.page_size
    if regs.asq % page or regs.acq % page:
        return f"ASQ {regs.asq:#x} / ACQ {regs.acq:#x} not aligned to the {page}-byte page"
    return None

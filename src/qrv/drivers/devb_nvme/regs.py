"""BAR0 as the driver sees it: 32/64-bit register access and bounded waits (NVMe 1.4 §3.1).

The one narrow register interface of the driver (STYLE.md habit 5):
``read32/write32/read64/write64`` and :meth:`ControllerRegs.wait_ready`, whose
bound is CAP.TO, the worst-case time the controller may take to change
CSTS.RDY (NVMe 1.4 §3.1.1).
"""

from __future__ import annotations

from typing import Protocol

from qrv.drivers.devb_nvme.errors import ControllerFatal, ControllerTimeout
from qrv.lib.c.proc import ClockTime, delay
from qrv.spec.nvme import TIMEOUT_UNIT_MS, Cap, Csts, Reg, cq_head_doorbell, sq_tail_doorbell

POLL_SLEEP_S = 0.0005  # between CSTS polls once a wait is not immediately satisfied
CSTS_ABSENT = 0xFFFF_FFFF  # what a read returns when the device no longer answers


class Mmio(Protocol):
    """What the driver needs of a mapped BAR (qrv.lib.c.mman mappings satisfy it)."""

    def read32(self, off: int) -> int: ...

    def write32(self, off: int, value: int) -> None: ...

    def read64(self, off: int) -> int: ...

    def write64(self, off: int, value: int) -> None: ...


class ControllerRegs:
    """The controller's register file in a mapped BAR0."""

    def __init__(self, bar0: Mmio) -> None:
        self.bar0 = bar0
        self.cap = Cap.decode(bar0.read64(Reg.CAP))

    def read32(self, reg: int) -> int:
        return self.bar0.read32(reg)

    def write32(self, reg: int, value: int) -> None:
        self.bar0.write32(reg, value)

    def read64(self, reg: int) -> int:
        return self.bar0.read64(reg)

    def write64(self, reg: int, value: int) -> None:
        """64-bit registers written as two 32-bit stores, low half first (NVMe 1.4 §3.1)."""
        self.bar0.write32(reg, value & 0xFFFF_FFFF)
        self.bar0.write32(reg + 4, value >> 32)

    @property
    def csts(self) -> Csts:
        return Csts(self.read32(Reg.CSTS) & 0x3F)

    @property
    def ready_timeout_s(self) -> float:
        """CAP.TO in seconds; a TO of 0 still gets one unit so a wait is never zero."""
        return max(self.cap.to, 1) * TIMEOUT_UNIT_MS / 1000

    def wait_ready(self, ready: bool, *, allow_fatal: bool = False) -> None:
        """Wait until CSTS.RDY == `ready`, bounded by CAP.TO (NVMe 1.4 §3.1.1, §7.6.1).

        CSTS.CFS while waiting for RDY=1 means the controller failed to start:
        :class:`ControllerFatal`.  While disabling, CFS is expected to be
        possibly set (a reset clears it), so `allow_fatal` ignores it.
        """
        deadline = ClockTime() + self.ready_timeout_s
        while True:
            raw = self.read32(Reg.CSTS)
            if raw == CSTS_ABSENT:
                raise ControllerFatal("CSTS reads all-ones: the controller is gone")
            csts = Csts(raw & 0x3F)
            if ready and csts & Csts.CFS and not allow_fatal:
                raise ControllerFatal("CSTS.CFS set while enabling the controller")
            if bool(csts & Csts.RDY) == ready:
                return
            if ClockTime() >= deadline:
                want = 1 if ready else 0
                raise ControllerTimeout(
                    f"CSTS.RDY did not become {want} within CAP.TO = {self.ready_timeout_s:g} s"
                )
            delay(POLL_SLEEP_S)

    def sq_doorbell(self, qid: int) -> int:
        return sq_tail_doorbell(qid, self.cap.dstrd)

    def cq_doorbell(self, qid: int) -> int:
        return cq_head_doorbell(qid, self.cap.dstrd)

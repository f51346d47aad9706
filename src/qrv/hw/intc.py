"""The built-in board's interrupt input: its PLIC (S-mode context) and its MSI target.

What the kernel does with a hart's external interrupt, as QNX's interrupt callouts do
on a PLIC: a claim reads the S context's claim register (PLIC sources 1..95), then
takes the MSI target's lowest pending identity (interrupt ``0x100 + n``); a completion
writes the source back to the claim register (enabling it around the write if the
kernel masked it meanwhile, as Linux's ``plic_irq_eoi``: the PLIC ignores completions
of disabled sources); enabling a source gives it priority 1
and sets its enable bit in the S context (the threshold stays 0).
"""

from __future__ import annotations

from qrv.hw.irq import Notify
from qrv.hw.msi import MsiTarget
from qrv.hw.plic import (
    CONTEXT_BASE,
    CONTEXT_CLAIM,
    CONTEXT_S,
    CONTEXT_STRIDE,
    ENABLE_BASE,
    ENABLE_STRIDE,
    PRIORITY_BASE,
    Plic,
)
from qrv.spec.interrupt import MSI_INTR_BASE, PLIC_SOURCES, msi_intr, valid_intr

_CLAIM = CONTEXT_BASE + CONTEXT_S * CONTEXT_STRIDE + CONTEXT_CLAIM
_REG = 4


class BoardInterrupts:
    """:class:`qrv.hw.irq.InterruptInput` over a :class:`Plic` and a :class:`MsiTarget`."""

    def __init__(self, plic: Plic, msi: MsiTarget) -> None:
        self.plic = plic
        self.msi = msi
        self._notify: Notify | None = None
        plic.on_output = self._plic_output
        msi.on_pending = self._kick

    def _plic_output(self, ctx: int, high: bool) -> None:
        if ctx == CONTEXT_S and high:
            self._kick()

    def _kick(self) -> None:
        if self._notify is not None:
            self._notify()

    def connect(self, notify: Notify) -> None:
        self._notify = notify
        if self.plic.output(CONTEXT_S) or self.msi.pending & self.msi.enabled:
            notify()

    def valid(self, intr: int) -> bool:
        return valid_intr(intr)

    def claim(self) -> int:
        src = self.plic.claim(CONTEXT_S)  # what a load from the context's claim register does
        if src:
            return src
        eiid = self.msi.claim()
        return msi_intr(eiid) if eiid else 0

    def complete(self, intr: int) -> None:
        if not 0 < intr < PLIC_SOURCES:
            return
        word = ENABLE_BASE + CONTEXT_S * ENABLE_STRIDE + _REG * (intr // 32)
        bits = self.plic.mmio_read(word, _REG)
        bit = 1 << (intr % 32)
        if bits & bit:
            self.plic.mmio_write(_CLAIM, _REG, intr)
            return
        # The PLIC ignores a completion for a source not enabled in the context, and the
        # kernel masked it while serving it: enable it for the completion (Linux's
        # plic_irq_eoi does the same), then mask it again.
        self.plic.mmio_write(word, _REG, bits | bit)
        self.plic.mmio_write(_CLAIM, _REG, intr)
        self.plic.mmio_write(word, _REG, bits)

    def enable(self, intr: int, on: bool) -> None:
        if intr > MSI_INTR_BASE:
            self.msi.set_enabled(intr - MSI_INTR_BASE, on)
            return
        if not 0 < intr < PLIC_SOURCES:
            return
        if on and not self.plic.priority[intr]:
            self.plic.mmio_write(PRIORITY_BASE + _REG * intr, _REG, 1)
        word = ENABLE_BASE + CONTEXT_S * ENABLE_STRIDE + _REG * (intr // 32)
        bits = self.plic.mmio_read(word, _REG)
        bit = 1 << (intr % 32)
        self.plic.mmio_write(word, _REG, bits | bit if on else bits & ~bit)

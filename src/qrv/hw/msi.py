"""The board's MSI target: an IMSIC-style interrupt file for hart 0's S mode.

QEMU ``virt,aia=aplic-imsic`` puts the S-level IMSIC of hart 0 at 0x2800_0000
(``VIRT_IMSIC_S``); a PCI function's MSI/MSI-X message is a 32-bit write of an
external interrupt identity to ``seteipnum_le`` (offset 0; ``seteipnum_be`` at 4).
Identities 1..255 (the smallest interrupt file); each has a pending and an enable
bit (the hart's ``eip``/``eie`` arrays, which software reaches through CSRs:
here :meth:`MsiTarget.claim`/:meth:`MsiTarget.set_enabled`, the kernel's side).  A
write of identity 0 or one out of range is ignored (AIA spec 3.9); other registers
read 0.  A claim takes the lowest-numbered pending, enabled identity (``stopei``).
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.spec.interrupt import MSI_IDS

IMSIC_S_BASE = 0x2800_0000
IMSIC_PAGE = 0x1000
SETEIPNUM_LE = 0x0
SETEIPNUM_BE = 0x4
REG = 4


class MsiTarget:
    """Pending/enable bits per identity; :attr:`on_pending` hears each new deliverable one."""

    def __init__(self) -> None:
        self.pending = 0
        self.enabled = 0
        self.on_pending: Callable[[], None] | None = None
        self.received = 0
        """Messages written to the target (identity valid or not)."""

    def mmio_read(self, offset: int, width: int) -> int:
        del offset, width
        return 0

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        if width != REG:
            return
        if offset == SETEIPNUM_BE:
            value = int.from_bytes(value.to_bytes(REG, "little"), "big")
        elif offset != SETEIPNUM_LE:
            return
        self.received += 1
        self.set_pending(value)

    def set_pending(self, eiid: int) -> None:
        if not 0 < eiid <= MSI_IDS:
            return
        self.pending |= 1 << eiid
        if self.enabled >> eiid & 1 and self.on_pending is not None:
            self.on_pending()

    def set_enabled(self, eiid: int, on: bool) -> None:
        if not 0 < eiid <= MSI_IDS:
            return
        if on:
            self.enabled |= 1 << eiid
            if self.pending >> eiid & 1 and self.on_pending is not None:
                self.on_pending()
        else:
            self.enabled &= ~(1 << eiid)

    def claim(self) -> int:
        ready = self.pending & self.enabled
        if not ready:
            return 0
        eiid = (ready & -ready).bit_length() - 1
        self.pending &= ~(1 << eiid)
        return eiid

"""The controller's interrupts (NVMe 1.4 §7.5; QEMU hw/nvme/ctrl.c nvme_irq_check/assert).

* Pin-based (MSI-X disabled): INTA is asserted while some completion queue with
  interrupts enabled (IEN) holds entries the host has not consumed (its tail is
  ahead of the head the host last wrote to its doorbell) and the INTMS bit of the
  queue's vector (0 without MSI-X) is clear.  So a completion raises the line,
  INTMS masks it (INTMC unmasks), and consuming the entries and ringing the CQ head
  doorbell lowers it.  The level is computed again after every host access.
* MSI-X (enabled in the capability's Message Control): each time the controller posts
  entries to a CQ with IEN it sends the queue's vector: a 32-bit write of the table
  entry's Message Data to its Message Address.  While the function mask or the
  vector's mask bit is set, the vector's Pending Bit is set instead, and the message
  goes out (and the bit clears) once both are clear.  INTx stays deasserted.
* ``Faults.no_interrupts``: neither (a controller whose interrupt never comes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from qrv.hw.nvme.queues import CompletionQueue
from qrv.hw.regbank import RegBank
from qrv.spec.pci import MSIX_ENTRY_SIZE

DWORD = 4
ADDR_LO, ADDR_HI, DATA, VECTOR_CONTROL = 0, 4, 8, 12
MASK_BIT = 1


class NvmeInterrupts:
    """INTx level and MSI-X messages of one controller."""

    def __init__(
        self,
        table: RegBank,
        vectors: int,
        *,
        msix_enabled: Callable[[], bool],
        function_masked: Callable[[], bool],
        set_intx: Callable[[bool], None],
        send: Callable[[int, int], None],
        silent: Callable[[], bool] = lambda: False,
    ) -> None:
        self.table = table
        self.vectors = vectors
        self.pba = 0
        self.sent = 0
        """MSI-X messages sent."""
        self._msix_enabled = msix_enabled
        self._function_masked = function_masked
        self._set_intx = set_intx
        self._send = send
        self._silent = silent

    def _entry(self, vector: int, field: int) -> int:
        value = self.table.load(vector * MSIX_ENTRY_SIZE + field, DWORD)
        return 0 if value is None else value

    def _masked(self, vector: int) -> bool:
        return self._function_masked() or bool(self._entry(vector, VECTOR_CONTROL) & MASK_BIT)

    def posted(self, cq: CompletionQueue) -> None:
        """The controller posted entries to `cq`: with MSI-X, its vector fires."""
        if not cq.ien or not self._msix_enabled() or cq.iv >= self.vectors or self._silent():
            return
        if self._masked(cq.iv):
            self.pba |= 1 << cq.iv
        else:
            self._fire(cq.iv)

    def _fire(self, vector: int) -> None:
        # Message Address: the Lower and Upper Address dwords, one little-endian qword
        addr = self.table.load(vector * MSIX_ENTRY_SIZE + ADDR_LO, 2 * DWORD) or 0
        self.sent += 1
        self._send(addr, self._entry(vector, DATA))

    def update(self, cqs: Iterable[CompletionQueue], intms: int) -> None:
        """After a host access: drive INTx, and send MSI-X messages no longer masked."""
        if self._msix_enabled():
            self._set_intx(False)
            pending = self.pba
            while pending:
                low = pending & -pending
                vector = low.bit_length() - 1
                pending ^= low
                if not self._masked(vector):
                    self.pba &= ~low
                    self._fire(vector)
            return
        level = any(cq.ien and cq.head != cq.tail and not intms >> (cq.iv & 31) & 1 for cq in cqs)
        self._set_intx(level and not self._silent())

    def pba_read(self, offset: int, width: int) -> int:
        """A load from the Pending Bit Array (offset within it)."""
        return (self.pba >> (8 * offset)) & ((1 << (8 * width)) - 1)

    def reset(self) -> None:
        self.pba = 0

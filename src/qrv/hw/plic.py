"""The PLIC of QEMU's ``virt`` board (``riscv.sifive.plic``, RISC-V PLIC spec 1.0.0).

Register layout (QEMU hw/riscv/virt.c, hw/intc/sifive_plic.c, 7.2), 32-bit accesses:

* ``0x000000 + 4*n``: priority of source n (1..95; 3 bits, 0 = never interrupts);
* ``0x001000 + 4*w``: pending bits, sources 32w..32w+31 (read-only);
* ``0x002000 + 0x80*c + 4*w``: enable bits of context c;
* ``0x200000 + 0x1000*c``: priority threshold of context c; ``+4``: claim (read) /
  complete (write).

Contexts as QEMU's ``hart-config "MS"`` for one hart: 0 is hart 0's M mode, 1 its S
mode (where QRV runs).  A source's gateway is level-triggered as QEMU's: a high line
makes it pending, a low line withdraws a pending, unclaimed request; a claimed source
asks again only once completed (and then at once if its line is still high).  A
completion naming a source not enabled for that context is ignored (PLIC spec).  A
context's output (its hart's external interrupt) is high while a pending, enabled
source's priority exceeds its threshold; :attr:`Plic.on_output` hears each change.
Accesses of another width read 0 and are ignored, as QEMU's MemoryRegionOps refuse them.
"""

from __future__ import annotations

from collections.abc import Callable

NUM_SOURCES = 96  # VIRT_IRQCHIP_NUM_SOURCES (source 0 is "no interrupt")
NUM_PRIORITIES = 7
PRIORITY_MASK = 0x7
PRIORITY_BASE = 0x0
PENDING_BASE = 0x1000
ENABLE_BASE = 0x2000
ENABLE_STRIDE = 0x80
CONTEXT_BASE = 0x20_0000
CONTEXT_STRIDE = 0x1000
CONTEXT_THRESHOLD = 0x0
CONTEXT_CLAIM = 0x4
CONTEXTS = 2
CONTEXT_M = 0
CONTEXT_S = 1
WORDS = (NUM_SOURCES + 31) // 32
REG = 4

Output = Callable[[int, bool], None]


class Plic:
    """PLIC registers, gateways and per-context outputs (an MMIO device)."""

    def __init__(self, contexts: int = CONTEXTS) -> None:
        self.contexts = contexts
        self.priority = [0] * NUM_SOURCES
        self.threshold = [0] * contexts
        self.enable = [0] * contexts  # bitmaps
        self.pending = 0
        self.claimed = 0
        self.level = 0
        self._out = [False] * contexts
        self.on_output: Output | None = None

    # -- the sources' side ----------------------------------------------------------

    def set_irq(self, source: int, high: bool) -> None:
        """A device's interrupt line into source `source` (1..95)."""
        if not 0 < source < NUM_SOURCES:
            return
        bit = 1 << source
        if high:
            self.level |= bit
            if not self.claimed & bit:
                self.pending |= bit
        else:
            self.level &= ~bit
            self.pending &= ~bit
        self._update()

    # -- contexts -----------------------------------------------------------------------

    def _best(self, ctx: int) -> int:
        """The source a claim by `ctx` returns: highest priority, then lowest number."""
        ready = self.pending & self.enable[ctx]
        best, best_prio = 0, self.threshold[ctx]
        while ready:
            low = ready & -ready
            src = low.bit_length() - 1
            if self.priority[src] > best_prio:
                best, best_prio = src, self.priority[src]
            ready ^= low
        return best

    def output(self, ctx: int) -> bool:
        return self._out[ctx]

    def claim(self, ctx: int) -> int:
        src = self._best(ctx)
        if src:
            self.pending &= ~(1 << src)
            self.claimed |= 1 << src
            self._update()
        return src

    def complete(self, ctx: int, source: int) -> None:
        if not 0 < source < NUM_SOURCES:
            return
        bit = 1 << source
        if not self.enable[ctx] & bit or not self.claimed & bit:
            return
        self.claimed &= ~bit
        if self.level & bit:
            self.pending |= bit
        self._update()

    def _update(self) -> None:
        for ctx in range(self.contexts):
            out = self._best(ctx) != 0
            if out != self._out[ctx]:
                self._out[ctx] = out
                if self.on_output is not None:
                    self.on_output(ctx, out)

    # -- MMIO ---------------------------------------------------------------------------

    def mmio_read(self, offset: int, width: int) -> int:
        if width != REG or offset % REG:
            return 0
        if offset < PENDING_BASE:
            src = (offset - PRIORITY_BASE) // REG
            return self.priority[src] if src < NUM_SOURCES else 0
        if offset < ENABLE_BASE:
            w = (offset - PENDING_BASE) // REG
            return (self.pending >> (32 * w)) & 0xFFFF_FFFF if w < WORDS else 0
        if offset < CONTEXT_BASE:
            ctx, w = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            w //= REG
            if ctx < self.contexts and w < WORDS:
                return (self.enable[ctx] >> (32 * w)) & 0xFFFF_FFFF
            return 0
        ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if ctx >= self.contexts:
            return 0
        if reg == CONTEXT_THRESHOLD:
            return self.threshold[ctx]
        if reg == CONTEXT_CLAIM:
            return self.claim(ctx)
        return 0

    def mmio_write(self, offset: int, width: int, value: int) -> None:
        if width != REG or offset % REG:
            return
        if offset < PENDING_BASE:
            src = (offset - PRIORITY_BASE) // REG
            if 0 < src < NUM_SOURCES:
                self.priority[src] = value & PRIORITY_MASK
                self._update()
            return
        if offset < ENABLE_BASE:
            return  # pending bits are read-only
        if offset < CONTEXT_BASE:
            ctx, w = divmod(offset - ENABLE_BASE, ENABLE_STRIDE)
            w //= REG
            if ctx < self.contexts and w < WORDS:
                mask = 0xFFFF_FFFF << (32 * w)
                bits = (value & 0xFFFF_FFFF) << (32 * w)
                valid = ((1 << NUM_SOURCES) - 1) & ~1  # source 0 is hardwired to 0
                self.enable[ctx] = (self.enable[ctx] & ~mask) | (bits & valid)
                self._update()
            return
        ctx, reg = divmod(offset - CONTEXT_BASE, CONTEXT_STRIDE)
        if ctx >= self.contexts:
            return
        if reg == CONTEXT_THRESHOLD:
            self.threshold[ctx] = value & PRIORITY_MASK
            self._update()
        elif reg == CONTEXT_CLAIM:
            self.complete(ctx, value & 0xFFFF_FFFF)

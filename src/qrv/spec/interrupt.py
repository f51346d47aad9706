"""Interrupt attachment: ``struct sigevent`` (the kinds an interrupt delivers) and the flags
of ``InterruptAttachEvent``/``InterruptAttach``/``InterruptWait`` (QNX ``<sys/neutrino.h>``,
``<sys/siginfo.h>``).

Interrupt numbers (``intr``) on both machines (docs/kernel-api.md):

* 1 .. 95: PLIC sources (QEMU virt's ``VIRT_IRQCHIP_NUM_SOURCES`` is 96; 0 is "none");
  PCI INTA..INTD are sources 32..35, through the host bridge's ``interrupt-map``;
* ``MSI_INTR_BASE + n``: external interrupt identity ``n`` (1 .. ``MSI_IDS``) of the
  hart's MSI target, what an MSI-X message with data ``n`` raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

PLIC_SOURCES = 96
"""PLIC sources 1..95 are interrupt numbers 1..95 (0 means no interrupt)."""
MSI_INTR_BASE = 0x100
"""Interrupt number of MSI identity n: ``MSI_INTR_BASE + n``."""
MSI_IDS = 255
"""Identities an MSI target accepts (1..255: an IMSIC's smallest interrupt file)."""


def msi_intr(eiid: int) -> int:
    """The interrupt number of MSI identity `eiid`."""
    return MSI_INTR_BASE + eiid


def valid_intr(intr: int) -> bool:
    """Whether `intr` names a PLIC source or an MSI identity."""
    return 1 <= intr < PLIC_SOURCES or MSI_INTR_BASE < intr <= MSI_INTR_BASE + MSI_IDS


class SigevNotify(IntEnum):
    """``sigev_notify`` values (``<sys/siginfo.h>``)."""

    NONE = 0
    PULSE = 4
    INTR = 6


SIGEV_PULSE_PRIO_INHERIT = -1
"""A pulse priority of -1: the attaching thread's priority."""


class IntrFlag(IntFlag):
    """``InterruptAttachEvent``/``InterruptAttach`` flags (``_NTO_INTR_FLAGS_*``)."""

    END = 0x01
    PROCESS = 0x04
    TRK_MSK = 0x08
    NO_UNMASK = 0x10


INTR_FLAGS_ALL = int(IntrFlag.END | IntrFlag.PROCESS | IntrFlag.TRK_MSK | IntrFlag.NO_UNMASK)


@dataclass(frozen=True, slots=True)
class SigEvent:
    """``struct sigevent``, the kinds an interrupt can deliver.

    ``SIGEV_NONE``: nothing (what an ``InterruptAttach`` handler may also say with None).
    ``SIGEV_INTR``: the attaching thread's :func:`InterruptWait` returns.
    ``SIGEV_PULSE``: a pulse (`code`, `value`) on connection `coid` at `priority`
    (-1: the attaching thread's priority).
    """

    notify: SigevNotify
    coid: int = 0
    priority: int = SIGEV_PULSE_PRIO_INHERIT
    code: int = 0
    value: int = 0


def SIGEV_INTR_INIT() -> SigEvent:
    """``SIGEV_INTR_INIT(&event)``."""
    return SigEvent(SigevNotify.INTR)


def SIGEV_PULSE_INIT(coid: int, priority: int, code: int, value: int) -> SigEvent:
    """``SIGEV_PULSE_INIT(&event, coid, priority, code, value)``."""
    return SigEvent(SigevNotify.PULSE, coid, priority, code, value)

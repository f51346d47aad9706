"""Interrupt calls of ``<sys/neutrino.h>``: attach an event or a handler, wait, mask/unmask,
detach.

QNX semantics (docs/kernel-api.md, "Interrupts"): the kernel masks a source each
time it fires for an ``InterruptAttachEvent`` attachment, and the driver unmasks
once it has served the device; masks count.  An ``InterruptAttach`` handler runs in
interrupt context instead and quiets the device itself (no automatic mask).
Failures raise ``OSError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qrv.lib.c._sys import K, cur
from qrv.spec.interrupt import (
    MSI_INTR_BASE,
    SIGEV_INTR_INIT,
    SIGEV_PULSE_INIT,
    SIGEV_PULSE_PRIO_INHERIT,
    IntrFlag,
    SigEvent,
    SigevNotify,
    msi_intr,
)

__all__ = [
    "MSI_INTR_BASE",
    "SIGEV_INTR_INIT",
    "SIGEV_PULSE_INIT",
    "SIGEV_PULSE_PRIO_INHERIT",
    "_NTO_INTR_FLAGS_END",
    "_NTO_INTR_FLAGS_NO_UNMASK",
    "_NTO_INTR_FLAGS_PROCESS",
    "_NTO_INTR_FLAGS_TRK_MSK",
    "InterruptAttach",
    "InterruptAttachEvent",
    "InterruptDetach",
    "InterruptMask",
    "InterruptUnmask",
    "InterruptWait",
    "IntrFlag",
    "SigEvent",
    "SigevNotify",
    "msi_intr",
]

_NTO_INTR_FLAGS_END = int(IntrFlag.END)
_NTO_INTR_FLAGS_PROCESS = int(IntrFlag.PROCESS)
_NTO_INTR_FLAGS_TRK_MSK = int(IntrFlag.TRK_MSK)
_NTO_INTR_FLAGS_NO_UNMASK = int(IntrFlag.NO_UNMASK)


def InterruptAttachEvent(intr: int, event: SigEvent, flags: int = 0) -> int:
    """Deliver `event` whenever interrupt `intr` fires; the attachment's id.

    The source is masked each time it fires: call :func:`InterruptUnmask` once the
    device is served.  EPERM (not root), EINVAL (no such interrupt, bad flags/event).
    """
    t = cur()
    return K(t).interrupts.attach_event(t, intr, event, flags)


def InterruptAttach(
    intr: int,
    handler: Callable[[Any, int], SigEvent | None],
    area: Any = None,
    size: int = 0,
    flags: int = 0,
) -> int:
    """Run ``handler(area, id)`` in interrupt context whenever `intr` fires; the id.

    The handler runs before any thread, as this process: it may read and write its
    mappings and call :func:`InterruptMask`/:func:`InterruptUnmask`, and returns the
    event to deliver (``SIGEV_INTR_INIT()`` wakes this thread's :func:`InterruptWait`)
    or None.  The source is not masked for it: the handler quiets the device.  A call
    that would block fails there with EDEADLK; an exception out of it ends this
    process as a crash.  `size` is ignored (as QNX does).  EPERM (not root), EINVAL
    (no such interrupt, bad flags, a handler that is not callable).
    """
    del size  # QNX: "InterruptAttach() currently ignores this argument"
    t = cur()
    return K(t).interrupts.attach_handler(t, intr, handler, area, flags)


def InterruptWait(flags: int = 0, timeout: float | None = None) -> int:
    """Block until a ``SIGEV_INTR`` for this thread (0); ETIMEDOUT after `timeout` s."""
    t = cur()
    return K(t).interrupts.wait(t, flags, timeout)


def InterruptMask(intr: int, id: int) -> int:
    """Mask `intr` once more (tracked by attachment `id`, or -1); the mask count after."""
    t = cur()
    return K(t).interrupts.mask(t, intr, id)


def InterruptUnmask(intr: int, id: int) -> int:
    """Undo one mask of `intr`; the mask count after (0: the source is live)."""
    t = cur()
    return K(t).interrupts.unmask(t, intr, id)


def InterruptDetach(id: int) -> None:
    """Remove attachment `id` (either kind; its masks undone): EINVAL unknown, EPERM not ours."""
    t = cur()
    K(t).interrupts.detach(t, id)

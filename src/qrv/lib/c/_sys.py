"""The calling thread's kernel context (libc's view of "the current process").

The hot message-passing calls ask :func:`running` themselves (a C call, one Python
call less per kernel call than :func:`cur`, which they call only for its error).
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.kernel import Kernel, KThread, current, current_or_none

__all__ = ["K", "cur", "running"]

running: Callable[[], KThread | None] = current_or_none
"""The calling kernel thread, or None outside a qrv process."""

cur: Callable[[], KThread] = current
"""The calling kernel thread; OSError(ESRCH) outside a qrv process."""


def K(t: KThread) -> Kernel:
    """The kernel `t` runs on (the one every call of `t` goes to)."""
    kernel: Kernel = t.process.kernel
    return kernel

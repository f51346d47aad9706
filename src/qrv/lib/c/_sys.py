"""The calling thread's kernel context (libc's view of "the current process").

The hot message-passing calls read ``running.thread`` themselves (one Python
call less per kernel call than :func:`cur`).
"""

from __future__ import annotations

from collections.abc import Callable

from qrv.kernel import Kernel, KThread, current, running

__all__ = ["K", "cur", "running"]

cur: Callable[[], KThread] = current
"""The calling kernel thread; OSError(ESRCH) outside a qrv process."""


def K(t: KThread) -> Kernel:
    """The kernel `t` runs on (the one every call of `t` goes to)."""
    kernel: Kernel = t.process.kernel
    return kernel

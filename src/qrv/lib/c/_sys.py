"""The calling thread's kernel context (libc's view of "the current process")."""

from __future__ import annotations

from qrv.kernel import KThread, current


def cur() -> KThread:
    """The calling kernel thread; OSError(ESRCH) outside a qrv process."""
    return current()

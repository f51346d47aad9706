"""QEMU's guest RAM in a file that qrv maps too (``memory-backend-file,share=on``).

QEMU is started with ``-object memory-backend-file,id=qrv-ram,size=N,mem-path=FILE,
share=on -machine virt,memory-backend=qrv-ram``: its RAM is a ``MAP_SHARED`` mapping of
FILE.  qrv maps the same file, so DMA memory (queues, PRP lists, data buffers) is plain
memory on both sides and only MMIO (registers, doorbells, config space) goes over the
qtest socket.  The file lives on tmpfs (``/dev/shm``) when there is one, so the pages
are never written back to a disk, and it is unlinked as soon as QEMU has opened it:
both mappings keep the memory, and nothing is left behind when either side dies.

Ordering: qrv's stores to the mapping are visible to QEMU's device before the doorbell
that follows them (the doorbell is a ``sendall`` on the qtest socket, a system call),
and a completion QEMU posts is read by polling its phase tag, as a host CPU does.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from pathlib import Path

from qrv.errors import MachineError

BACKEND_ID = "qrv-ram"
SHM_DIR = Path("/dev/shm")


def ram_dir() -> Path:
    """Where the RAM file goes: tmpfs if writable, else the system's temporary directory."""
    if SHM_DIR.is_dir() and os.access(SHM_DIR, os.W_OK | os.X_OK):
        return SHM_DIR
    return Path(tempfile.gettempdir())


class SharedRam:
    """A RAM file of `size` bytes, created (empty: reads as zeros) and mapped here.

    Raises :class:`MachineError` when the file cannot be created, sized or mapped
    (the caller then runs QEMU with its own RAM and reaches it over qtest)."""

    def __init__(self, size: int, directory: Path | None = None) -> None:
        where = ram_dir() if directory is None else directory
        try:
            fd, name = tempfile.mkstemp(prefix="qrv-qemu-", suffix=".ram", dir=where)
        except OSError as exc:
            raise MachineError(f"cannot create a RAM file in {where}: {exc.strerror}") from exc
        self.path: Path | None = Path(name)
        try:
            os.ftruncate(fd, size)
            self.map = mmap.mmap(fd, size, flags=mmap.MAP_SHARED)
        except (OSError, ValueError) as exc:
            self.remove()
            why = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise MachineError(f"cannot map a {size}-byte RAM file in {where}: {why}") from exc
        finally:
            os.close(fd)
        self.size = size
        self.view = memoryview(self.map)
        """The whole RAM, writable: offset 0 is guest physical RAM_BASE."""

    def backend_args(self) -> list[str]:
        """QEMU's ``-object``; the machine option is ``memory-backend=BACKEND_ID``."""
        assert self.path is not None, "the RAM file is removed once QEMU has it"
        backend = f"memory-backend-file,id={BACKEND_ID},size={self.size},mem-path={self.path}"
        return ["-object", backend + ",share=on"]

    def remove(self) -> None:
        """Unlink the file (the mappings stay valid).  Idempotent."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

"""The one exception hierarchy of qrv (STYLE.md habit 9).

Every package raises its own subclass of :class:`QrvError`; the command line
turns any ``QrvError`` into one line on stderr and a non-zero exit.  Anything
else escaping is a bug in qrv and keeps its traceback.
"""

import errno


class QrvError(Exception):
    """Base of every error qrv reports to a user."""


class UsageError(QrvError):
    """A bad command line or argument."""


class ProgramError(UsageError):
    """A user's program (``qrv emu --program``) that cannot be installed."""


class MachineError(QrvError):
    """The machine (built-in board or QEMU) could not be built, started or reached."""


class MachineLost(MachineError, OSError):
    """The machine is gone (QEMU exited, or stopped answering): no access can be served.

    Also an ``OSError`` with errno EIO, so a server whose handler touches the lost
    machine answers its client EIO (the resource-manager framework replies a
    handler's OSError with its errno) instead of dying.  ``reason`` says what
    happened to the machine (e.g. "QEMU exited with status -9").
    """

    def __init__(self, message: str, reason: str) -> None:
        OSError.__init__(self, errno.EIO, message)
        self.reason = reason

    def __str__(self) -> str:
        return str(self.strerror)


class BusError(MachineError):
    """An access to the physical address space that the machine cannot serve."""


class FdtError(QrvError):
    """A flattened device tree blob that cannot be parsed."""


class GptError(QrvError):
    """A GPT that cannot be read or is invalid (libgpt refines it with a GPT_ERR_* code)."""


class PciError(QrvError):
    """A PCI failure (libpci refines it with a PCI_ERR_* code)."""


class NvmeError(QrvError):
    """An NVMe controller failure seen by the driver (timeout, CFS, bad completion)."""


class OutputError(QrvError):
    """stdout cannot be written (a full disk, a closed descriptor): ``write error: ...``."""


class QrvfsError(QrvError):
    """A qrvfs filesystem that cannot be used, or an operation on it that failed
    (the filesystem core refines it with an errno)."""


class TraceError(QrvError):
    """The ``qrv emu --trace`` file cannot be created or written."""

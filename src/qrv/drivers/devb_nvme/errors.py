"""The driver's errors: one base (qrv.errors.NvmeError), each failure named."""

from __future__ import annotations

from qrv.errors import NvmeError
from qrv.spec.nvme import Status


class ControllerTimeout(NvmeError):
    """A wait on the controller ran past its bound (CAP.TO for CSTS.RDY, or a command timeout)."""


class ControllerFatal(NvmeError):
    """CSTS.CFS is set: the controller reports a fatal status (NVMe 1.4 §10.5)."""


class CommandFailed(NvmeError):
    """A command completed with a non-success status."""

    def __init__(self, what: str, status: Status) -> None:
        super().__init__(f"{what} failed: {status}")
        self.status = status


class BadCompletion(NvmeError):
    """A completion the driver did not ask for (wrong CID or SQ id)."""

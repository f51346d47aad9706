"""NVMe passthrough devctls of devb-nvme's controller node (``/dev/nvme0``).

Like Linux's ``NVME_IOCTL_ADMIN_CMD`` / ``NVME_IOCTL_IO_CMD``: the caller gives
the command's opcode, NSID, CDW2-3 and CDW10-15, the data length and the data
direction; the driver fills in the CID and the data pointers (its own DMA
buffer: PRP1/PRP2 or a PRP list), submits to the admin queue or the I/O
queue, and answers the completion's status field, its DW0 ("result") and the
data the controller returned.

The message (``DCMD_NVME_ADMIN_CMD`` / ``DCMD_NVME_IO_CMD``, to and from): a
:class:`PassthruCmd` followed, when the direction is :attr:`DataDir.TO_DEVICE`,
by ``data_len`` bytes.  The reply: a :class:`PassthruResult` followed, for
:attr:`DataDir.FROM_DEVICE`, by ``data_len`` bytes.  A command the controller
completed with an error is still a successful devctl: the status is in the
reply (as Linux's ioctl returns the positive NVMe status).  The devctl's own
errors (its ``errno``):

* EPERM: the caller is not root, or the command is one the driver owns
  (creating/deleting queues, Abort, Asynchronous Event Request, Doorbell
  Buffer Config).
* EINVAL: a direction that does not match the opcode's bits 1:0 (NVMe 1.4
  §5, Figure 139: 00b none, 01b host to controller, 10b controller to host;
  11b bidirectional is refused), a data length with no-data direction or
  above the controller's transfer limit (MDTS, capped by the driver), non-zero
  flags (fused commands, SGLs), or an I/O command with NSID 0 or broadcast.
* EBUSY: a command that destroys or detaches a namespace's data (Format NVM,
  Sanitize, Namespace Management or Attachment, Firmware Commit) while a node
  of an affected namespace is open (a mounted partition is open).
* EROFS: a command that changes the medium while devb-nvme serves read-only.
* EAGAIN: as many passthrough commands in flight as devb-nvme has buffers for, and
  none completed within its command timeout.
* EIO: the controller did not complete the command (timeout, fatal status).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from qrv.spec.iomsg import DEVDIR_TOFROM, EINVAL, Layout, MessageError, dcmd

_DCMD_NVME = 0x05  # qrv's class for NVMe devctls (QNX uses 0x05 for _DCMD_MISC; not served here)

_CMD = Layout("<BBBxIIII6I")
assert _CMD.size == 44
_RESULT = Layout("<HHII")
assert _RESULT.size == 12

MAX_PASSTHRU_DATA = 1 << 20
"""The most data one passthrough moves (the driver's cap on MDTS; it may allow less)."""


class DataDir(IntEnum):
    """The data direction, as opcode bits 1:0 code it (NVMe 1.4 Figure 139)."""

    NONE = 0
    TO_DEVICE = 1
    FROM_DEVICE = 2
    BIDIRECTIONAL = 3


def opcode_direction(opcode: int) -> DataDir:
    """The direction an opcode's bits 1:0 give (true of admin, I/O and vendor opcodes)."""
    return DataDir(opcode & 0b11)


@dataclass(frozen=True)
class PassthruCmd:
    """The command dwords the caller chooses; CID, PRPs and metadata are the driver's."""

    opcode: int
    nsid: int = 0
    direction: int = DataDir.NONE
    data_len: int = 0
    cdw2: int = 0
    cdw3: int = 0
    cdw10: int = 0
    cdw11: int = 0
    cdw12: int = 0
    cdw13: int = 0
    cdw14: int = 0
    cdw15: int = 0
    flags: int = 0

    SIZE = _CMD.size

    @property
    def cdws(self) -> tuple[int, int, int, int, int, int]:
        return (self.cdw10, self.cdw11, self.cdw12, self.cdw13, self.cdw14, self.cdw15)

    def pack(self) -> bytes:
        return _CMD.pack(
            self.opcode,
            self.flags,
            self.direction,
            self.nsid,
            self.cdw2,
            self.cdw3,
            self.data_len,
            *self.cdws,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PassthruCmd:
        """From the head of a devctl's data (EBADMSG if shorter; EINVAL on a bad direction)."""
        f = _CMD.unpack_from(data)
        if f[2] not in DataDir.__members__.values():
            raise MessageError(EINVAL, f"direction {f[2]}")
        opcode, flags, direction, nsid, cdw2, cdw3, data_len = f[:7]
        c10, c11, c12, c13, c14, c15 = f[7:]
        return cls(
            opcode, nsid, direction, data_len, cdw2, cdw3, c10, c11, c12, c13, c14, c15, flags
        )


@dataclass(frozen=True)
class PassthruResult:
    """The completion: status field (CQE DW3 bits 31:17: SC, SCT, CRD, More, DNR), DW0,
    and how many data bytes follow."""

    status: int
    result: int
    data_len: int = 0

    SIZE = _RESULT.size

    @property
    def ok(self) -> bool:
        return self.status & 0x7FF == 0  # SCT and SC both 0 (More/DNR/CRD do not fail it)

    def pack(self) -> bytes:
        return _RESULT.pack(self.status, 0, self.result, self.data_len)

    @classmethod
    def unpack(cls, data: bytes) -> PassthruResult:
        status, _z, result, data_len = _RESULT.unpack_from(data)
        return cls(status, result, data_len)


DCMD_NVME_ADMIN_CMD = dcmd(DEVDIR_TOFROM, _DCMD_NVME, 0x40, _CMD.size)
DCMD_NVME_IO_CMD = dcmd(DEVDIR_TOFROM, _DCMD_NVME, 0x41, _CMD.size)

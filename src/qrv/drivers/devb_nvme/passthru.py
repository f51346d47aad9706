"""Admin and I/O passthrough (the devctls of :mod:`qrv.spec.nvmectl`): checked, then run.

:func:`check` is the policy, pure: the opcode's data direction (bits 1:0), the
length against the transfer limit, the commands the driver owns (queues, Abort,
AER) and the ones that may not run while an affected namespace is open.
:class:`Passthrough` runs a checked command through its own DMA buffer (so a
passthrough never touches the block path's bounce buffer), one PRP list built
once for the whole buffer (NVMe 1.4 §4.3).
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from qrv.drivers.devb_nvme.controller import Controller
from qrv.drivers.devb_nvme.prp import HOST_PAGE, pages, prps, transfer_buffer
from qrv.drivers.devb_nvme.queues import DmaMemory
from qrv.errors import NvmeError
from qrv.lib.c.proc import ClockTime, delay
from qrv.spec.nvme import (
    IDENTIFY_DATA_SIZE,
    NSID_BROADCAST,
    AdminOpcode,
    Command,
    LogField,
    NvmField,
    NvmOpcode,
)
from qrv.spec.nvmectl import DataDir, PassthruCmd, PassthruResult, opcode_direction

DRIVER_OWNED = frozenset(
    {
        AdminOpcode.DELETE_IO_SQ,
        AdminOpcode.CREATE_IO_SQ,
        AdminOpcode.DELETE_IO_CQ,
        AdminOpcode.CREATE_IO_CQ,
        AdminOpcode.ABORT,
        AdminOpcode.ASYNC_EVENT_REQUEST,
        AdminOpcode.DOORBELL_BUFFER_CONFIG,
    }
)
"""Admin commands only the driver may send: its queues, their CIDs and the AER slot."""

DESTRUCTIVE_ADMIN = frozenset(
    {
        AdminOpcode.FORMAT_NVM,
        AdminOpcode.SANITIZE,
        AdminOpcode.NAMESPACE_MANAGEMENT,
        AdminOpcode.NAMESPACE_ATTACHMENT,
        AdminOpcode.FIRMWARE_COMMIT,
    }
)
"""Admin commands that erase, remove or detach namespaces (or reset the controller)."""

RESHAPING = frozenset(
    {AdminOpcode.FORMAT_NVM, AdminOpcode.NAMESPACE_MANAGEMENT, AdminOpcode.NAMESPACE_ATTACHMENT}
)
"""Of those, the ones after which the driver re-identifies the namespaces (size, LBA format,
or whether they are still attached)."""

WHOLE_CONTROLLER = frozenset({AdminOpcode.SANITIZE, AdminOpcode.FIRMWARE_COMMIT})
"""Of those, the ones whose effect is every namespace whatever the NSID."""

DATA_BLOCKS = frozenset({NvmOpcode.READ, NvmOpcode.WRITE, NvmOpcode.COMPARE})
"""I/O commands whose data is (NLB + 1) blocks."""

MEDIUM_WRITES = frozenset(
    {
        NvmOpcode.WRITE,
        NvmOpcode.WRITE_UNCORRECTABLE,
        NvmOpcode.WRITE_ZEROES,
        NvmOpcode.DATASET_MANAGEMENT,
        NvmOpcode.COPY,
    }
)
"""I/O commands that change blocks (refused while the driver serves read-only)."""


@dataclass(frozen=True)
class Refused(Exception):
    """A passthrough the driver will not send: its errno and why."""

    errno: int
    why: str

    def __str__(self) -> str:
        return self.why


def affected(cmd: PassthruCmd, active: list[int]) -> list[int]:
    """The namespaces a destructive admin command touches."""
    if cmd.opcode in WHOLE_CONTROLLER or cmd.nsid in (0, NSID_BROADCAST):
        return list(active)
    return [cmd.nsid] if cmd.nsid in active else []


def implied_length(cmd: PassthruCmd, *, admin: bool, lba_size: int) -> int:
    """The bytes the controller will move for `cmd`, where its dwords say (0: unknown).

    The PRPs the driver builds cover ``data_len``; a command whose own fields
    ask for more pages would have the controller follow PRP2 beyond them.
    """
    if admin and cmd.opcode == AdminOpcode.IDENTIFY:
        return IDENTIFY_DATA_SIZE
    if admin and cmd.opcode == AdminOpcode.GET_LOG_PAGE:
        numd = (LogField.NUMDU.get(cmd.cdw11) << 16) | LogField.NUMDL.get(cmd.cdw10)
        return (numd + 1) * 4
    if not admin and cmd.opcode in DATA_BLOCKS:
        return (NvmField.NLB.get(cmd.cdw12) + 1) * lba_size
    return 0


def check(
    cmd: PassthruCmd,
    *,
    admin: bool,
    max_transfer: int,
    active: list[int],
    is_open: Callable[[int], bool],
    writable: bool,
    lba_size: int = 512,
) -> None:
    """Refused (EINVAL, EPERM, EBUSY, EROFS) unless the driver may send `cmd`."""
    if cmd.flags:
        raise Refused(errno.EINVAL, f"flags {cmd.flags:#x} (fused or SGL) are the driver's")
    wanted = opcode_direction(cmd.opcode)
    if cmd.direction == DataDir.NONE:
        if cmd.data_len:
            raise Refused(errno.EINVAL, f"{cmd.data_len} bytes with no data direction")
    elif wanted == DataDir.BIDIRECTIONAL:
        raise Refused(errno.EINVAL, f"opcode {cmd.opcode:#04x} is bidirectional")
    elif cmd.direction != wanted:
        raise Refused(
            errno.EINVAL,
            f"opcode {cmd.opcode:#04x} moves data {wanted.name}, not {DataDir(cmd.direction).name}",
        )
    elif not cmd.data_len:
        raise Refused(errno.EINVAL, f"opcode {cmd.opcode:#04x}: {wanted.name} with no data")
    if not 0 <= cmd.data_len <= max_transfer:
        raise Refused(errno.EINVAL, f"{cmd.data_len} bytes > the {max_transfer}-byte limit")
    implied = implied_length(cmd, admin=admin, lba_size=lba_size)
    if pages(implied) > max(1, pages(cmd.data_len)):
        why = f"the command moves {implied} bytes, data_len is {cmd.data_len}"
        raise Refused(errno.EINVAL, why)
    if admin:
        _check_admin(cmd, active, is_open, writable)
    else:
        if cmd.nsid == 0 or (cmd.nsid == NSID_BROADCAST and cmd.opcode != NvmOpcode.FLUSH):
            raise Refused(errno.EINVAL, f"an I/O command needs one namespace (nsid {cmd.nsid:#x})")
        if cmd.opcode in MEDIUM_WRITES and not writable:
            raise Refused(errno.EROFS, "devb-nvme serves this controller read-only")


def _check_admin(
    cmd: PassthruCmd, active: list[int], is_open: Callable[[int], bool], writable: bool
) -> None:
    if cmd.opcode in DRIVER_OWNED:
        name = AdminOpcode(cmd.opcode).name
        raise Refused(errno.EPERM, f"{name} belongs to the driver")
    if cmd.opcode not in DESTRUCTIVE_ADMIN:
        return
    name = AdminOpcode(cmd.opcode).name
    if not writable:
        raise Refused(errno.EROFS, f"{name}: devb-nvme serves this controller read-only")
    busy = [nsid for nsid in affected(cmd, active) if is_open(nsid)]
    if busy:
        raise Refused(errno.EBUSY, f"{name}: namespace {busy[0]} is open or mounted")


MAX_BUFFERS = 4
"""Passthrough commands in flight at once (one DMA buffer each, of up to the transfer limit)."""
BUFFER_WAIT_S = 0.0005  # between looks for a free buffer

Buffer = tuple[DmaMemory, DmaMemory]  # data, its PRP list


class Passthrough:
    """Runs checked passthrough commands on one controller, each in a DMA buffer of its own.

    A buffer goes back to the free list when its command completes; one whose command
    never completed (a timeout) is never used again, since the controller may still
    write into it.  At most :data:`MAX_BUFFERS` exist: a command beyond that waits for
    one, at most `wait_s` (the controller's command timeout), then gets EAGAIN.
    """

    def __init__(
        self, ctrl: Controller, limit: int = MAX_BUFFERS, wait_s: float | None = None
    ) -> None:
        self.ctrl = ctrl
        self.limit = limit
        self.wait_s = ctrl.timeout_s if wait_s is None else wait_s
        self.free: list[Buffer] = []
        self.made = 0

    @property
    def max_transfer(self) -> int:
        return self.ctrl.max_transfer

    def _take(self) -> Buffer:
        deadline = ClockTime() + self.wait_s
        while not self.free and self.made >= self.limit:
            if ClockTime() >= deadline:
                raise OSError(errno.EAGAIN, f"{self.limit} passthrough commands in flight")
            delay(BUFFER_WAIT_S)
        if self.free:
            return self.free.pop()
        self.made += 1
        return transfer_buffer(self.ctrl.alloc, self.max_transfer)

    def run(self, cmd: PassthruCmd, *, admin: bool, data: bytes) -> tuple[PassthruResult, bytes]:
        """Submit `cmd` (checked already) with `data` for a write; the result and the data
        read.  An error status is a result; a lost command is NvmeError (its buffer is
        given up)."""
        buffer = self._take()
        result = self._run(buffer, cmd, admin=admin, data=data)  # NvmeError: buffer lost
        self.free.append(buffer)
        return result

    def _run(
        self, buffer: Buffer, cmd: PassthruCmd, *, admin: bool, data: bytes
    ) -> tuple[PassthruResult, bytes]:
        buf, prp_list = buffer
        # PRP1 always points into the buffer: a command whose data the caller left out
        # (Get Features of a feature with a data structure) lands there, not at address 0.
        # Pages the controller writes are zeroed first (it may write less than data_len),
        # so no stale bytes of an earlier command reach a caller.
        if cmd.direction == DataDir.TO_DEVICE:
            buf.write(0, bytes(data[: cmd.data_len]))
        elif cmd.direction == DataDir.FROM_DEVICE:
            buf.write(0, bytes(pages(cmd.data_len) * HOST_PAGE))
        prp1, prp2 = prps(buf, prp_list, cmd.data_len)
        sqe = Command(
            cmd.opcode,
            nsid=cmd.nsid,
            cdw2=cmd.cdw2,
            cdw3=cmd.cdw3,
            prp1=prp1,
            prp2=prp2,
            cdw10=cmd.cdw10,
            cdw11=cmd.cdw11,
            cdw12=cmd.cdw12,
            cdw13=cmd.cdw13,
            cdw14=cmd.cdw14,
            cdw15=cmd.cdw15,
        )
        queue = self.ctrl.admin if admin else self.ctrl.io
        if queue is None:
            raise NvmeError("queues are not set up")
        what = f"passthrough {'admin' if admin else 'I/O'} opcode {cmd.opcode:#04x}"
        cqe = queue.execute(sqe, what)
        status = cqe.status >> 1
        back = b""
        if cmd.direction == DataDir.FROM_DEVICE:
            back = buf.read(0, cmd.data_len)
        return PassthruResult(status, cqe.dw0, len(back)), back

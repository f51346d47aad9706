"""The controller node ``/dev/nvme<c>``: a character device, as on Linux (``crw-------``).

It serves no reads or writes (EINVAL, as Linux's nvme character device has
none); its devctls are the admin and I/O passthrough of
:mod:`qrv.spec.nvmectl`, for root only (EPERM otherwise, whatever the fd's
access).  The driver checks and runs the commands (:class:`PassthruDevice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from qrv.lib.c.iofunc import (
    IofuncAttr,
    IofuncOcb,
    devctl_reply,
    iofunc_attr_init,
    iofunc_devctl_default,
    iofunc_func_init,
)
from qrv.lib.c.msg import IoDevctl, IoRead, IoWrite
from qrv.lib.c.resmgr import HandlerResult, ResmgrConnectFuncs, ResmgrContext, ResmgrIoFuncs
from qrv.spec.iomsg import EINVAL, EPERM, S_IFCHR
from qrv.spec.nvmectl import (
    DCMD_NVME_ADMIN_CMD,
    DCMD_NVME_IO_CMD,
    DataDir,
    PassthruCmd,
    PassthruResult,
)

CONTROLLER_MODE = S_IFCHR | 0o600  # crw------- root root, as Linux's /dev/nvme0


class PassthruDevice(Protocol):
    """What the handlers need of the driver; refusals and failures are OSError."""

    def passthrough(
        self, cmd: PassthruCmd, *, admin: bool, data: bytes
    ) -> tuple[PassthruResult, bytes]: ...


@dataclass(eq=False)
class ControllerAttr(IofuncAttr):
    """The controller node's attr: which controller (``/dev/nvme<index>``)."""

    index: int = 0


def make_controller_attr(index: int) -> ControllerAttr:
    attr = ControllerAttr(index=index)
    iofunc_attr_init(attr, CONTROLLER_MODE)
    return attr


class ControllerHandlers:
    """The connect and I/O tables of the controller node."""

    def __init__(self, device: PassthruDevice) -> None:
        self.device = device
        self.connect_funcs, self.io_funcs = self._tables()

    def _tables(self) -> tuple[ResmgrConnectFuncs, ResmgrIoFuncs]:
        connect, io = iofunc_func_init()
        io.read = self.read
        io.write = self.write
        io.devctl = self.devctl
        return connect, io

    def read(self, ctp: ResmgrContext, msg: IoRead, ocb: IofuncOcb) -> HandlerResult:
        del ctp, msg, ocb
        return EINVAL

    def write(self, ctp: ResmgrContext, msg: IoWrite, ocb: IofuncOcb) -> HandlerResult:
        del ctp, msg, ocb
        return EINVAL

    def devctl(self, ctp: ResmgrContext, msg: IoDevctl, ocb: IofuncOcb) -> HandlerResult:
        if msg.dcmd not in (DCMD_NVME_ADMIN_CMD, DCMD_NVME_IO_CMD):
            return iofunc_devctl_default(ctp, msg, ocb)
        if ctp.info is None or ctp.info.uid != 0:
            return EPERM
        cmd = PassthruCmd.unpack(msg.data)  # MessageError (EBADMSG, EINVAL) on a bad one
        data = msg.data[PassthruCmd.SIZE :]
        if cmd.direction == DataDir.TO_DEVICE and len(data) < cmd.data_len:
            return EINVAL
        result, back = self.device.passthrough(
            cmd, admin=msg.dcmd == DCMD_NVME_ADMIN_CMD, data=data[: cmd.data_len]
        )
        return devctl_reply(ctp, result.pack() + back, result.status)

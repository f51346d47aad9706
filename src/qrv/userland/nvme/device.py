"""The nvme command's way to a controller: a device name, then passthrough devctls.

``DEV`` is the controller node ``/dev/nvme<c>`` or a namespace node
``/dev/nvme<c>n<n>`` (then the namespace is ``n``); ``nvme0`` and ``nvme0n1``
without ``/dev/`` are accepted as nvme-cli does.  Every command goes through
``/dev/nvme<c>``'s passthrough (:mod:`qrv.spec.nvmectl`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qrv.lib.c import close, devctl, open
from qrv.spec.iomsg import O_RDWR
from qrv.spec.nvme import (
    IDENTIFY_DATA_SIZE,
    AdminOpcode,
    Cns,
    IdentifyController,
    IdentifyNamespace,
    LogField,
    Status,
)
from qrv.spec.nvmectl import (
    DCMD_NVME_ADMIN_CMD,
    DCMD_NVME_IO_CMD,
    PassthruCmd,
    PassthruResult,
    opcode_direction,
)

_NAME = re.compile(r"^(?:/dev/)?nvme(\d+)(?:n(\d+))?$")


class BadDevice(Exception):
    """DEV names no NVMe controller or namespace node."""


class CommandError(Exception):
    """The controller completed a command with an error status."""

    def __init__(self, status: int) -> None:
        decoded = Status.decode(status)
        super().__init__(f"NVMe status: {decoded.name}({status:#x})")
        self.status = status


@dataclass(frozen=True)
class Target:
    """A device argument: its controller index and namespace (None: the controller)."""

    name: str
    index: int
    nsid: int | None

    @property
    def controller(self) -> str:
        return f"/dev/nvme{self.index}"

    @property
    def short(self) -> str:
        """nvme-cli's device name in headings (``nvme0``)."""
        return self.name.removeprefix("/dev/")


def parse_target(name: str) -> Target:
    m = _NAME.match(name)
    if m is None:
        raise BadDevice(f"{name}: not an NVMe controller or namespace (/dev/nvmeX or /dev/nvmeXnY)")
    return Target(name, int(m.group(1)), int(m.group(2)) if m.group(2) else None)


class Controller:
    """An open controller node; use as a context manager."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.fd = open(target.controller, O_RDWR)

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        close(self.fd)

    def command(
        self, cmd: PassthruCmd, *, admin: bool = True, data: bytes = b"", check: bool = True
    ) -> tuple[PassthruResult, bytes]:
        """Run `cmd`; CommandError on an error status (unless `check` is False)."""
        dcmd = DCMD_NVME_ADMIN_CMD if admin else DCMD_NVME_IO_CMD
        request = cmd.pack() + data
        size = max(len(request), PassthruResult.SIZE + cmd.data_len)
        reply = devctl(self.fd, dcmd, request, size)
        result = PassthruResult.unpack(reply)
        if check and not result.ok:
            raise CommandError(result.status)
        return result, reply[PassthruResult.SIZE : PassthruResult.SIZE + result.data_len]

    def admin_in(self, opcode: int, size: int, **dwords: int) -> tuple[PassthruResult, bytes]:
        """An admin command that moves `size` bytes (or none) from the controller."""
        cmd = PassthruCmd(opcode, direction=opcode_direction(opcode), data_len=size, **dwords)
        return self.command(cmd)

    def identify(self, cns: Cns, nsid: int = 0) -> bytes:
        return self.admin_in(AdminOpcode.IDENTIFY, IDENTIFY_DATA_SIZE, nsid=nsid, cdw10=cns)[1]

    def id_ctrl(self) -> tuple[IdentifyController, bytes]:
        raw = self.identify(Cns.CONTROLLER)
        return IdentifyController.unpack(raw), raw

    def id_ns(self, nsid: int) -> IdentifyNamespace:
        return IdentifyNamespace.unpack(self.identify(Cns.NAMESPACE, nsid))

    def active_namespaces(self) -> list[int]:
        raw = self.identify(Cns.ACTIVE_NAMESPACES)
        ids = [int.from_bytes(raw[i : i + 4], "little") for i in range(0, len(raw), 4)]
        return ids[: ids.index(0)] if 0 in ids else ids

    def log_page(self, lid: int, size: int, nsid: int = 0) -> bytes:
        """Get Log Page (NVMe 1.4 §5.14.1): `size` bytes (a multiple of 4) of log `lid`."""
        numd = size // 4 - 1
        cdw10 = LogField.NUMDL.put(LogField.LID.put(0, lid), numd & 0xFFFF)
        cdw11 = LogField.NUMDU.put(0, numd >> 16)
        return self.admin_in(AdminOpcode.GET_LOG_PAGE, size, nsid=nsid, cdw10=cdw10, cdw11=cdw11)[1]

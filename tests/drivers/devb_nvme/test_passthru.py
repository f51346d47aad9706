"""The passthrough's policy (passthru.check, pure) and its runner against the NVMe model:
directions from opcode bits 1:0, lengths, the driver's own commands, busy namespaces."""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qrv.drivers.devb_nvme.blockdev import make_region
from qrv.drivers.devb_nvme.controller import Controller, Namespace
from qrv.drivers.devb_nvme.errors import ControllerTimeout
from qrv.drivers.devb_nvme.main import Driver, Options
from qrv.drivers.devb_nvme.passthru import Passthrough, Refused, check
from qrv.kernel import Kernel
from qrv.spec.nvme import (
    NSID_BROADCAST,
    AdminOpcode,
    Cns,
    GenericStatus,
    IdentifyController,
    LogPage,
    NvmOpcode,
    SmartLog,
    Status,
)
from qrv.spec.nvmectl import DataDir, PassthruCmd
from tests.drivers.devb_nvme.test_controller import bring_up
from tests.hw.nvme.conftest import Rig, build_rig, file_bytes, make_image
from tests.kernel.system import Console, sysk

MAX = 128 * 1024
__all__ = ["sysk"]


def refusal(cmd: PassthruCmd, *, admin: bool = True, **kw: Any) -> int | None:
    """The errno check gives `cmd` (None: it may be sent)."""
    args: dict[str, Any] = {
        "max_transfer": MAX,
        "active": [1, 2],
        "is_open": lambda nsid: False,
        "writable": True,
    }
    args.update(kw)
    try:
        check(cmd, admin=admin, **args)
    except Refused as exc:
        return exc.errno
    return None


IDENTIFY = PassthruCmd(
    AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=4096, cdw10=Cns.CONTROLLER
)


def test_well_formed_commands_pass() -> None:
    assert refusal(IDENTIFY) is None
    assert refusal(PassthruCmd(AdminOpcode.GET_FEATURES, cdw10=6)) is None  # no data: allowed
    read = PassthruCmd(
        NvmOpcode.READ, nsid=1, direction=DataDir.FROM_DEVICE, data_len=4096, cdw12=7
    )
    assert refusal(read, admin=False) is None
    assert refusal(PassthruCmd(NvmOpcode.FLUSH, nsid=NSID_BROADCAST), admin=False) is None


@pytest.mark.parametrize(
    "cmd",
    [
        PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.TO_DEVICE, data_len=4096),
        PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.NONE, data_len=4096),
        PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=0),
        PassthruCmd(AdminOpcode.FORMAT_NVM, direction=DataDir.FROM_DEVICE, data_len=512),
        PassthruCmd(0x03, direction=DataDir.BIDIRECTIONAL, data_len=512),
        PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=MAX + 1),
        PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=4096, flags=1),
        # Get Log Page asking for 3 pages into a 1-page buffer
        PassthruCmd(
            AdminOpcode.GET_LOG_PAGE,
            direction=DataDir.FROM_DEVICE,
            data_len=512,
            cdw10=LogPage.SMART_HEALTH | ((3 * 1024 - 1) << 16),
        ),
    ],
)
def test_direction_and_length_errors_are_einval(cmd: PassthruCmd) -> None:
    assert refusal(cmd) == errno.EINVAL


def test_io_commands_need_one_namespace_and_a_buffer_for_their_blocks() -> None:
    assert refusal(PassthruCmd(NvmOpcode.READ, nsid=0), admin=False) == errno.EINVAL
    assert refusal(PassthruCmd(NvmOpcode.READ, nsid=NSID_BROADCAST), admin=False) == errno.EINVAL
    eight_blocks = PassthruCmd(
        NvmOpcode.READ, nsid=1, direction=DataDir.FROM_DEVICE, data_len=4096, cdw12=7
    )
    assert refusal(eight_blocks, admin=False, lba_size=4096) == errno.EINVAL  # 32 KiB > 4 KiB


@pytest.mark.parametrize(
    "opcode",
    [
        AdminOpcode.CREATE_IO_SQ,
        AdminOpcode.DELETE_IO_SQ,
        AdminOpcode.CREATE_IO_CQ,
        AdminOpcode.DELETE_IO_CQ,
        AdminOpcode.ABORT,
        AdminOpcode.ASYNC_EVENT_REQUEST,
        AdminOpcode.DOORBELL_BUFFER_CONFIG,
    ],
)
def test_queue_management_belongs_to_the_driver(opcode: int) -> None:
    data = 0 if opcode & 3 == 0 else 4096
    cmd = PassthruCmd(opcode, direction=opcode & 3 if data else 0, data_len=data)
    assert refusal(cmd) == errno.EPERM


def test_destructive_commands_wait_for_their_namespaces_to_close() -> None:
    fmt1 = PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=1)
    one_open: Callable[[int], bool] = lambda nsid: nsid == 1  # noqa: E731
    two_open: Callable[[int], bool] = lambda nsid: nsid == 2  # noqa: E731
    assert refusal(fmt1, is_open=one_open) == errno.EBUSY
    assert refusal(fmt1, is_open=two_open) is None  # another namespace's node is open
    every = PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=NSID_BROADCAST)
    assert refusal(every, is_open=two_open) == errno.EBUSY
    sanitize = PassthruCmd(AdminOpcode.SANITIZE, nsid=1)  # the whole controller, any NSID
    assert refusal(sanitize, is_open=two_open) == errno.EBUSY
    commit = PassthruCmd(AdminOpcode.FIRMWARE_COMMIT)
    assert refusal(commit, is_open=one_open) == errno.EBUSY
    detach = PassthruCmd(AdminOpcode.NAMESPACE_ATTACHMENT, nsid=2, direction=1, data_len=4096)
    assert refusal(detach, is_open=two_open) == errno.EBUSY


def test_a_read_only_driver_refuses_what_changes_the_medium() -> None:
    write = PassthruCmd(NvmOpcode.WRITE, nsid=1, direction=DataDir.TO_DEVICE, data_len=512)
    assert refusal(write, admin=False, writable=False) == errno.EROFS
    zeroes = PassthruCmd(NvmOpcode.WRITE_ZEROES, nsid=1)
    assert refusal(zeroes, admin=False, writable=False) == errno.EROFS
    assert refusal(PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=1), writable=False) == errno.EROFS
    assert refusal(IDENTIFY, writable=False) is None


# -- the runner against the model --------------------------------------------------------


@pytest.fixture
def ctrl(tmp_path: Path) -> Iterator[tuple[Rig, Controller]]:
    rig = build_rig(make_image(tmp_path / "img.img"))
    c = bring_up(rig)
    c.identify_controller()
    c.create_io_queues()
    yield rig, c
    rig.ctrl.close()


def test_identify_and_smart_log_through_the_runner(ctrl: tuple[Rig, Controller]) -> None:
    _, c = ctrl
    runner = Passthrough(c)
    result, data = runner.run(IDENTIFY, admin=True, data=b"")
    assert result.ok and result.data_len == len(data) == 4096
    assert IdentifyController.unpack(data).sn == "qrv-test"
    numd = SmartLog.SIZE // 4 - 1
    smart = PassthruCmd(
        AdminOpcode.GET_LOG_PAGE,
        nsid=NSID_BROADCAST,
        direction=DataDir.FROM_DEVICE,
        data_len=SmartLog.SIZE,
        cdw10=LogPage.SMART_HEALTH | numd << 16,
    )
    result, data = runner.run(smart, admin=True, data=b"")
    assert result.ok and SmartLog.unpack(data).composite_temperature > 273


def blocks_cmd(opcode: NvmOpcode, lba: int, blocks: int) -> PassthruCmd:
    way = DataDir.FROM_DEVICE if opcode == NvmOpcode.READ else DataDir.TO_DEVICE
    return PassthruCmd(
        opcode, nsid=1, direction=way, data_len=blocks * 512, cdw10=lba, cdw12=blocks - 1
    )


@pytest.mark.parametrize("blocks", [1, 8, 9, 17])  # PRP1, PRP2, a PRP list
def test_io_reads_and_writes_through_the_runner(ctrl: tuple[Rig, Controller], blocks: int) -> None:
    rig, c = ctrl
    runner = Passthrough(c)
    result, data = runner.run(blocks_cmd(NvmOpcode.READ, 3, blocks), admin=False, data=b"")
    assert result.ok and data == file_bytes(rig.image, 3 * 512, blocks * 512)
    payload = bytes(range(256)) * (blocks * 2)
    assert runner.run(blocks_cmd(NvmOpcode.WRITE, 40, blocks), admin=False, data=payload)[0].ok
    back = runner.run(blocks_cmd(NvmOpcode.READ, 40, blocks), admin=False, data=b"")[1]
    assert back == payload


def test_an_error_status_is_a_result_not_an_exception(ctrl: tuple[Rig, Controller]) -> None:
    _, c = ctrl
    result, data = Passthrough(c).run(PassthruCmd(0x7F), admin=True, data=b"")  # no such opcode
    assert not result.ok and data == b""
    assert Status.decode(result.status).sc == GenericStatus.INVALID_OPCODE


def test_rescan_drops_the_nodes_of_a_namespace_no_longer_active(
    ctrl: tuple[Rig, Controller], sysk: tuple[Kernel, Console]
) -> None:
    """A namespace detached or deleted (neither the model nor QEMU 7.2 without a subsystem
    has Namespace Management): the driver, in a process of its own, drops its nodes."""
    _, c = ctrl
    k, console = sysk
    with k.adopt("devb-nvme"):
        driver = Driver(Options())
        driver.ctrl = c
        driver.plan_paths([c.identify_namespace(1)])
        gone = make_region(Namespace(2, 100, 512), 0, 100)
        driver.regions.append(("/dev/nvme0n2", gone))
        driver.rescan([1, 2])
    assert [path for path, _ in driver.regions] == ["/dev/nvme0n1"]  # the image has no GPT
    log = console.stderr.getvalue().decode()
    assert "devb-nvme: ns 2 is gone: 1 node(s) removed" in log
    assert "nvme: ns 1  size=8192 LBAs  lba=512 B (re-identified)" in log


def test_no_stale_bytes_of_an_earlier_command_reach_a_caller(
    ctrl: tuple[Rig, Controller],
) -> None:
    """The firmware slot log is 512 bytes; asked for 4096 the controller moves 512 (as
    QEMU's nvme_get_log): the rest of the page, which Identify filled just before, reads 0."""
    _, c = ctrl
    runner = Passthrough(c)
    ident = runner.run(IDENTIFY, admin=True, data=b"")[1]
    assert ident[768:800] != bytes(32)  # SUBNQN: non-zero bytes beyond 512 in the buffer
    fw = PassthruCmd(
        AdminOpcode.GET_LOG_PAGE,
        direction=DataDir.FROM_DEVICE,
        data_len=4096,
        cdw10=LogPage.FIRMWARE_SLOT | (1023 << 16),
    )
    result, data = runner.run(fw, admin=True, data=b"")
    assert result.ok and len(data) == 4096
    assert data[8:16].rstrip(b" ") == b"0.24.0"  # FRS1
    assert data[512:] == bytes(4096 - 512)


def test_a_command_that_never_completes_gives_up_its_buffer(tmp_path: Path) -> None:
    """The controller may still write into a timed-out command's buffer: never reused."""
    rig = build_rig(make_image(tmp_path / "img.img"))
    try:
        c = bring_up(rig, timeout_s=0.2)
        runner = Passthrough(c)
        assert runner.run(IDENTIFY, admin=True, data=b"")[0].ok
        used = runner.free[0]
        rig.ctrl.faults.swallow = True
        with pytest.raises(ControllerTimeout):
            runner.run(IDENTIFY, admin=True, data=b"")
        assert (runner.free, runner.made) == ([], 1)  # the one buffer went with the command
        assert used not in runner.free
    finally:
        rig.ctrl.close()


def test_passthrough_buffers_are_bounded(ctrl: tuple[Rig, Controller]) -> None:
    _, c = ctrl
    runner = Passthrough(c, limit=2, wait_s=0.05)
    held = [runner._take(), runner._take()]  # two commands in flight: the third waits, then
    with pytest.raises(OSError) as ei:
        runner.run(IDENTIFY, admin=True, data=b"")
    assert ei.value.errno == errno.EAGAIN
    runner.free.append(held.pop())  # one completes: its buffer serves the next
    assert runner.run(IDENTIFY, admin=True, data=b"")[0].ok and runner.made == 2

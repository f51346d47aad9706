"""The in-system nvme command on the booted built-in board: nvme-cli's commands, labels and
JSON keys, values checked against what the model was built with (its NvmeConfig, the
image's size, devb-nvme's boot log), usage errors, and the passthrough's refusals."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrv.emu import BuiltinMachine
from qrv.hw.nvme import Faults
from qrv.hw.nvme.state import NvmeConfig
from qrv.lib.c.posix import _connect, close, devctl, open, pread
from qrv.spec.iomsg import O_RDONLY, O_RDWR, ConnectSubtype
from qrv.spec.nvme import (
    AdminOpcode,
    Cns,
    FirmwareSlotLog,
    IdentifyController,
    IdentifyNamespace,
    LogPage,
    NvmOpcode,
    SmartLog,
)
from qrv.spec.nvmectl import DCMD_NVME_ADMIN_CMD, DCMD_NVME_IO_CMD, DataDir, PassthruCmd
from qrv.tools.mkfs import make_filesystem
from qrv.tools.mkgpt import create_seed_image
from qrv.userland import nvme
from tests.lib.c.rawmsg import slow
from tests.system.stack import Stack, booted, image_bytes
from tests.system.test_shapes import qemu

CONFIG = NvmeConfig()
SEED_LBAS = (64 << 20) // 512
IDENTIFY = PassthruCmd(
    AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=4096, cdw10=Cns.CONTROLLER
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    image = tmp_path_factory.mktemp("nvme") / "seed.img"
    create_seed_image(image)
    with booted(BuiltinMachine(image)) as st:
        yield st


@pytest.fixture
def rw(tmp_path: Path) -> Iterator[Stack]:
    image = tmp_path / "seed.img"
    create_seed_image(image)
    with booted(BuiltinMachine(image, writable=True), writable=True) as st:
        yield st


def ok(st: Stack, line: str) -> str:
    status, out, err = st.sh(line)
    assert (status, err) == (0, ""), line
    return out.decode()


def js(st: Stack, line: str) -> Any:
    return json.loads(ok(st, line + " -o json"))


def test_id_ctrl_json_keys_and_values(stack: Stack) -> None:
    ident = js(stack, "nvme id-ctrl /dev/nvme0")
    assert list(ident)[:6] == ["vid", "ssvid", "sn", "mn", "fr", "rab"]
    assert (ident["vid"], ident["sn"], ident["mn"], ident["fr"]) == (
        0x1B36,
        CONFIG.serial,
        CONFIG.model,
        CONFIG.firmware,
    )
    assert (ident["mdts"], ident["nn"], ident["ieee"]) == (CONFIG.mdts, 256, 0x525400)
    assert ident["psds"][0]["max_power"] > 0 and len(ident["psds"]) == ident["npss"] + 1
    # devb-nvme read the same structure at boot
    assert f"  Model:    {ident['mn']}" in stack.log
    assert f"  Serial:   {ident['sn']}" in stack.log


def test_binary_output_is_the_structure_itself(stack: Stack) -> None:
    status, raw, err = stack.sh("nvme id-ctrl /dev/nvme0 -o binary")
    assert (status, err, len(raw)) == (0, "", 4096)
    ident = IdentifyController.unpack(raw)
    assert (ident.sn, ident.mn, ident.nn) == (CONFIG.serial, CONFIG.model, 256)
    status, raw, _ = stack.sh("nvme id-ns /dev/nvme0n1 -o binary")
    assert IdentifyNamespace.unpack(raw).nsze == SEED_LBAS
    status, raw, _ = stack.sh("nvme smart-log /dev/nvme0 -o binary")
    assert len(raw) == SmartLog.SIZE and SmartLog.unpack(raw).composite_temperature > 273
    status, out, _ = stack.sh("nvme fw-log /dev/nvme0 --output-format=binary | hexdump -C")
    assert status == 0 and out.decode().splitlines()[0].startswith("00000000  01 00 00")


def test_id_ctrl_human_output_uses_nvme_cli_labels(stack: Stack) -> None:
    lines = ok(stack, "nvme id-ctrl /dev/nvme0").splitlines()
    assert lines[0] == "NVME Identify Controller:"
    for want in (
        "vid       : 0x1b36",
        "ssvid     : 0x1af4",
        f"sn        : {CONFIG.serial}",
        f"mdts      : {CONFIG.mdts}",
        "cmic      : 0",  # C's %#x of 0 has no 0x
        "ver       : 0x10400",
        "nn        : 256",
    ):
        assert want in lines
    assert lines[-3].startswith("ps    0 : mp:")


def test_id_ns_by_namespace_node_or_nsid(stack: Stack) -> None:
    by_node = ok(stack, "nvme id-ns /dev/nvme0n1")
    assert by_node == ok(stack, "nvme id-ns /dev/nvme0 -n 1")
    assert by_node.splitlines()[:2] == ["NVME Identify Namespace 1:", f"nsze    : {SEED_LBAS:#x}"]
    assert "lbaf  0 : ms:0   lbads:9  rp:0 (in use)" in by_node
    ns = js(stack, "nvme id-ns /dev/nvme0n1")
    assert (ns["nsze"], ns["ncap"]) == (SEED_LBAS, SEED_LBAS)
    assert [f["ds"] for f in ns["lbafs"] if f["in_use"]] == [9]


def test_list_shows_the_namespace_node(stack: Stack) -> None:
    devices = js(stack, "nvme list")["Devices"]
    assert devices == [
        {
            "NameSpace": 1,
            "DevicePath": "/dev/nvme0n1",
            "Firmware": CONFIG.firmware,
            "Index": 0,
            "ModelNumber": CONFIG.model,
            "SerialNumber": CONFIG.serial,
            "UsedBytes": SEED_LBAS * 512,
            "MaximumLBA": SEED_LBAS,
            "PhysicalSize": SEED_LBAS * 512,
            "SectorSize": 512,
        }
    ]
    lines = ok(stack, "nvme list").splitlines()
    assert lines[0].split() == ["Node", "SN", "Model", "Namespace", "Usage", "Format", "FW", "Rev"]
    assert lines[2].startswith(f"/dev/nvme0n1     {CONFIG.serial:<20} {CONFIG.model:<40} 1  ")
    assert " 67.11  MB /  67.11  MB " in lines[2] and "512   B +  0 B" in lines[2]


def test_smart_log_counts_the_reads(stack: Stack) -> None:
    before = js(stack, "nvme smart-log /dev/nvme0")
    assert before["critical_warning"] == 0 and before["temperature"] > 273
    ok(stack, "cat /dev/nvme0n1p1 > /dev/null")  # 16 MiB: 32768 blocks of 512 B
    after = js(stack, "nvme smart-log /dev/nvme0")
    # units of 1000 blocks, rounded up (NVMe 1.4 Figure 196): 32768 blocks add 32 or 33
    assert 32 <= after["data_units_read"] - before["data_units_read"] <= 33
    assert after["host_read_commands"] > before["host_read_commands"]
    text = ok(stack, "nvme smart-log /dev/nvme0")
    assert text.splitlines()[0] == "Smart Log for NVME device:nvme0 namespace-id:ffffffff"
    assert f"Data Units Read                         : {after['data_units_read']:,}" in text
    kelvin = after["temperature"]
    assert f"{'temperature':<40}: {kelvin - 273} °C ({kelvin} K)" in text.splitlines()


def test_error_log_records_a_failed_command(stack: Stack) -> None:
    status, _, err = stack.sh("nvme get-feature /dev/nvme0 -f 0x55")  # no such feature
    assert status == 1
    assert err == "nvme: get-feature: NVMe status: GENERIC/INVALID_FIELD(0x4002)\n"
    errors = js(stack, "nvme error-log /dev/nvme0 -e 1")["errors"]
    assert len(errors) == 1
    assert errors[0]["error_count"] >= 1 and errors[0]["status_field"] == 0x4002
    assert errors[0]["sqid"] == 0  # the admin queue


def test_fw_log(stack: Stack) -> None:
    fw = js(stack, "nvme fw-log /dev/nvme0")["nvme0"]
    assert fw["Active Firmware Slot (afi)"] == 1
    assert fw["Firmware Rev Slot 1"].endswith(f" ({CONFIG.firmware})")
    lines = ok(stack, "nvme fw-log /dev/nvme0").splitlines()
    assert lines[:2] == ["Firmware Log for device:nvme0", "afi  : 0x1"]
    assert lines[2].startswith("frs1 : 0x") and lines[2].endswith(f" ({CONFIG.firmware})")


def test_set_feature_changes_what_get_feature_reads(stack: Stack) -> None:
    assert ok(stack, "nvme get-feature /dev/nvme0 -f 6") == (
        "get-feature:0x06 (Volatile Write Cache), Current value:0x00000001\n"
    )
    assert ok(stack, "nvme set-feature /dev/nvme0 -f 6 -v 0") == (
        "set-feature:0x06 (Volatile Write Cache), value:00000000, cdw12:00000000, save:0\n"
    )
    assert js(stack, "nvme get-feature /dev/nvme0 -f 6")["value"] == 0
    ok(stack, "nvme set-feature /dev/nvme0 --feature-id=6 --value=1")
    assert js(stack, "nvme get-feature /dev/nvme0 -f 6")["value"] == 1
    caps = js(stack, "nvme get-feature /dev/nvme0 -f 6 -s 3")
    assert caps["sel"] == "Supported capabilities" and "changeable" in caps["capabilities"]


def test_flush(stack: Stack) -> None:
    assert ok(stack, "nvme flush /dev/nvme0n1") == "NVMe Flush: success\n"
    assert ok(stack, "nvme flush /dev/nvme0") == "NVMe Flush: success\n"  # every namespace


@pytest.mark.parametrize(
    ("line", "problem", "usage"),
    [
        ("nvme", None, "usage: nvme COMMAND"),
        ("nvme --help", None, "usage: nvme COMMAND"),
        ("nvme frobnicate", "unknown command 'frobnicate'", "usage: nvme COMMAND"),
        ("nvme id-ctrl", "one device is needed", "usage: nvme id-ctrl DEV"),
        ("nvme id-ctrl /dev/nvme0 -x", "unknown option '-x'", "usage: nvme id-ctrl DEV"),
        ("nvme id-ctrl /dev/nvme0 --bogus", "unknown option '--bogus'", "usage: nvme id-ctrl"),
        ("nvme id-ctrl /dev/nvme0 -o xml", "bad output format 'xml'", "usage: nvme id-ctrl"),
        ("nvme id-ctrl /dev/nvme0 -o", "option '-o' needs a value", "usage: nvme id-ctrl"),
        ("nvme id-ctrl /dev/sda", "/dev/sda: not an NVMe", "usage: nvme id-ctrl"),
        ("nvme id-ctrl /dev/nvme0 extra", "unknown argument 'extra'", "usage: nvme id-ctrl"),
        ("nvme id-ns /dev/nvme0", "--namespace-id is required", "usage: nvme id-ns"),
        ("nvme id-ns /dev/nvme0 -n x", "bad --namespace-id 'x'", "usage: nvme id-ns"),
        ("nvme get-feature /dev/nvme0", "--feature-id is required", "usage: nvme get-feature"),
        ("nvme get-feature /dev/nvme0 -f 256", "--feature-id '256' out", "usage: nvme get-f"),
        ("nvme get-feature /dev/nvme0 -f 6 -s 4", "--sel '4' out of range", "usage: nvme get"),
        ("nvme set-feature /dev/nvme0 -f 6", "--value is required", "usage: nvme set-feature"),
        ("nvme error-log /dev/nvme0 -e 0", "--log-entries must be", "usage: nvme error-log"),
        ("nvme list /dev/nvme0", "unknown argument '/dev/nvme0'", "usage: nvme list"),
        ("nvme list -o binary", "this command has no binary output", "usage: nvme list"),
        ("nvme smart-log --help", None, "usage: nvme smart-log DEV"),
    ],
)
def test_bad_options_print_the_usage_and_exit_2(
    stack: Stack, line: str, problem: str | None, usage: str
) -> None:
    status, out, err = stack.sh(line)
    assert (status, out) == (2, b"")
    lines = err.splitlines()
    assert lines[-1].startswith(usage)
    assert len(lines) == (1 if problem is None else 2)
    if problem is not None:
        assert lines[0].startswith(f"nvme: {problem}")


def test_a_missing_controller_is_one_line_and_status_1(stack: Stack) -> None:
    status, out, err = stack.sh("nvme id-ctrl /dev/nvme7")
    assert (status, out, err) == (1, b"", "nvme: id-ctrl: /dev/nvme7: No such file or directory\n")


# -- the controller node and its passthrough -------------------------------------------


def run_as_user(st: Stack, argv: list[str]) -> tuple[int, str]:
    err_start = len(st.stderr.getvalue())
    with st.kernel.adopt("user", uid=100, gid=100):
        status = nvme.main(argv)
    return status, st.stderr.getvalue()[err_start:].decode()


def test_only_root_reaches_the_controller(stack: Stack) -> None:
    status, err = run_as_user(stack, ["nvme", "id-ctrl", "/dev/nvme0"])
    assert (status, err) == (1, "nvme: id-ctrl: /dev/nvme0: Permission denied\n")
    with stack.kernel.adopt("user", uid=100, gid=100):
        with pytest.raises(OSError) as ei:
            open("/dev/nvme0", O_RDONLY)
        assert ei.value.errno == errno.EACCES
        fd = _connect("/dev/nvme0", 0, 0, ConnectSubtype.OPEN)  # no access asked: allowed
        try:
            with pytest.raises(OSError) as ei:
                devctl(fd, DCMD_NVME_ADMIN_CMD, IDENTIFY.pack(), 4096 + 16)
            assert ei.value.errno == errno.EPERM  # the devctl itself is root's
        finally:
            close(fd)


def passthrough_errno(cmd: PassthruCmd, *, admin: bool = True) -> int:
    """The errno of `cmd`'s devctl (from inside an adopted process)."""
    fd = open("/dev/nvme0", O_RDWR)
    try:
        dcmd = DCMD_NVME_ADMIN_CMD if admin else DCMD_NVME_IO_CMD
        with pytest.raises(OSError) as ei:
            devctl(fd, dcmd, cmd.pack() + bytes(cmd.data_len), 64 + cmd.data_len)
        return ei.value.errno or 0
    finally:
        close(fd)


def test_the_passthrough_refuses_what_belongs_to_the_driver(stack: Stack) -> None:
    create = PassthruCmd(AdminOpcode.CREATE_IO_SQ, direction=DataDir.TO_DEVICE, data_len=4096)
    bad_dir = PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.TO_DEVICE, data_len=4096)
    too_big = PassthruCmd(AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=4 << 20)
    write = PassthruCmd(NvmOpcode.WRITE, nsid=1, direction=DataDir.TO_DEVICE, data_len=512)
    with stack.kernel.adopt("root-client"):
        assert passthrough_errno(create) == errno.EPERM
        assert passthrough_errno(bad_dir) == errno.EINVAL
        assert passthrough_errno(too_big) == errno.EINVAL
        assert passthrough_errno(write, admin=False) == errno.EROFS  # devb-nvme without rw
        fd = open("/dev/nvme0", O_RDWR)
        try:
            with pytest.raises(OSError) as ei:  # the header alone, no data: EBADMSG
                devctl(fd, DCMD_NVME_ADMIN_CMD, write.pack()[:20], 64)
            assert ei.value.errno == errno.EBADMSG
        finally:
            close(fd)


def test_format_waits_for_the_namespace_to_close(rw: Stack) -> None:
    fmt = PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=1)
    with rw.kernel.adopt("root-client"):
        held = open("/dev/nvme0n1p1", O_RDONLY)  # a partition of namespace 1 is open
        try:
            assert passthrough_errno(fmt) == errno.EBUSY
        finally:
            close(held)
        # closed: the command reaches the controller (the model has no Format NVM)
        fd = open("/dev/nvme0", O_RDWR)
        try:
            reply = devctl(fd, DCMD_NVME_ADMIN_CMD, fmt.pack(), 64)
        finally:
            close(fd)
    assert int.from_bytes(reply[:2], "little") & 0xFF == 0x01  # Invalid Command Opcode


# -- whatever a root client sends, devb-nvme answers and lives on -------------------------

U32 = st.integers(0, 0xFFFF_FFFF)
ANY_CMD = st.builds(
    PassthruCmd,
    opcode=st.integers(0, 0xFF),
    nsid=st.sampled_from([0, 1, 2, 0xFFFF_FFFF]) | U32,
    direction=st.sampled_from(list(DataDir)),
    data_len=st.sampled_from([0, 4, 512, 4096, 8192, 1 << 20, 1 << 24]) | U32,
    cdw10=U32,
    cdw11=U32,
    cdw12=st.integers(0, 0xFFFF),
    cdw13=U32,
    flags=st.sampled_from([0, 0, 0, 1, 0x40]),
)
PASSTHRU_ERRNOS = {errno.EINVAL, errno.EBADMSG, errno.EPERM, errno.EROFS, errno.EBUSY}


def send_any(cmd: PassthruCmd, admin: bool, cut: int | None) -> None:
    fd = open("/dev/nvme0", O_RDWR)
    try:
        raw = cmd.pack() + bytes(min(cmd.data_len, 8192))
        dcmd = DCMD_NVME_ADMIN_CMD if admin else DCMD_NVME_IO_CMD
        try:
            reply = devctl(fd, dcmd, raw[:cut], 64 + min(cmd.data_len, 1 << 20))
        except OSError as exc:
            assert exc.errno in PASSTHRU_ERRNOS, (cmd, exc)
        else:
            assert len(reply) >= 12
    finally:
        close(fd)


def check_fuzz(st_: Stack, cmd: PassthruCmd, admin: bool, cut: int | None) -> None:
    with st_.kernel.adopt("fuzz"):
        send_any(cmd, admin, cut)
    assert st_.driver_status() is None  # devb-nvme still runs


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ANY_CMD, st.booleans(), st.none() | st.integers(0, 60))
def test_any_passthrough_gets_an_answer(
    fuzzed: Stack, cmd: PassthruCmd, admin: bool, cut: int | None
) -> None:
    check_fuzz(fuzzed, cmd, admin, cut)


@slow
@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ANY_CMD, st.booleans(), st.none() | st.integers(0, 60))
def test_any_passthrough_gets_an_answer_many(
    fuzzed: Stack, cmd: PassthruCmd, admin: bool, cut: int | None
) -> None:
    check_fuzz(fuzzed, cmd, admin, cut)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: random Set Features change what the other tests read."""
    image = tmp_path_factory.mktemp("fuzz") / "seed.img"
    create_seed_image(image)
    with booted(BuiltinMachine(image)) as st_:
        yield st_
    # afterwards the controller still answers the nvme command


def test_after_the_fuzzing_the_controller_still_answers(fuzzed: Stack) -> None:
    ident = js(fuzzed, "nvme id-ctrl /dev/nvme0")
    assert ident["sn"] == CONFIG.serial
    assert ok(fuzzed, "cat /dev/nvme0n1p1 | wc -c").split() == [str(16 << 20)]


def test_format_is_refused_while_a_partition_is_mounted(tmp_path: Path) -> None:
    image = tmp_path / "seed.img"
    create_seed_image(image)
    make_filesystem(image, partition=1)
    fmt = PassthruCmd(AdminOpcode.FORMAT_NVM, nsid=1)
    sanitize = PassthruCmd(AdminOpcode.SANITIZE, cdw10=1)  # whatever NSID: every namespace
    with booted(BuiltinMachine(image, writable=True), writable=True) as st_:
        ok(st_, "mount /dev/nvme0n1p1 /mnt")
        with st_.kernel.adopt("root-client"):
            assert passthrough_errno(fmt) == errno.EBUSY
            assert passthrough_errno(sanitize) == errno.EBUSY
        ok(st_, "umount /mnt")
        with st_.kernel.adopt("root-client"):
            fd = open("/dev/nvme0", O_RDWR)
            try:
                reply = devctl(fd, DCMD_NVME_ADMIN_CMD, fmt.pack(), 64)
            finally:
                close(fd)
        assert int.from_bytes(reply[:2], "little") & 0xFF == 0x01  # the model: no Format NVM


@pytest.mark.parametrize("machine", ["builtin", pytest.param("qemu", marks=pytest.mark.qemu)])
def test_passthroughs_from_many_clients_at_once(tmp_path: Path, machine: str) -> None:
    """Twelve clients (more than the passthrough's four buffers, fewer than devb-nvme's
    sixteen threads) each send Identify and Get Log Page while reading p1, with the model
    completing bursts out of order, and on QEMU (whose commands complete while others
    wait): every client gets its own command's data."""
    image = tmp_path / "seed.img"
    create_seed_image(image)
    p1 = image_bytes(image, 34 * 512, 64 * 1024)
    fw = PassthruCmd(
        AdminOpcode.GET_LOG_PAGE,
        direction=DataDir.FROM_DEVICE,
        data_len=512,
        cdw10=LogPage.FIRMWARE_SLOT | (127 << 16),
    )
    bad: list[str] = []
    want: dict[str, bytes] = {}

    def client(argv: list[str]) -> int:
        ctrl, node = open("/dev/nvme0", O_RDWR), open("/dev/nvme0n1p1", O_RDONLY)
        try:
            for round_ in range(6):
                if devctl(ctrl, DCMD_NVME_ADMIN_CMD, IDENTIFY.pack(), 12 + 4096) != want["id"]:
                    bad.append(f"{argv[1]}: identify {round_}")
                if devctl(ctrl, DCMD_NVME_ADMIN_CMD, fw.pack(), 12 + 512) != want["fw"]:
                    bad.append(f"{argv[1]}: fw log {round_}")
                if pread(node, 64 * 1024, 0) != p1:
                    bad.append(f"{argv[1]}: read {round_}")
        finally:
            close(ctrl)
            close(node)
        return 0

    board = machine == "builtin"
    m = BuiltinMachine(image, faults=Faults(reorder_seed=5)) if board else qemu(image)
    with booted(m) as st_:
        with st_.kernel.adopt("alone"):  # what one client at a time gets
            fd = open("/dev/nvme0", O_RDWR)
            want["id"] = devctl(fd, DCMD_NVME_ADMIN_CMD, IDENTIFY.pack(), 12 + 4096)
            want["fw"] = devctl(fd, DCMD_NVME_ADMIN_CMD, fw.pack(), 12 + 512)
            close(fd)
        assert IdentifyController.unpack(want["id"][12:]).sn == CONFIG.serial
        assert FirmwareSlotLog.unpack(want["fw"][12:]).afi == 1
        pids = [st_.kernel.spawn(client, ["client", str(i)]) for i in range(12)]
        assert [st_.kernel.waitpid(pid, timeout=120) for pid in pids] == [0] * 12
        assert st_.driver_status() is None
    assert bad == []

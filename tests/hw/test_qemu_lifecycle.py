"""Starting, failing and reaping QEMU: every path ends with QEMU gone and no hang."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from qrv.errors import MachineError
from qrv.hw.qemu import QemuMachine
from tests.conftest import require_tool

MiB = 1 << 20
DATA = Path(__file__).resolve().parents[1] / "data"
REPO_SRC = Path(__file__).resolve().parents[2] / "src"


def gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return gone(pid)


@pytest.fixture
def qemu() -> str:
    return require_tool("qemu-system-riscv64", "qemu-system-misc")


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "nvme.img"
    path.write_bytes(bytes(MiB))
    return path


# -- start-up failures (no QEMU needed) ----------------------------------------------------


def test_missing_binary_is_one_line_naming_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(MachineError) as info:
        QemuMachine(None, qemu_binary=str(tmp_path / "qemu-system-riscv64"))
    message = str(info.value)
    assert message == (
        f"{tmp_path / 'qemu-system-riscv64'} not found: install the Debian package qemu-system-misc"
    )
    assert "\n" not in message


def test_ram_size_must_be_whole_mib() -> None:
    with pytest.raises(MachineError, match="number of MiB"):
        QemuMachine(None, ram_size=MiB + 1)


def fake_qemu(tmp_path: Path, body: str) -> str:
    """An executable standing in for QEMU; `$DTB` is set on the dumpdtb run."""
    script = tmp_path / "fake-qemu"
    script.write_text(
        "#!/bin/sh\n"
        'DTB=$(printf "%s\\n" "$@" | sed -n "s/^virt,dumpdtb=//p")\n' + textwrap.dedent(body)
    )
    script.chmod(0o755)
    return str(script)


def test_binary_that_exits_reports_its_status(tmp_path: Path) -> None:
    binary = fake_qemu(tmp_path, "exit 3\n")
    with pytest.raises(MachineError, match="QEMU failed to start: status 3"):
        QemuMachine(None, qemu_binary=binary)


def test_binary_that_never_dumps_times_out(tmp_path: Path) -> None:
    binary = fake_qemu(tmp_path, "exec sleep 30\n")
    start = time.monotonic()
    with pytest.raises(MachineError, match=r"did not dump its device tree within 0\.5 s"):
        QemuMachine(None, qemu_binary=binary, timeout=0.5)
    assert time.monotonic() - start < 3


def test_binary_that_never_connects_times_out_and_is_reaped(tmp_path: Path) -> None:
    dtb = tmp_path / "ref.dtb"
    dtb.write_bytes(gzip.decompress((DATA / "qemu-7.2-riscv64-virt-nvme.dtb.gz").read_bytes()))
    pidfile = tmp_path / "pid"
    binary = fake_qemu(
        tmp_path,
        f"""\
        if [ -n "$DTB" ]; then cp {dtb} "$DTB"; exit 0; fi
        echo $$ > {pidfile}
        exec sleep 30
        """,
    )
    start = time.monotonic()
    with pytest.raises(MachineError, match=r"did not connect to its qtest socket within 0\.5 s"):
        QemuMachine(None, qemu_binary=binary, timeout=0.5)
    assert time.monotonic() - start < 4
    assert wait_gone(int(pidfile.read_text()))


# -- start-up failures of the real QEMU ----------------------------------------------------


@pytest.mark.qemu
def test_a_missing_image_is_refused_as_on_the_builtin_machine(qemu: str, tmp_path: Path) -> None:
    missing = tmp_path / "no-such.img"
    with pytest.raises(MachineError) as info:
        QemuMachine(missing)
    assert str(info.value) == f"{missing}: No such file or directory"


@pytest.mark.qemu
def test_a_bad_nvme_option_reports_qemus_first_stderr_line(qemu: str, tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    with pytest.raises(MachineError) as info:
        QemuMachine(image, nvme_options=["no_such_property=1"])
    message = str(info.value)
    assert message.startswith("QEMU failed to start: ")
    assert "no_such_property" in message
    assert "\n" not in message


@pytest.mark.qemu
def test_unknown_device_reports_qemus_error(qemu: str) -> None:
    with pytest.raises(MachineError, match=r"QEMU failed to start: .*no-such-device"):
        QemuMachine(None, devices=["no-such-device"])


# -- losing QEMU mid-session ---------------------------------------------------------------


@pytest.mark.qemu
def test_no_image_means_no_nvme_controller(qemu: str) -> None:
    with QemuMachine(None) as m:
        assert m.bus.load(0x3000_0000, 4) == 0x0008_1B36
        assert m.bus.load(0x3000_8000, 4) == 0x0002_1B36  # the seed's serial port, 00:01.0
        assert m.bus.load(0x3001_0000, 4) == 0xFFFF_FFFF


@pytest.mark.qemu
def test_qemu_killed_mid_session_is_a_quick_machine_error(qemu: str, image: Path) -> None:
    with QemuMachine(image) as m:
        assert m.bus.load(0x3000_8000, 2) == 0x1B36
        os.kill(m.pid, signal.SIGKILL)
        start = time.monotonic()
        with pytest.raises(MachineError, match="QEMU exited with status -9"):
            m.bus.load(0x3000_8000, 2)
        with pytest.raises(MachineError, match="status -9"):
            m.bus.read(m.ram_base, 16)
        assert time.monotonic() - start < 3


@pytest.mark.qemu
def test_silent_qemu_times_out(qemu: str, image: Path) -> None:
    with QemuMachine(image, timeout=0.5) as m:
        os.kill(m.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            with pytest.raises(MachineError, match=r"did not answer within 0\.5 s"):
                m.bus.load(0x3000_8000, 2)  # config space (shared RAM needs no answer)
            with pytest.raises(MachineError, match=r"did not answer within 0\.5 s"):
                m.bus.load(m.ram_base, 8)  # a lost machine's RAM is gone with it
            assert time.monotonic() - start < 3
        finally:
            os.kill(m.pid, signal.SIGCONT)


# -- reaping -------------------------------------------------------------------------------


@pytest.mark.qemu
def test_close_reaps_and_is_idempotent(qemu: str, image: Path) -> None:
    m = QemuMachine(image)
    pid = m.pid
    socket_dir = Path(m.command_line[m.command_line.index("-qtest") + 1][5:]).parent
    assert socket_dir.name.startswith("qrv-qemu-")
    assert not socket_dir.exists(), "the private directory outlives the connection"
    m.close()
    m.close()
    assert m.closed
    assert gone(pid)
    assert not socket_dir.exists()
    with pytest.raises(MachineError, match="closed"):
        m.bus.load(m.ram_base, 4)


@pytest.mark.qemu
def test_exception_in_with_block_reaps(qemu: str, image: Path) -> None:
    pids: list[int] = []
    with pytest.raises(ZeroDivisionError), QemuMachine(image) as m:
        pids.append(m.pid)
        _ = 1 // 0
    assert gone(pids[0])


CHILD = """\
import sys, time
from qrv.hw.qemu import QemuMachine
m = QemuMachine(sys.argv[1])
print(m.pid, flush=True)
if sys.argv[2] == "exit":
    sys.exit(0)  # no close(): the finalizer must reap
time.sleep(60)
"""


def start_child(image: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(REPO_SRC), os.environ.get("PYTHONPATH", "")])
    )
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(image), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.kill()
        pytest.fail(f"child did not start QEMU: {child.communicate(timeout=10)[1]}")
    return child, int(line)


@pytest.mark.qemu
def test_sigkill_of_python_takes_qemu_with_it(qemu: str, image: Path) -> None:
    child, pid = start_child(image, "sleep")
    assert not gone(pid)
    child.kill()
    child.wait(10)
    try:
        assert wait_gone(pid), "QEMU outlived the SIGKILLed Python process"
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.qemu
def test_ctrl_c_reaps(qemu: str, image: Path) -> None:
    child, pid = start_child(image, "sleep")
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=10)
    assert "KeyboardInterrupt" in err
    assert wait_gone(pid, 1.0), "QEMU outlived Ctrl-C"


@pytest.mark.qemu
def test_interpreter_exit_without_close_reaps(qemu: str, image: Path) -> None:
    child, pid = start_child(image, "exit")
    assert child.wait(10) == 0
    assert wait_gone(pid, 1.0)

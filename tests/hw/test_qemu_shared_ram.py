"""QEMU's guest RAM shared with qrv through a file: chosen, checked, falling back to qtest,
and the file gone on every exit path (normal close, an error, QEMU killed, a failed start).

Each test points the RAM file's directory at its own tmp_path (``qemu_ram.SHM_DIR``), so
"no file left" is checked where only this test's files can be."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import pytest

from qrv.errors import MachineError
from qrv.hw import qemu_ram
from qrv.hw.qemu import RAM_BASE, QemuMachine
from qrv.kernel.mm import MemoryManager
from tests.conftest import require_tool
from tests.hw.test_qemu_lifecycle import gone, wait_gone

LOST_WAIT_S = 5.0

pytestmark = pytest.mark.qemu

MiB = 1 << 20


@pytest.fixture
def ram_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    where = tmp_path / "shm"
    where.mkdir()
    monkeypatch.setattr(qemu_ram, "SHM_DIR", where)
    return where


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "nvme.img"
    path.write_bytes(bytes(MiB))
    return path


def ram_files(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir())


def test_ram_is_shared_by_default_and_the_file_removed_once_qemu_runs(
    ram_dir: Path, image: Path
) -> None:
    with QemuMachine(image) as m:
        assert m.shared_ram and m.ram_note == "shared RAM file"
        assert ram_files(ram_dir) == [], "the RAM file outlives QEMU's start"
        assert any("memory-backend-file" in arg for arg in m.command_line)
        # the same bytes both ways: a plain store is what QEMU's bus reads, and back
        m.bus.write(RAM_BASE + 0x2003, b"shared bytes")
        assert m.qemu_bus.client.b64read(RAM_BASE + 0x2003, 12) == b"shared bytes"
        m.qemu_bus.client.store(RAM_BASE + 0x3000, 8, 0x1122_3344_5566_7788)
        assert m.bus.load(RAM_BASE + 0x3000, 8) == 0x1122_3344_5566_7788
        view = m.qemu_bus.ram_view(RAM_BASE + 0x3000, 8)
        assert view is not None and bytes(view) == (0x1122_3344_5566_7788).to_bytes(8, "little")
        assert m.qemu_bus.ram_view(RAM_BASE + m.ram_size - 4, 8) is None  # past the end
        assert m.bus.read(RAM_BASE + m.ram_size - SHARE_PROBE, SHARE_PROBE) == bytes(SHARE_PROBE)


SHARE_PROBE = 16  # the start-up check's bytes at the end of RAM, left zero


def test_shared_ram_off_goes_over_qtest(ram_dir: Path, image: Path) -> None:
    with QemuMachine(image, shared_ram=False) as m:
        assert not m.shared_ram and "qtest" in m.ram_note
        assert not any("memory-backend" in arg for arg in m.command_line)
        assert m.qemu_bus.ram_view(RAM_BASE, 8) is None
        m.bus.write(RAM_BASE + 8, b"over qtest")
        assert m.qemu_bus.client.b64read(RAM_BASE + 8, 10) == b"over qtest"
    assert ram_files(ram_dir) == []


def test_no_ram_file_falls_back_to_qtest_and_says_so(
    ram_dir: Path, image: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = ram_dir / "a-file"
    blocked.write_bytes(b"")
    monkeypatch.setattr(qemu_ram, "ram_dir", lambda: blocked / "ram")  # ENOTDIR, even for root
    with caplog.at_level(logging.WARNING, logger="qrv.hw.qemu"), QemuMachine(image) as m:
        assert not m.shared_ram
        assert "cannot create a RAM file" in m.ram_note
        assert m.bus.read(RAM_BASE, 16) == bytes(16)
    assert any("not shared" in r.getMessage() for r in caplog.records)
    with pytest.raises(MachineError, match="cannot be shared: cannot create a RAM file"):
        QemuMachine(image, shared_ram=True)


def test_qemu_refusing_the_backend_falls_back_to_qtest(
    ram_dir: Path, image: Path, tmp_path: Path
) -> None:
    """A QEMU without ``-machine memory-backend=`` (older than 5.0) fails to start with
    it: the machine starts again without, over qtest."""
    real = require_tool("qemu-system-riscv64", "qemu-system-misc")
    fake = tmp_path / "old-qemu"
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *memory-backend*)\n'
        "  echo \"qemu: Property 'virt-machine.memory-backend' not found\" >&2; exit 1;;\n"
        f'esac\nexec {real} "$@"\n'
    )
    fake.chmod(0o755)
    with QemuMachine(image, qemu_binary=str(fake)) as m:
        assert not m.shared_ram and "memory-backend" in m.ram_note
        m.bus.write(RAM_BASE, b"ok")
        assert m.bus.read(RAM_BASE, 2) == b"ok"
    assert ram_files(ram_dir) == []
    with pytest.raises(MachineError, match="memory-backend"):
        QemuMachine(image, qemu_binary=str(fake), shared_ram=True)
    assert ram_files(ram_dir) == []


def test_error_in_the_with_block_reaps_and_leaves_no_file(ram_dir: Path, image: Path) -> None:
    pids: list[int] = []
    with pytest.raises(ZeroDivisionError), QemuMachine(image) as m:
        pids.append(m.pid)
        _ = 1 // 0
    assert gone(pids[0])
    assert ram_files(ram_dir) == []


def test_failed_start_leaves_no_file(ram_dir: Path, image: Path) -> None:
    with pytest.raises(MachineError, match="no_such_property"):
        QemuMachine(image, nvme_options=["no_such_property=1"])
    assert ram_files(ram_dir) == []


def test_qemu_killed_reaped_and_no_file(ram_dir: Path, image: Path) -> None:
    m = QemuMachine(image)
    pid = m.pid
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid)
    # /proc shows the killed leader a zombie while QEMU's other threads still exit; it
    # can be reaped (and `lost` sees the exit) only once they have: wait for that too
    deadline = time.monotonic() + LOST_WAIT_S
    while m.lost is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert m.lost is not None
    m.close()
    assert gone(pid)
    assert ram_files(ram_dir) == []
    with pytest.raises(MachineError, match="closed"):
        m.bus.load(RAM_BASE, 4)  # RAM went with the machine


@pytest.mark.parametrize("shared", [True, False])
def test_dma_mappings_are_in_place_only_with_shared_ram(
    ram_dir: Path, image: Path, shared: bool
) -> None:
    """The kernel lends a driver its DMA buffer in place where QEMU's RAM is shared (what
    devb-nvme replies from); over qtest the buffer is reached through the bus."""
    with QemuMachine(image, shared_ram=shared) as m:
        mapping = MemoryManager(m).map_anon(2 * 4096)
        view = mapping.view(4090, 12)
        assert (view is not None) is shared
        mapping.write(4090, b"across pages")
        assert m.qemu_bus.client.b64read(mapping.paddr + 4090, 12) == b"across pages"
        if view is not None:
            assert bytes(view) == b"across pages"

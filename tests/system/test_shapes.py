"""Drive shapes on both machines: 4 KiB LBAs, several namespaces of one controller,
several controllers; Linux naming ``nvme<c>n<nsid>p<slot>``.  Expected bytes come
from the image files (os.pread), the log lines from the seed's format."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine, controller_serial
from qrv.hw.bus import Machine
from qrv.hw.qemu import QemuMachine
from qrv.lib.c.posix import close, fsync, open, pwrite
from qrv.spec.iomsg import O_WRONLY
from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool
from tests.system.stack import booted, image_bytes
from tests.system.test_image_errors import emu

MiB = 1 << 20
DISK = 64 * MiB
SEED_PARTS_4K = [
    "devb-nvme: GPT OK, 2 partition(s)",
    '  p1: LBA 6..4101 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p1"',
    '  p2: LBA 4102..8197 (16 MiB) type=0fc63daf-8483-4772-8e79-3d69d8477de4 name="qrv-test-p2"',
]
MachineFactory = Callable[..., Machine]


def builtin(image: Path, **kw: object) -> Machine:
    return BuiltinMachine(image, **kw)  # type: ignore[arg-type]


def qemu(image: Path, **kw: object) -> Machine:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    writable = bool(kw.pop("writable", False))
    return QemuMachine(image, read_only=not writable, **kw)  # type: ignore[arg-type]


MACHINES = [
    pytest.param(builtin, id="builtin"),
    pytest.param(qemu, id="qemu", marks=pytest.mark.qemu),
]


def seed_disks(path: Path, count: int, lba_size: int = 512) -> Path:
    """`count` seed disks (GPT, p1, p2) back to back, each filled with its own bytes."""
    one = path.with_suffix(".one")
    with path.open("wb") as out:
        for _ in range(count):
            create_seed_image(one, lba_size=lba_size)
            with one.open("r+b") as f:
                os.pwrite(f.fileno(), os.urandom(32 * MiB), 16 * MiB)
            out.write(one.read_bytes())
            one.unlink()
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("machine", MACHINES)
def test_two_namespaces_and_two_controllers(machine: MachineFactory, tmp_path: Path) -> None:
    first, second = seed_disks(tmp_path / "a.img", 2), seed_disks(tmp_path / "b.img", 2)
    m = machine(first, namespaces=2, extra_images=[second])
    with booted(m) as st:
        log = st.log.splitlines()
        ns_lines = [line for line in log if line.startswith("nvme: ns ")]
        want = "size=131072 LBAs  lba=512 B  capacity=64 MiB"
        assert ns_lines == [f"nvme: ns 1  {want}", f"nvme: ns 2  {want}"] * 2
        assert [line for line in log if "controller at" in line] == [
            "devb-nvme: controller at 00:02.0 BAR0 0x40000000 (16 KiB)",
            "devb-nvme: controller at 00:03.0 BAR0 0x40004000 (16 KiB)",
        ]
        assert "devb-nvme: ready (12 path(s), first NS 64 MiB 512 B/LBA)" in log
        _, out, _ = st.sh("ls /dev")
        names = [n for n in out.decode().split() if n.startswith("nvme")]
        assert names == [
            "nvme0",
            *(f"nvme0n{ns}{p}" for ns in (1, 2) for p in ("", "p1", "p2")),
            "nvme1",
            *(f"nvme1n{ns}{p}" for ns in (1, 2) for p in ("", "p1", "p2")),
        ]
        for c, img in enumerate((first, second)):
            for ns in (1, 2):
                _, out, _ = st.sh(f"cat /dev/nvme{c}n{ns}p2")
                start = (ns - 1) * DISK + 32802 * 512
                assert sha(out) == sha(image_bytes(img, start, 16 * MiB)), (c, ns)
        _, out, _ = st.sh("nvme list -o json")  # through /dev/nvme0 and /dev/nvme1
        listed = [
            (d["DevicePath"], d["Index"], d["SerialNumber"]) for d in json.loads(out)["Devices"]
        ]
        assert listed == [
            (f"/dev/nvme{c}n{ns}", c, controller_serial(c)) for c in (0, 1) for ns in (1, 2)
        ]


@pytest.mark.parametrize("machine", MACHINES)
def test_4096_byte_lbas(machine: MachineFactory, tmp_path: Path) -> None:
    img = seed_disks(tmp_path / "4k.img", 1, lba_size=4096)
    with booted(machine(img, lba_size=4096)) as st:
        log = st.log.splitlines()
        assert "nvme: ns 1  size=16384 LBAs  lba=4096 B  capacity=64 MiB" in log
        start = log.index(SEED_PARTS_4K[0])
        assert log[start : start + 3] == SEED_PARTS_4K
        assert "devb-nvme: ready (3 path(s), first NS 64 MiB 4096 B/LBA)" in log
        _, out, _ = st.sh("cat /dev/nvme0n1p1")
        assert sha(out) == sha(image_bytes(img, 6 * 4096, 16 * MiB))


@pytest.mark.parametrize("machine", MACHINES)
def test_writes_to_the_second_namespace_stay_in_it(machine: MachineFactory, tmp_path: Path) -> None:
    img = seed_disks(tmp_path / "w.img", 2, lba_size=4096)
    before = img.read_bytes()
    m = machine(img, namespaces=2, lba_size=4096, writable=True)
    with booted(m, writable=True) as st, st.kernel.adopt("client"):
        fd = open("/dev/nvme0n2p1", O_WRONLY)
        try:
            assert pwrite(fd, b"\x77" * 5000, 100) == 5000  # unaligned in 4 KiB LBAs
            fsync(fd)
        finally:
            close(fd)
    after = img.read_bytes()
    at = DISK + 6 * 4096 + 100
    assert after[at : at + 5000] == b"\x77" * 5000
    assert after[:at] == before[:at] and after[at + 5000 :] == before[at + 5000 :]


@pytest.mark.parametrize("machine", ["builtin", pytest.param("qemu", marks=pytest.mark.qemu)])
def test_emu_shape_options(machine: str, tmp_path: Path) -> None:
    if machine == "qemu":
        require_tool("qemu-system-riscv64", "qemu-system-misc")
    r = emu(
        "--machine",
        machine,
        "--nvme",
        "--namespaces",
        "2",
        "--lba-size",
        "4096",
        "--drive",
        "second.img",
        "-c",
        "ls /dev",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr.decode()
    log = r.stderr.decode().splitlines()
    assert log[:2] == [
        f"emu: created {name} (2 x 64 MiB namespaces, each a GPT with 2 x 16 MiB partitions)"
        for name in ("nvme.img", "second.img")
    ]
    assert log.count(SEED_PARTS_4K[1]) == 4  # p1 of each of the four namespaces
    names = r.stdout.decode().split()
    assert {"nvme0n2p2", "nvme1n1", "nvme1n2p1"} <= set(names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--namespaces", "0"], "qrv emu: --namespaces must be 1..16, got 0"),
        (["--lba-size", "1024"], "qrv emu: argument --lba-size: invalid choice: 1024"),
        (
            ["--nvme", "--image", "odd.img", "--namespaces", "3"],
            "do not split into 3 namespaces of whole 512-byte LBAs",
        ),
    ],
)
def test_emu_shape_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    create_seed_image(tmp_path / "odd.img")
    r = emu(*args, "-c", "echo hi", cwd=tmp_path)
    err = r.stderr.decode().strip()
    assert r.returncode == 2 and message in err and len(err.splitlines()) == 1, err


def test_a_power_cut_takes_every_controller(tmp_path: Path) -> None:
    first, second = seed_disks(tmp_path / "a.img", 1), seed_disks(tmp_path / "b.img", 1)
    old = image_bytes(second, 16 * MiB, 4096)
    m = BuiltinMachine(first, extra_images=[second], writable=True, power_cut_after=1, seed=3)
    with booted(m, writable=True) as st, st.kernel.adopt("client"):
        fd = open("/dev/nvme1n1", O_WRONLY)
        pwrite(fd, b"\x99" * 4096, 16 * MiB)  # cached in the second controller
        close(fd)
        assert m.controllers[1].power_cut is None
        fd = open("/dev/nvme0n1", O_WRONLY)
        pwrite(fd, b"\x98" * 4096, 16 * MiB)  # the first controller's first write: the cut
        close(fd)
        assert m.power_cut is not None and m.power_cut.writes == 1
        assert m.controllers[1].power_cut is not None  # the whole machine lost power
    assert image_bytes(second, 16 * MiB, 4096) in (old, b"\x99" * 4096)

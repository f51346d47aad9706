"""Many clients at once: processes reading random ranges of the three nodes
concurrently each get exactly the image's bytes (os.pread of the file), on the
built-in board (in order, and with the model completing bursts out of order) and
on QEMU (fewer clients: every access there is a qtest round trip), with devb-nvme's
interrupt service thread (on the board by MSI-X, and by INTx through the PLIC with
``-o intx``) and polling (``-o poll``)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from qrv.emu import BuiltinMachine
from qrv.hw.bus import Machine
from qrv.hw.nvme import Faults
from qrv.hw.qemu import QemuMachine
from qrv.lib.c.posix import close, open, pread
from qrv.spec.iomsg import O_RDONLY
from qrv.tools.mkgpt import create_seed_image
from tests.conftest import require_tool
from tests.system.stack import booted, image_bytes

MiB = 1 << 20
SECTOR = 512
# (path, first byte in the image, size): the seed's layout
NODES = [
    ("/dev/nvme0n1", 0, 64 * MiB),
    ("/dev/nvme0n1p1", 34 * SECTOR, 16 * MiB),
    ("/dev/nvme0n1p2", 32802 * SECTOR, 16 * MiB),
]
READS = 6
WAIT_S = 120.0


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("concurrent") / "nvme.img"
    create_seed_image(path)
    with path.open("r+b") as f:
        os.pwrite(f.fileno(), os.urandom(32 * MiB), 34 * SECTOR)
    return path


def plan(client: int) -> list[tuple[int, int, int]]:
    """A client's reads: (node index, offset in the node, count); some run past the end."""
    rng = random.Random(client)
    reads = []
    for _ in range(READS):
        node = rng.randrange(len(NODES))
        size = NODES[node][2]
        count = rng.choice([1, 512, 4096, 5000, 70_000, 300_000])
        offset = rng.choice([rng.randrange(size), size - rng.randrange(1, 5000)])
        reads.append((node, offset, count))
    return reads


def run_clients(machine: Machine, image: Path, clients: int, args: list[str]) -> None:
    got: dict[int, list[bytes]] = {}

    def client(argv: list[str]) -> int:
        index = int(argv[1])
        fds = [open(path, O_RDONLY) for path, _, _ in NODES]
        out = got.setdefault(index, [])
        for node, offset, count in plan(index):
            out.append(pread(fds[node], count, offset))
        for fd in fds:
            close(fd)
        return 0

    with booted(machine, driver_args=args) as st:
        pids = [
            st.kernel.spawn(client, ["client", str(i)], name=f"client{i}") for i in range(clients)
        ]
        assert [st.kernel.waitpid(pid, timeout=WAIT_S) for pid in pids] == [0] * clients
        assert st.driver_status() is None  # devb-nvme still serves
    for index in range(clients):
        expected = []
        for node, offset, count in plan(index):
            _, first, size = NODES[node]
            expected.append(image_bytes(image, first + offset, max(0, min(count, size - offset))))
        assert got[index] == expected, f"client {index}"


@pytest.mark.parametrize(
    "args", [[], ["-o", "intx"], ["-o", "poll"]], ids=["interrupts", "intx", "poll"]
)
@pytest.mark.parametrize("reorder_seed", [None, 11])
def test_sixteen_clients_read_three_nodes_on_the_board(
    image: Path, reorder_seed: int | None, args: list[str]
) -> None:
    machine = BuiltinMachine(image, faults=Faults(reorder_seed=reorder_seed))
    run_clients(machine, image, 16, args)


@pytest.mark.parametrize("args", [[], ["-o", "poll"]], ids=["interrupts", "poll"])
def test_four_clients_read_three_nodes_on_qemu(image: Path, args: list[str]) -> None:
    require_tool("qemu-system-riscv64", "qemu-system-misc")
    run_clients(QemuMachine(image), image, 4, args)

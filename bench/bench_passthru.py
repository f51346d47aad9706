"""The passthrough devctl (what the nvme command uses) beside a block read of the same size.

Identify Controller (4 KiB from the controller) through ``/dev/nvme0``'s
``DCMD_NVME_ADMIN_CMD``, beside a same-run 4 KiB ``pread`` of
``/dev/nvme0n1p1``: both are one message to devb-nvme and one NVMe command
(admin queue vs I/O queue) moving 4 KiB; the difference is the passthrough's
checks and its zeroed buffer, and what the controller does to build the
structure (Get Features of the write cache, no data, shows the rest).
Also ``nvme id-ctrl -o json`` as a whole program (spawned by the shell:
option parsing, decoding, JSON).

    python bench/bench_passthru.py [--machine builtin|qemu|both] [--seconds S]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import booted, machine_args, seed_image, timed
from qrv.emu import run_shell
from qrv.lib.c.posix import close, devctl, open, pread
from qrv.spec.iomsg import O_RDWR
from qrv.spec.nvme import AdminOpcode, Cns, FeatureId
from qrv.spec.nvmectl import DCMD_NVME_ADMIN_CMD, DataDir, PassthruCmd, PassthruResult

IDENTIFY = PassthruCmd(
    AdminOpcode.IDENTIFY, direction=DataDir.FROM_DEVICE, data_len=4096, cdw10=Cns.CONTROLLER
)
REPLY = PassthruResult.SIZE + 4096
GET_VWC = PassthruCmd(AdminOpcode.GET_FEATURES, cdw10=FeatureId.VOLATILE_WRITE_CACHE)


def bench_machine(name: str, image: Path, seconds: float) -> None:
    def workload(argv: list[str]) -> int:
        ctrl, node = open("/dev/nvme0", O_RDWR), open("/dev/nvme0n1p1")
        request = IDENTIFY.pack()
        try:

            def identify() -> int:
                return len(devctl(ctrl, DCMD_NVME_ADMIN_CMD, request, REPLY))

            def block() -> int:
                return len(pread(node, 4096, 0))

            def features() -> int:
                return len(devctl(ctrl, DCMD_NVME_ADMIN_CMD, GET_VWC.pack(), 64))

            c1, _, t1 = timed(identify, seconds)
            c0, _, t0 = timed(block, seconds)
            c2, _, t2 = timed(features, seconds)
        finally:
            close(ctrl)
            close(node)
        r1, r0 = c1 / t1, c0 / t0
        print(f"\n== {name} machine")
        print(f"{'workload':<34}{'ops/s':>10}{'vs pread 4 KiB':>18}")
        print(f"{'pread 4 KiB of /dev/nvme0n1p1':<34}{r0:>10.0f}{1:>17.2f}x")
        print(f"{'Identify passthrough (4 KiB)':<34}{r1:>10.0f}{r0 / r1:>17.2f}x")
        r2 = c2 / t2
        print(f"{'Get Features passthrough (none)':<34}{r2:>10.0f}{r0 / r2:>17.2f}x")
        return 0

    with booted(name, image) as system:
        system.run(workload)
        runs, _, elapsed = timed(
            lambda: run_shell(system.kernel, "nvme id-ctrl /dev/nvme0 -o json") + 1, seconds
        )
        print(f"{'nvme id-ctrl -o json (program)':<34}{runs / elapsed:>10.0f}")


def main() -> int:
    machines, seconds = machine_args(__doc__)
    with tempfile.TemporaryDirectory() as tmp:
        image = seed_image(Path(tmp) / "nvme.img")
        for name in machines:
            bench_machine(name, image, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

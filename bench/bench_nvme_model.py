"""4 KiB read commands per second through the NVMe model, driven by the bus-only test host,
beside the same-run baseline of raw os.pread on the image.

    .venv/bin/python bench/bench_nvme_model.py [--seconds S] [--image-mib N]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hw.nvme.conftest import build_rig, make_image

from qrv.spec.nvme import Command, NvmOpcode

BLOCK = 4096


def bench_model(image: Path, seconds: float, nblocks: int) -> float:
    rig = build_rig(image)
    h = rig.host
    h.setup_pci()
    h.enable()
    h.create_io_queues(1, sq_size=64, cq_size=64)
    buf = h.buffer(BLOCK)
    done, lba = 0, 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(100):
            slba = (lba % nblocks) * (BLOCK // 512)
            cqe = h.command(1, Command(NvmOpcode.READ, nsid=1, prp1=buf, cdw10=slba, cdw12=7))
            if cqe.status >> 1:
                raise SystemExit(f"read failed: {cqe}")
            lba += 1
        done += 100
    elapsed = time.perf_counter() - start
    rig.ctrl.close()
    return done / elapsed


def bench_pread(image: Path, seconds: float, nblocks: int) -> float:
    fd = os.open(image, os.O_RDONLY)
    done, lba = 0, 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(1000):
            os.pread(fd, BLOCK, (lba % nblocks) * BLOCK)
            lba += 1
        done += 1000
    elapsed = time.perf_counter() - start
    os.close(fd)
    return done / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--image-mib", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = make_image(Path(tmp) / "bench.img", args.image_mib << 20)
        nblocks = (args.image_mib << 20) // BLOCK
        base = bench_pread(image, args.seconds, nblocks)
        model = bench_model(image, args.seconds, nblocks)
    print(f"os.pread 4 KiB (baseline): {base:12,.0f} reads/s")
    print(f"NVMe model 4 KiB Read:     {model:12,.0f} commands/s ({model / base:.1%} of baseline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Test vectors copied from ../shared/reference/ so the suite runs from the repository alone.

* ``qemu-7.2-riscv64-virt-nvme.dtb.gz``: the DTB QEMU 7.2 generated
  (``-machine virt,dumpdtb=``, with an NVMe device), gzip'd (the blob is padded
  to 1 MiB); :func:`qemu_virt_dtb` returns the original bytes.
* ``qemu-7.2-riscv64-virt-nvme.dts``: the same blob decompiled by dtc.
"""

from __future__ import annotations

import gzip
from pathlib import Path

DATA = Path(__file__).resolve().parent
QEMU_VIRT_DTB = DATA / "qemu-7.2-riscv64-virt-nvme.dtb.gz"
QEMU_VIRT_DTS = DATA / "qemu-7.2-riscv64-virt-nvme.dts"


def qemu_virt_dtb() -> bytes:
    return gzip.decompress(QEMU_VIRT_DTB.read_bytes())


def qemu_virt_dts() -> str:
    return QEMU_VIRT_DTS.read_text()

"""Guest RAM: bounds, and pages committed on first touch (issue 10: a boot touched all
256 MiB of RAM up front)."""

from __future__ import annotations

import mmap
import subprocess
import sys

import pytest

from qrv.errors import BusError
from qrv.hw.memory import GuestRam

MiB = 1 << 20


def test_read_write_fill_and_bounds() -> None:
    ram = GuestRam(64 * 1024)
    assert ram.read(0, 16) == bytes(16)  # fresh RAM reads as zeros
    ram.write(100, b"abc")
    assert ram.read(99, 5) == b"\0abc\0"
    ram.fill(101, 2, 0xEE)
    assert ram.read(100, 3) == b"a\xee\xee"
    ram.write(ram.size - 1, b"z")
    assert ram.read(ram.size - 1, 1) == b"z"
    for bad in ((ram.size - 1, 2), (-1, 1)):
        with pytest.raises(BusError):
            ram.read(*bad)
        with pytest.raises(BusError):
            ram.write(bad[0], bytes(bad[1]))
    with pytest.raises(BusError):
        GuestRam(0)


def test_ram_is_anonymous_memory_not_an_eager_buffer() -> None:
    assert isinstance(GuestRam(4096).backing, mmap.mmap)


def test_untouched_ram_is_not_resident() -> None:
    # 512 MiB of guest RAM with a few bytes written at each end: the peak RSS of the
    # process stays far below the RAM size (pages are committed on first touch).  The
    # peak is VmHWM, the high-water mark of this process's own memory: ru_maxrss would
    # also count the parent's RSS when the child was started by vfork (a big test
    # worker made this test fail).
    code = (
        "from qrv.hw.memory import GuestRam\n"
        f"ram = GuestRam({512 * MiB}); ram.write(0, b'x'); ram.write(ram.size - 1, b'y')\n"
        "assert ram.read(ram.size - 1, 1) == b'y'\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(status.split()[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak_kib = int(out.stdout)
    assert peak_kib * 1024 < 128 * MiB, f"peak RSS {peak_kib} KiB for 512 MiB of guest RAM"

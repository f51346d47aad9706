"""Message decoding benchmark: what validating every message costs a server.

Prints the median time (µs) of ``qrv.spec.messages.decode`` (type dispatch,
length and range checks) for a pread ``_IO_READ`` and for an ``_IO_CONNECT``
open, beside a same-run baseline: the bare ``struct.unpack_from`` of the same
header with no checks (what a decoder cannot do with less).  Not part of the
tests.
"""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Callable

from qrv.spec.messages import IoOpen, IoRead, decode

N = 20_000
REPEAT = 7
US = 1e6


def median_us(fn: Callable[[], object]) -> float:
    runs = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        for _ in range(N):
            fn()
        runs.append((time.perf_counter() - t0) * US / N)
    return statistics.median(runs)


def main() -> None:
    pread = IoRead(4096, 1 << 20).pack()
    connect = IoOpen("/dev/nvme0n1p1", 1, handle=2).pack()
    read_hdr, offset = struct.Struct("<HHiII"), struct.Struct("<q")
    connect_hdr = struct.Struct("<HHIHHIIIIHHHHBBH")

    def bare_read() -> object:
        return read_hdr.unpack_from(pread), offset.unpack_from(pread, 16)

    def bare_connect() -> object:
        return connect_hdr.unpack_from(connect), connect[40:].split(b"\0", 1)[0].decode()

    rows = [
        ("decode(_IO_READ pread)", median_us(lambda: decode(pread))),
        ("baseline: bare unpack of the same", median_us(bare_read)),
        ("decode(_IO_CONNECT open)", median_us(lambda: decode(connect))),
        ("baseline: bare unpack of the same", median_us(bare_connect)),
    ]
    for name, us in rows:
        print(f"{name:<38} median {us:8.2f} us")


if __name__ == "__main__":
    main()

"""Property: a resource manager serving a bytes object behaves like io.BytesIO.

Random open/read/pread/lseek sequences through the full stack (path
manager, MsgSend, dispatch, iofunc) are compared with io.BytesIO over the
same bytes — an independent oracle.
"""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.kernel import Kernel
from qrv.lib.c import close, lseek, open, pread, read
from qrv.spec.iomsg import SEEK_CUR, SEEK_END, SEEK_SET
from tests.kernel.system import Console
from tests.lib.c.memfs import BLOCK_RO, memfs

WHENCE = {SEEK_SET: io.SEEK_SET, SEEK_CUR: io.SEEK_CUR, SEEK_END: io.SEEK_END}

ops = st.one_of(
    st.tuples(st.just("read"), st.integers(0, 300)),
    st.tuples(st.just("pread"), st.integers(0, 300), st.integers(0, 600)),
    st.tuples(st.just("lseek"), st.integers(-400, 400), st.sampled_from(sorted(WHENCE))),
    st.tuples(st.just("reopen")),
)


def run_oracle(data: bytes, seq: list[tuple]) -> list[object]:
    f = io.BytesIO(data)
    out: list[object] = []
    for op in seq:
        if op[0] == "read":
            out.append(f.read(op[1]))
        elif op[0] == "pread":
            here = f.tell()
            f.seek(op[2])
            out.append(f.read(op[1]))
            f.seek(here)
        elif op[0] == "lseek":
            base = {SEEK_SET: 0, SEEK_CUR: f.tell(), SEEK_END: len(data)}[op[2]]
            if base + op[1] < 0:
                out.append("EINVAL")  # BytesIO raises ValueError here; POSIX says EINVAL
            else:
                out.append(f.seek(op[1], WHENCE[op[2]]))
        else:
            f = io.BytesIO(data)
            out.append("reopened")
    return out


def run_qrv(k: Kernel, seq: list[tuple]) -> list[object]:
    out: list[object] = []
    fd = open("/dev/data")
    for op in seq:
        if op[0] == "read":
            out.append(read(fd, op[1]))
        elif op[0] == "pread":
            out.append(pread(fd, op[1], op[2]))
        elif op[0] == "lseek":
            try:
                out.append(lseek(fd, op[1], op[2]))
            except OSError:
                out.append("EINVAL")
        else:
            close(fd)
            fd = open("/dev/data")
            out.append("reopened")
    close(fd)
    return out


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=500), seq=st.lists(ops, max_size=25))
def test_resmgr_matches_bytesio(data: bytes, seq: list[tuple]) -> None:
    k = Kernel(None, Console().stdio())
    try:
        pid = k.spawn(memfs({"/dev/data": (BLOCK_RO, data)}), ["memfs"])
        assert k.wait_ready(pid, None, 5)
        with k.adopt("client"):
            assert run_qrv(k, seq) == run_oracle(data, seq)
    finally:
        k.shutdown()

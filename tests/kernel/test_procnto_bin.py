"""/bin: every program the kernel can run by name, served by procnto as a read-only file
whose bytes are the program's source (as QNX's procnto serves the boot image's files)."""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import pytest

from qrv.kernel.kernel import Kernel
from qrv.lib.c.files import chmod, unlink
from qrv.lib.c.posix import close, fstat, listdir, lseek, open, pread, read, stat
from qrv.programs import SystemProgram, system_programs
from qrv.spec.iomsg import O_RDONLY, O_RDWR, O_WRONLY, S_IFREG, SEEK_CUR, SEEK_END, SEEK_SET
from tests.kernel.system import Console, TinyMachine


@dataclass(frozen=True)
class Entry:
    source: bytes

    def __call__(self, argv: list[str]) -> int:
        return 0


def kernel(programs: dict[str, Entry | SystemProgram]) -> tuple[Kernel, Console]:
    console = Console()
    return Kernel(TinyMachine(), console.stdio(), programs=programs), console


def test_bin_lists_the_programs_and_each_is_its_source() -> None:
    text = b"def main(argv):\n    return 0\n"
    k, _ = kernel({"zeta": Entry(text), "alpha": Entry(b"")})
    try:
        with k.adopt("c", uid=100, gid=100):
            assert listdir("/") == ["bin", "dev"]
            assert listdir("/bin") == ["alpha", "zeta"]
            st = stat("/bin/zeta")
            assert (st.mode, st.size, st.uid, st.nlink) == (S_IFREG | 0o555, len(text), 0, 1)
            fd = open("/bin/zeta", O_RDONLY)
            try:
                assert read(fd, 4) == b"def "
                assert read(fd, 1000) == text[4:]
                assert read(fd, 10) == b""
                assert lseek(fd, -7, SEEK_END) == len(text) - 7
                assert lseek(fd, 2, SEEK_CUR) == len(text) - 5
                assert read(fd, 100) == text[-5:]
                assert pread(fd, 3, 4) == b"mai"
                assert fstat(fd).size == len(text)
                with pytest.raises(OSError) as exc:
                    lseek(fd, -1, SEEK_SET)
                assert exc.value.errno == errno.EINVAL
            finally:
                close(fd)
            for flags in (O_WRONLY, O_RDWR):
                with pytest.raises(OSError) as exc:
                    open("/bin/zeta", flags)
                assert exc.value.errno == errno.EACCES
            with pytest.raises(OSError) as exc:
                stat("/bin/nope")
            assert exc.value.errno == errno.ENOENT
        with k.adopt("root"):
            for change in (lambda: unlink("/bin/zeta"), lambda: chmod("/bin/zeta", 0o777)):
                with pytest.raises(OSError) as exc:
                    change()
                assert exc.value.errno == errno.EROFS
        assert k.program("/bin/zeta") is not None and k.program("zeta") is not None
    finally:
        k.shutdown()


def test_without_programs_there_is_no_bin() -> None:
    k, _ = kernel({})
    try:
        with k.adopt("c"):
            assert listdir("/") == ["dev"]
    finally:
        k.shutdown()


def test_a_system_program_is_its_module_and_runs_it() -> None:
    programs = system_programs({"true": "qrv.userland.truefalse"})
    entry = programs["true"]
    assert isinstance(entry, SystemProgram)
    import qrv.userland.truefalse as module

    assert entry.source == Path(module.__file__ or "").read_bytes()
    assert entry(["true"]) == 0
    assert SystemProgram("gone", "qrv.no_such_module").source == b""

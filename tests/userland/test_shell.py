"""The shell and its commands: output formats and error cases."""

from __future__ import annotations

import io
import re
import subprocess

import pytest

from qrv.spec.iomsg import S_IFBLK, S_IFCHR
from qrv.userland import sh
from tests.conftest import require_tool
from tests.kernel.system import Console
from tests.lib.c.memfs import BLOCK_RO, memfs
from tests.userland.shell import run

MiB = 1 << 20
DATA = bytes((i * 7 + i // 256) & 0xFF for i in range(3000)) + b"\0" * 64 + b"tail\n"


@pytest.fixture
def k(sysk):
    k, _ = sysk
    files = {
        "/dev/nvme0n1": (BLOCK_RO, b"QRV-OS NVMe test pattern: LBA 0 "),
        "/dev/nvme0n1p1": (BLOCK_RO, b""),
        "/dev/nvme0n1p2": (BLOCK_RO, b""),
        "/dev/blob": (BLOCK_RO, DATA),
        "/dev/ram": (S_IFBLK | 0o666, bytes(32)),
        "/dev/tty": (S_IFCHR | 0o666, b""),
    }
    sizes = {"/dev/nvme0n1": 64 * MiB, "/dev/nvme0n1p1": 16 * MiB, "/dev/nvme0n1p2": 16 * MiB}
    pid = k.spawn(memfs(files, sizes), ["devb-test"])
    assert k.wait_ready(pid, None, 5)
    return k


def test_ls_l_prints_the_seed_format(k) -> None:
    r = run(k, "ls -l /dev")
    assert r.status == 0, r.errtext
    lines = r.text.splitlines()
    # the seed's lines, verbatim (qrv-v0.24 release notes)
    for seed_line in (
        "br--r--r--  1     0     0 67108864 nvme0n1",
        "br--r--r--  1     0     0 16777216 nvme0n1p1",
        "br--r--r--  1     0     0 16777216 nvme0n1p2",
    ):
        assert seed_line in lines
    assert "brw-rw-rw-  1     0     0       32 ram" in lines
    assert "crw-rw-rw-  1     0     0        0 tty" in lines
    assert lines == sorted(lines, key=lambda s: s.rsplit(" ", 1)[1])


def test_ls_plain_root_and_file_and_errors(k) -> None:
    assert run(k, "ls /dev").text.split() == sorted(
        ["blob", "null", "nvme0n1", "nvme0n1p1", "nvme0n1p2", "ram", "tty", "zero"]
    )
    assert run(k, "ls").text == "dev\n"
    assert run(k, "ls -l /").text == "dr-xr-xr-x  2     0     0        0 dev\n"
    assert run(k, "ls /dev/blob").text == "/dev/blob\n"
    r = run(k, "ls /nope")
    assert (r.status, r.errtext) == (1, "ls: /nope: No such file or directory\n")
    assert run(k, "ls -x").status == 2


def test_cat_is_byte_exact_and_reports_errors(k) -> None:
    r = run(k, "cat /dev/blob")
    assert (r.status, r.out) == (0, DATA)
    r = run(k, "cat /dev/nvme0n1 /dev/missing /dev/nvme0n1")
    assert r.out == 2 * b"QRV-OS NVMe test pattern: LBA 0 "
    assert (r.status, r.errtext) == (1, "cat: /dev/missing: No such file or directory\n")
    assert run(k, "cat", stdin=b"").status == 0


@pytest.mark.parametrize(
    "args",
    [["-C"], [], ["-C", "-n", "100", "-s", "5"], ["-n", "33"], ["-C", "-s", "3000"]],
    ids=["C", "default", "C-n-s", "n-odd", "C-squeeze"],
)
def test_hexdump_matches_the_real_hexdump(k, tmp_path, args: list[str]) -> None:
    tool = require_tool("hexdump", "bsdextrautils")
    path = tmp_path / "blob"
    path.write_bytes(DATA)
    want = subprocess.run([tool, *args, str(path)], capture_output=True, check=True).stdout
    r = run(k, " ".join(["hexdump", *args, "/dev/blob"]))
    assert (r.status, r.out.decode()) == (0, want.decode())


def test_hexdump_seed_pattern_and_errors(k) -> None:
    r = run(k, "hexdump -C -n 16 /dev/nvme0n1")
    assert r.text.splitlines()[0] == (
        "00000000  51 52 56 2d 4f 53 20 4e  56 4d 65 20 74 65 73 74  |QRV-OS NVMe test|"
    )
    r = run(k, "hexdump /dev/missing")
    assert (r.status, r.errtext) == (1, "hexdump: /dev/missing: No such file or directory\n")
    assert run(k, "hexdump -n").status == 2
    assert run(k, "hexdump -n x /dev/blob").status == 2


def test_dd_to_stdout_with_skip_and_count(k) -> None:
    r = run(k, "dd if=/dev/blob bs=100 count=3 skip=2")
    assert r.status == 0 and r.out == DATA[200:500]
    assert r.errtext.splitlines()[:2] == ["3+0 records in", "3+0 records out"]
    r = run(k, "dd if=/dev/blob bs=1K")  # 3069 bytes: two full records, one partial
    assert r.out == DATA and r.errtext.splitlines()[:2] == ["2+1 records in", "2+1 records out"]
    assert "3069 bytes copied" in r.errtext
    r = run(k, "dd if=/dev/blob bs=512 count=1 status=none")
    assert (r.out, r.err) == (DATA[:512], b"")


def test_dd_to_a_device_with_seek_and_progress(k) -> None:
    r = run(k, "dd if=/dev/nvme0n1 of=/dev/ram bs=4 count=2 seek=1 status=progress")
    assert r.status == 0, r.errtext
    assert "bytes copied" in r.errtext.splitlines()[0]  # the progress line
    assert run(k, "cat /dev/ram").out == bytes(4) + b"QRV-OS N" + bytes(20)


def test_dd_errors(k) -> None:
    r = run(k, "dd if=/dev/missing")
    assert (r.status, r.errtext) == (1, "dd: /dev/missing: No such file or directory\n")
    assert run(k, "dd bogus").status == 2
    assert run(k, "dd bs=x").status == 2
    r = run(k, "dd if=/dev/blob of=/dev/blob count=1")
    assert (r.status, r.errtext) == (1, "dd: /dev/blob: Read-only file system\n")


def test_pidin_lists_processes_in_qnx_columns(k) -> None:
    r = run(k, "pidin")
    lines = r.text.splitlines()
    assert lines[0] == "     pid tid name               prio STATE       Blocked"
    row = re.compile(r"^ {0,7}\d{1,8} {1,3}\d{1,3} \S.{17} {1,4}\d+[a-z] \S+ *( \S+)?$")
    assert all(row.match(line) for line in lines[1:]), lines
    by_name = {line.split()[2]: line.split() for line in lines[1:]}
    assert by_name["procnto"][4:] == ["RECEIVE", "1"]
    assert by_name["sh"][4:] == ["REPLY", "1"]  # waiting for pidin, a message to procnto
    assert by_name["pidin"][4] == "RUNNING"
    assert by_name["devb-test"][4] == "RECEIVE"


def test_echo_exit_sequences_and_errors(k) -> None:
    assert run(k, "echo a   'b  c'").text == "a b  c\n"
    assert run(k, "echo -n x").text == "x"
    r = run(k, "echo one; echo two; exit 7; echo never")
    assert (r.status, r.text) == (7, "one\ntwo\n")
    r = run(k, "nosuch arg")
    assert (r.status, r.errtext) == (127, "sh: nosuch: not found\n")
    assert run(k, "ls /nope; echo ok").status == 0
    assert run(k, "echo ok; ls /nope").status == 1
    assert run(k, "exit").status == 0
    assert run(k, "ls /nope; exit").status == 1  # exit without N: the last status
    assert run(k, "echo 'unclosed").status == 2
    assert run(k, "exit x").status == 2


def test_sh_reads_commands_from_stdin(k) -> None:
    r = run(k, None, stdin=b"echo first\n# a comment\nls /dev/blob\nexit 4\necho never\n")
    assert (r.status, r.text) == (4, "first\n/dev/blob\n")
    r = run(k, None, stdin=b"echo last; ls /nope\n")
    assert (r.status, r.text) == (1, "last\n")


class TtyInput(io.BytesIO):
    def isatty(self) -> bool:
        return True


def test_interactive_prompt_on_a_terminal(k) -> None:
    console = Console()
    console.stdin = TtyInput(b"echo hi\nexit 3\n")
    status = k.waitpid(k.spawn(sh.main, ["sh"], stdio=console.stdio()), 10)
    # the prompt goes to stderr: stdout has only what the commands wrote
    assert (status, console.stdout.getvalue(), console.stderr.getvalue()) == (3, b"hi\n", b"# # ")

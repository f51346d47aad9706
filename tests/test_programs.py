"""The user's programs (`qrv emu --program/--programs`): checks before the boot, runs
like built-in commands, a crash is the system log's, not the terminal's (issue 19)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qrv.errors import ProgramError
from qrv.programs import MAX_NAME, allowed, check_name, load, load_all, parse_spec
from qrv.userland.commands import COMMANDS

T = 60
HELLO = """\
from qrv.lib.c import stdio
from qrv.lib.c.proc import getpid


def main(argv: list[str]) -> int:
    stdio.printf("hello from " + " ".join(argv) + "\\n")
    return len(argv) - 1
"""
CRASH = """\
def helper(n: int) -> int:
    return 10 // n


def main(argv: list[str]) -> int:
    return helper(0)
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def emu(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qrv", "emu", *args],
        capture_output=True,
        text=True,
        timeout=T,
        check=False,
    )


def test_the_api_is_lib_c_lib_pci_and_spec() -> None:
    for ok in ("os", "struct", "qrv.lib.c", "qrv.lib.c.resmgr", "qrv.lib.pci", "qrv.spec.pci"):
        assert allowed(ok), ok
    for bad in ("qrv", "qrv.hw", "qrv.hw.board", "qrv.kernel", "qrv.lib", "qrv.lib.gpt", "qrv.emu"):
        assert not allowed(bad), bad


@pytest.mark.parametrize(
    "line",
    [
        "import qrv.hw.board",
        "from qrv import kernel",
        "from qrv.lib import gpt",
        "from qrv.kernel.kernel import Kernel",
        "def main(argv):\n    import qrv.hw\n    return 0",
        "from . import helper",
    ],
)
def test_a_forbidden_import_is_refused_before_the_program_runs(tmp_path: Path, line: str) -> None:
    ran = tmp_path / "ran"
    path = write(tmp_path, "p.py", f"open({str(ran)!r}, 'w')\n{line}\ndef main(argv): return 0\n")
    with pytest.raises(ProgramError, match=r"p\.py:\d+: (imports qrv|relative import)"):
        load(path, "p")
    assert not ran.exists()


def test_allowed_imports_load(tmp_path: Path) -> None:
    text = "from qrv.lib import c, pci\nfrom qrv.spec import pci as sp\n" + HELLO
    program = load(write(tmp_path, "ok.py", text), "ok")
    assert program.name == "ok" and callable(program)


def test_a_program_is_a_real_module_while_it_loads(tmp_path: Path) -> None:
    text = "from dataclasses import dataclass\n@dataclass\nclass A:\n    x: int = 1\n" + HELLO
    program = load(write(tmp_path, "dc.py", text), "dc")
    assert program.module.A().x == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1\n", r"no main\(argv\) function"),
        ("main = 3\n", r"no main\(argv\) function"),
        ("def main(argv):\n  return (\n", "syntax error"),
        ("raise RuntimeError('boom')\n", "fails while loading: RuntimeError: boom"),
    ],
)
def test_a_broken_program_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProgramError, match=message):
        load(write(tmp_path, "b.py", text), "b")


def test_names(tmp_path: Path) -> None:
    path = write(tmp_path, "hello.py", HELLO)
    assert parse_spec(str(path)) == (path, "hello")
    assert parse_spec(f"{path}:hi") == (path, "hi")
    for bad in ("", "a/b", "-x", "a b", "x;y"):
        with pytest.raises(ProgramError, match="is not a command name"):
            load(path, bad)
    with pytest.raises(ProgramError, match="'cat' is a built-in command"):
        load(path, "cat", reserved=["cat"])
    with pytest.raises(ProgramError, match="No such file"):
        load(tmp_path / "missing.py", "missing")
    with pytest.raises(ProgramError, match="is a directory"):
        load(tmp_path, "d")
    with pytest.raises(ProgramError, match="already installed"):
        load_all([str(path), f"{path}:hello"], [])
    with pytest.raises(ProgramError, match="not a directory"):
        load_all([], [str(path)])


def test_a_directory_installs_its_files_but_not_helpers(tmp_path: Path) -> None:
    write(tmp_path, "hello.py", HELLO)
    write(tmp_path, "crash.py", CRASH)
    write(tmp_path, "_helper.py", "x = 1\n")
    assert sorted(load_all([], [str(tmp_path)])) == ["crash", "hello"]


def test_programs_run_in_the_system_like_built_in_commands(tmp_path: Path) -> None:
    path = write(tmp_path, "hello.py", HELLO)
    r = emu("--program", str(path), "--program", f"{path}:hi", "-c", "hello a b; /bin/hi; echo $")
    assert r.stdout == "hello from hello a b\nhello from /bin/hi\n$\n"
    assert r.returncode == 0


def test_bin_lists_the_systems_commands_and_the_installed_programs(tmp_path: Path) -> None:
    path = write(tmp_path, "hello.py", HELLO)
    r = emu("--program", f"{path}:hi", "-c", "ls /bin; cat /bin/hi; ls -l /bin/hi; help")
    assert r.returncode == 0, r.stderr
    names = r.stdout.split("from qrv.lib.c import")[0].split()
    assert names == sorted(COMMANDS.keys() | {"hi"})  # every name the shell runs as a program
    assert HELLO in r.stdout  # the file is the program's source
    assert f"-r-xr-xr-x  1     0     0 {len(HELLO):>8} /bin/hi\n" in r.stdout
    assert re.search(r"^hi +your program \(/bin/hi\)$", r.stdout, re.M)  # help lists it


GREET = '''\
"""greet [-l] NAME: say hello to NAME (-l: loudly).

More about greet, which use does not print.
"""


def main(argv: list[str]) -> int:
    return 0
'''


def test_use_prints_an_installed_programs_usage_message(tmp_path: Path) -> None:
    """QNX's use reads the usage message kept in the executable: /bin/NAME's docstring."""
    write(tmp_path, "greet.py", GREET)
    write(tmp_path, "hello.py", HELLO)  # no docstring: no usage message
    r = emu("--programs", str(tmp_path), "-c", "use greet; use hello; echo $?; use nope; use cat")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["greet [-l] NAME: say hello to NAME (-l: loudly).", "1"]
    assert len(lines) == 3 and lines[2].startswith("cat [-u] [FILE...]: ")  # a system one
    assert "use: hello: no usage message\n" in r.stderr
    assert "use: nope: not found\n" in r.stderr


def test_a_crash_is_status_139_with_the_traceback_in_the_system_log(tmp_path: Path) -> None:
    write(tmp_path, "crash.py", CRASH)
    r = emu("--programs", str(tmp_path), "-c", "crash; echo after")
    assert r.returncode == 0 and r.stdout == "after\n"
    log = r.stderr
    assert "terminated: ZeroDivisionError: integer division or modulo by zero" in log
    assert "Traceback" in log and "in helper" in log and "crash.py" in log
    assert "qrv/kernel" not in log  # the traceback starts at the program's own frame


def test_emu_refuses_a_bad_program_in_one_line_before_booting(tmp_path: Path) -> None:
    path = write(tmp_path, "spy.py", "import qrv.hw.bus\n" + HELLO)
    r = emu("--program", str(path), "-c", "echo booted")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "imports qrv.hw.bus; programs may use only" in r.stderr
    r = emu("--program", str(tmp_path / "nope.py"), "-c", "echo booted")
    assert r.returncode == 2 and r.stderr.strip().endswith("nope.py: No such file or directory")


NAMES = st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=70)
FEW = settings(max_examples=50, deadline=None)


@FEW
@given(name=NAMES)
def test_a_name_is_taken_or_refused_in_one_line(name: str) -> None:
    ok = (
        name != ""
        and len(name) <= MAX_NAME
        and name[0] not in "-.+"
        and all(c.isalnum() or c in "_.+-" for c in name)
    )
    try:
        check_name(name, "p.py", reserved=())
    except ProgramError as exc:
        assert not ok and "\n" not in str(exc)
    else:
        assert ok


@FEW
@given(name=NAMES.filter(lambda n: "/" not in n and ":" not in n and n != ""))
def test_a_spec_names_its_program_after_the_last_colon(name: str) -> None:
    assert parse_spec(f"dir/prog.py:{name}") == (Path("dir/prog.py"), name)
    assert parse_spec("dir/prog.py") == (Path("dir/prog.py"), "prog")


@pytest.mark.slow
@settings(FEW, max_examples=5000)
@given(name=NAMES)
def test_names_many(name: str) -> None:
    test_a_name_is_taken_or_refused_in_one_line.hypothesis.inner_test(name)  # type: ignore[attr-defined]

"""qrv.dataclass_code: the methods @dataclass writes, from a table kept across runs (issue 16)."""

from __future__ import annotations

import dataclasses
import inspect
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qrv import dataclass_code
from qrv.dataclass_code import CodeTable, install, load, save, uninstall


@pytest.fixture
def restored() -> Iterator[None]:
    yield
    uninstall()


def make_point() -> type:
    @dataclasses.dataclass(frozen=True)
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = ()

    return Point


def test_a_class_from_the_table_is_the_class_compiled_anew(tmp_path: Path, restored: None) -> None:
    path = str(tmp_path / "table.bin")
    first = install(path)
    compiled = make_point()
    assert first.hits == 0 and len(first.compiled) >= 6  # init repr eq hash setattr delattr
    save(first.compiled, path)

    second = install(path)
    cached = make_point()
    assert second.hits == len(first.compiled) and not second.compiled
    uninstall()
    plain = make_point()
    for cls in (compiled, cached):
        assert inspect.signature(cls) == inspect.signature(plain)
        assert cls.__init__.__annotations__ == plain.__init__.__annotations__
        p = cls(1, 2, ("a",))
        assert repr(p) == repr(plain(1, 2, ("a",)))
        assert repr(p).endswith("Point(x=1, y=2, tags=('a',))")
        assert p == cls(1, 2, ("a",)) and p != cls(1)
        assert hash(p) == hash(cls(1, 2, ("a",)))
        with pytest.raises(dataclasses.FrozenInstanceError):
            p.x = 3  # type: ignore[misc]
        with pytest.raises(TypeError):
            cls()


def test_a_text_missing_from_the_table_is_compiled(tmp_path: Path, restored: None) -> None:
    path = str(tmp_path / "table.bin")
    table = install(path)
    make_point()
    save({}, path)  # an empty table: every text is compiled again
    again = install(path)
    assert make_point()(5).x == 5
    assert again.hits == 0 and set(again.compiled) == set(table.compiled)


def test_another_interpreters_or_a_broken_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "table.bin"
    assert load(str(path)) == {}  # missing
    table = CodeTable()
    table.exec("def f(): return 1", {}, ns := {})
    save(table.compiled, str(path))
    assert set(load(str(path))) == {"def f(): return 1"} and ns["f"]() == 1
    data = path.read_bytes()
    path.write_bytes(b"\0\0\0\0" + data[4:])  # another bytecode magic number
    assert load(str(path)) == {}
    path.write_bytes(data[:-10])  # cut short
    assert load(str(path)) == {}
    path.write_bytes(data[:4] + b"not marshal")
    assert load(str(path)) == {}


def test_save_leaves_no_temporary_file(tmp_path: Path) -> None:
    save({}, str(tmp_path / "sub" / "table.bin"))
    assert os.listdir(tmp_path / "sub") == ["table.bin"]


def test_the_table_make_writes_serves_a_whole_boot(tmp_path: Path) -> None:
    """``python -m qrv.dataclass_code`` records every text the boot's imports compile."""
    path = tmp_path / "table.bin"
    probe = (
        "import sys\n"
        "from qrv import dataclass_code\n"
        "if sys.argv[2] == 'record':\n"
        "    sys.exit(dataclass_code.main(sys.argv[1:2]))\n"
        "table = dataclass_code.install(sys.argv[1])\n"
        "import qrv.emu\n"
        "print(table.hits, len(table.compiled))\n"
    )
    run = [sys.executable, "-c", probe, str(path)]
    subprocess.run([*run, "record"], check=True, capture_output=True, timeout=120)
    out = subprocess.run([*run, "boot"], check=True, capture_output=True, text=True, timeout=120)
    hits, compiled = map(int, out.stdout.split())
    assert hits > 300 and compiled == 0


def test_the_qrv_command_installs_it() -> None:
    probe = (
        "import dataclasses, qrv.cli\n"
        "qrv.cli.main(['--version'])\n"
        "print(vars(dataclasses)['exec'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "CodeTable.exec" in out.stdout.splitlines()[-1]
    assert dataclass_code.FILE.endswith(f"dataclasses.{sys.implementation.cache_tag}.bin")

"""The tutorial cannot rot: every ``console`` block of docs/tutorial.md is run on both
machines, from the repository's root, and must print exactly what the block shows."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_tool

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
T = 120


def examples() -> list[tuple[list[str], str]]:
    """(argv after ``qrv``, expected stdout) of every console block."""
    out = []
    for block in BLOCK.findall(TUTORIAL.read_text()):
        first, _, rest = block.partition("\n")
        assert first.startswith("$ qrv "), first
        out.append((shlex.split(first[len("$ qrv ") :]), rest))
    return out


EXAMPLES = examples()


def test_the_tutorial_shows_every_example_program() -> None:
    shown = " ".join(" ".join(argv) for argv, _ in EXAMPLES)
    for program in sorted((ROOT / "examples").glob("*.py")):
        assert program.stem in shown, f"{program.name} is not run by any tutorial example"
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("machine", ["builtin", pytest.param("qemu", marks=pytest.mark.qemu)])
@pytest.mark.parametrize(("argv", "expected"), EXAMPLES, ids=[str(i) for i in range(len(EXAMPLES))])
def test_an_example_prints_what_the_tutorial_shows(
    argv: list[str], expected: str, machine: str
) -> None:
    if machine == "qemu":
        require_tool("qemu-system-riscv64", "qemu-system-misc")
    run = subprocess.run(
        [sys.executable, "-m", "qrv", *argv, "--machine", machine],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=T,
        check=False,
    )
    assert run.stdout == expected, run.stderr
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr

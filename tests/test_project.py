"""The project files a new user runs first: the Makefile and pyproject.toml (issue 10)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_make_run_quotes_the_image_path() -> None:
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    r = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "run", "IMAGE=/tmp/with space.img"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    run_line = next(line for line in r.stdout.splitlines() if " emu " in line)
    assert shlex.split(run_line)[-2:] == ["--image", "/tmp/with space.img"]


def test_license_is_an_spdx_string_the_build_backend_understands() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    requires = project["build-system"]["requires"]
    # PEP 639 license expressions: setuptools 77 and later
    assert any(r.replace(" ", "").startswith("setuptools>=") for r in requires)
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    assert tuple(int(x) for x in setuptools.split(">=")[1].split(".")) >= (77,)


def test_make_run_compiles_the_changed_package_first() -> None:
    """`make run` compiles qrv's bytecode ahead (PYTHONDONTWRITEBYTECODE=1 would leave every
    start compiling every module) and does it again when a source changed."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    r = subprocess.run(
        ["make", "-n", "-W", "src/qrv/emu.py", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = r.stdout.splitlines()
    compiles = [i for i, line in enumerate(lines) if "-m compileall" in line and " src" in line]
    boots = [i for i, line in enumerate(lines) if " emu " in line]
    assert compiles and boots and compiles[0] < boots[0], r.stdout

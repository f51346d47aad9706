"""Boot wall time: ``qrv emu --nvme -c 'exit 0'``, beside a same-run bare interpreter start.

Each run is a fresh process (as a user types it); the figure is the median
of several.  The baseline is ``python -c pass`` (interpreter start-up), so
the difference is what the boot itself costs.

The package is copied (without any ``__pycache__``) into a private directory
that ``PYTHONPATH`` puts first, so both cases are measured whatever the
working tree holds:

* cold: ``PYTHONDONTWRITEBYTECODE=1`` (as this environment may set it) and no
  ``.pyc`` of qrv: every start compiles every qrv module again;
* warm: the same after ``python -m compileall`` and ``python -m
  qrv.dataclass_code`` of the copy, as ``make run`` does first (Python reads
  ``.pyc`` files even when it may not write them).

Then, warm: the imports alone (``import qrv.emu`` as the ``qrv`` command does
it), the first boot of a fresh checkout (it creates the image), the same boot
inside this process (no start-up, no imports), and a boot whose controller
never becomes ready (the driver gives up at CAP.TO, 7.5 s of the board's
virtual clock), in wall time beside that CAP.TO.

    python bench/bench_boot.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import qrv
from qrv.emu import BuiltinMachine, run
from qrv.kernel import Stdio

GOAL = 0.4
"""Issue 16: boot to the shell under 0.4 s wall on the built-in board."""


@dataclass
class Case:
    """One command timed as a fresh process; `before` runs ahead of each run (untimed)."""

    argv: list[str]
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)

    def once(self, cwd: str) -> None:
        if self.before is not None:
            self.before()
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        subprocess.run(self.argv, check=True, capture_output=True, env=self.env, cwd=cwd)
        self.walls.append(time.perf_counter() - t0)
        self.cpus.append(_children_cpu() - cpu0)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def in_turns(cases: list[Case], runs: int, cwd: str) -> None:
    """`runs` rounds, each case once per round, so the machine's load falls on each alike."""
    for _ in range(runs):
        for case in cases:
            case.once(cwd)


def private_copy(where: Path, compiled: bool) -> dict[str, str]:
    """A copy of the qrv package at `where`, and an environment that imports it and writes
    no bytecode; if `compiled`, with what ``make`` prepares (the modules' bytecode and the
    dataclass methods' code, :mod:`qrv.dataclass_code`), else with none of it."""
    shutil.copytree(
        Path(qrv.__file__).parent, where / "qrv", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = dict(os.environ, PYTHONPATH=str(where), PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPYCACHEPREFIX", None)
    if compiled:
        if not compileall.compile_dir(where, quiet=1):
            raise SystemExit(f"compileall {where} failed")
        subprocess.run([sys.executable, "-m", "qrv.dataclass_code"], env=env, check=True)
    return env


def in_process(image: str, runs: int) -> float:
    """Median wall seconds of boot + ``exit 0`` + teardown inside this process (no imports)."""
    samples = []
    for _ in range(runs):
        machine = BuiltinMachine(image)
        stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
        t0 = time.perf_counter()
        try:
            run(machine, "exit 0", stdio)
        finally:
            machine.close()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def never_ready(image: str) -> tuple[float, float]:
    """(wall s, virtual s) of a boot whose NVMe controller never sets CSTS.RDY."""
    machine = BuiltinMachine(image)
    assert machine.nvme is not None
    machine.nvme.faults.never_ready = True
    stdio = Stdio(io.BytesIO(), io.BytesIO(), io.BytesIO())
    t0 = time.perf_counter()
    try:
        run(machine, "exit 0", stdio)
        return time.perf_counter() - t0, machine.clock.now()
    finally:
        machine.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cold_env = private_copy(Path(tmp) / "cold", compiled=False)
        warm_env = private_copy(Path(tmp) / "warm", compiled=True)
        image, fresh_image = Path(tmp) / "nvme.img", Path(tmp) / "fresh.img"

        def emu(img: Path) -> list[str]:
            return [
                sys.executable,
                "-m",
                "qrv",
                "emu",
                "--nvme",
                "--image",
                str(img),
                "-c",
                "exit 0",
            ]

        subprocess.run(emu(image), check=True, capture_output=True, env=warm_env, cwd=tmp)
        bare = Case([sys.executable, "-c", "pass"])
        cold = Case(emu(image), cold_env)
        warm = Case(emu(image), warm_env)
        as_cli = "from qrv import dataclass_code; dataclass_code.install(); import qrv.emu"
        imports = Case([sys.executable, "-c", as_cli], warm_env)
        fresh = Case(emu(fresh_image), warm_env, lambda: fresh_image.unlink(missing_ok=True))
        in_turns([bare, cold, warm, imports, fresh], args.runs, tmp)
        inside = in_process(str(image), args.runs)
        stuck, virtual = never_ready(str(image))
    ms = 1000
    print(f"{args.runs} runs of each, in turns; medians          wall ms  cpu ms")
    rows = [
        ("baseline: python -c pass", bare),
        ("qrv emu --nvme -c 'exit 0', cold (no .pyc)", cold),
        (f"qrv emu --nvme -c 'exit 0', warm (goal {GOAL * ms:.0f})", warm),
        ("  its imports alone, warm", imports),
        ("first boot (creates the image), warm", fresh),
    ]
    for label, case in rows:
        print(f"{label:<46} {case.wall * ms:7.0f} {case.cpu * ms:7.0f}")
    print(f"warm boot minus the baseline                   {(warm.wall - bare.wall) * ms:7.0f}")
    print(f"the same boot in-process (no start-up)         {inside * ms:7.0f}")
    print(f"never-ready controller, whole run in-process   {stuck * ms:7.0f}")
    print(f"  the same run on the board's clock            {virtual * ms:7.0f} (CAP.TO 7500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

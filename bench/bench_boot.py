"""Boot wall time: ``qrv emu --nvme -c 'exit 0'``, beside a same-run bare interpreter start.

Each run is a fresh process (as a user types it); the figure is the median
of several.  The baseline is ``python -c pass`` (interpreter start-up), so
the difference is what the boot itself costs; the same boot inside this
process shows it without the imports.  Then a boot whose controller
never becomes ready (the driver gives up at CAP.TO, 7.5 s of the board's
virtual clock), in wall time beside that CAP.TO.

The boot is timed as the environment runs it (with ``PYTHONDONTWRITEBYTECODE=1`` and an
editable install every import compiles its module again) and with bytecode cached (in a
private ``PYTHONPYCACHEPREFIX``, as an installed package has its ``.pyc`` files).

    python bench/bench_boot.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qrv.emu import BuiltinMachine, run
from qrv.kernel import Stdio


def wall(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    """Median wall seconds of `runs` runs of `argv` (each must succeed)."""
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


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
        image = str(Path(tmp) / "nvme.img")
        emu = [sys.executable, "-m", "qrv", "emu", "--nvme", "--image", image, "-c", "exit 0"]
        subprocess.run(emu, check=True, capture_output=True)  # creates the image once
        boot = wall(emu, args.runs)
        cached = dict(os.environ, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pyc"))
        cached.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(emu, check=True, capture_output=True, env=cached)  # writes the cache
        boot_cached = wall(emu, args.runs, cached)
        bare = wall([sys.executable, "-c", "pass"], args.runs)
        inside = in_process(image, args.runs)
        stuck, virtual = never_ready(image)
    print(f"qrv emu --nvme -c 'exit 0'           median {boot * 1000:9.0f} ms")
    print(f"baseline: python -c pass             median {bare * 1000:9.0f} ms")
    print(f"boot itself (difference)                    {(boot - bare) * 1000:9.0f} ms")
    print(f"qrv emu, bytecode cached             median {boot_cached * 1000:9.0f} ms")
    print(f"the same boot in-process (no start-up)      {inside * 1000:9.0f} ms")
    print(f"never-ready controller, whole run    wall   {stuck * 1000:9.0f} ms")
    print(f"  the same run on the board's clock         {virtual * 1000:9.0f} ms (CAP.TO 7500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

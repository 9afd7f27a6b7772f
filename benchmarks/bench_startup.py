"""Median start-up time of `vllmctl --help` and `vllmctl list-models` beside `python -c pass`.

Target: both under 150 ms median on the project's 2-core machine.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 21
TARGET_MS = 150


def median_ms(argv: list[str], cwd: str, env: dict | None = None) -> float:
    subprocess.run(argv, cwd=cwd, env=env, capture_output=True)  # warm the page cache
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    from installed import cli_path

    vllmctl = shutil.which("vllmctl") or str(Path(sys.executable).with_name("vllmctl"))
    with tempfile.TemporaryDirectory() as cwd:
        example = Path(__file__).resolve().parents[1] / "models.example.yaml"
        shutil.copy(example, Path(cwd) / "models.yaml")
        env = {**os.environ, "PYTHONPATH": cli_path(Path(cwd))}  # the console script, running the compiled copy
        baseline = median_ms([sys.executable, "-c", "pass"], cwd)
        print(f"   python -c pass          {baseline:7.1f} ms")
        worst = 0.0
        for args in (["--help"], ["list-models"]):
            ms = median_ms([vllmctl, *args], cwd, env)
            worst = max(worst, ms)
            print(f"   vllmctl {' '.join(args):16s}{ms:7.1f} ms  (+{ms - baseline:.1f} ms over python)")
    verdict = "ok" if worst < TARGET_MS else "OVER TARGET"
    print(f"   target < {TARGET_MS} ms median: {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())

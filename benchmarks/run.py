"""Run every benchmarks/bench_*.py (or the ones named on the command line) and print their figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "cli")]


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted and path.stem not in wanted:
            continue
        print(f"== {name}", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            result = module.main()
        except Exception as e:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
            print(f"   failed: {type(e).__name__}: {e}", flush=True)
            result = 1
        failures += bool(result)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

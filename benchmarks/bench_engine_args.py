"""Engine-argument checks for 100 models: must stay well under 0.5 s without importing vllm.

    python benchmarks/bench_engine_args.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))

BUDGET_S = 0.5
MODELS = 100


def _model_specs(n: int) -> list[dict]:
    specs = []
    for i in range(n):
        name = f"model-{i}"
        extra = ["--served-model-name", name, "--max-num-batched-tokens", "8192", "--enforce-eager",
                 "--kv-cache-dtype", "fp8", "--compilation-config", '{"mode": 3, "cudagraph_capture_sizes": [1, 2]}']
        if i % 10 == 0:  # some broken ones, so the slow paths (did-you-mean, choices) are measured too
            extra += ["--max-num-batched-tokns", "8192", "--dtype", "bf16"]
        specs.append({
            "name": name,
            "modelURL": f"org/model-{i}",
            "enableTool": True,
            "toolCallParser": "hermes",
            "vllmConfig": {"maxModelLen": 8192, "dtype": "bfloat16", "tensorParallelSize": 2,
                           "gpuMemoryUtilization": 0.9, "maxNumSeqs": 64, "extraArgs": extra},
        })
    return specs


HEAVY = ("vllm", "torch", "pydantic", "jinja2", "typer", "rich", "httpx")


def cold_start() -> tuple[float, list[str]]:
    """A fresh interpreter importing the checker, loading the data and checking 100 models:
    (seconds, heavy modules it imported)."""
    code = (
        "import sys, time; t = time.perf_counter(); sys.path.insert(0, sys.argv[1]);"
        "from benchmarks.bench_engine_args import run_once, HEAVY; run_once();"
        "print(time.perf_counter() - t, *[m for m in HEAVY if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True)
    seconds, *heavy = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), heavy


def run_once() -> int:
    from vllmctl.core.engine_args import check, spec_for_tag
    from vllmctl.core.engine_argv import engine_argv

    spec, _ = spec_for_tag("v0.32.0")
    problems = 0
    for model in _model_specs(MODELS):
        problems += len(check(model["name"], engine_argv(model, "0.1.12"), spec))
    return problems


def main() -> int:
    t = time.perf_counter()
    from vllmctl.core.engine_args import load_spec

    load_spec("0.32.0")
    load_s = time.perf_counter() - t
    runs = []
    for _ in range(20):
        t = time.perf_counter()
        problems = run_once()
        runs.append(time.perf_counter() - t)
    cold, heavy = cold_start()
    print(f"engine args: {MODELS} models, {problems} problems found per run")
    print(f"  import + data load     {load_s * 1000:7.1f} ms")
    median_ms, max_ms = statistics.median(runs) * 1000, max(runs) * 1000
    print(f"  check {MODELS} models (warm) median {median_ms:7.1f} ms, max {max_ms:.1f} ms")
    print(f"  cold process, all-in   {cold * 1000:7.1f} ms (budget {BUDGET_S * 1000:.0f} ms)")
    print(f"  heavy modules imported: {heavy or 'none'}")
    ok = cold < BUDGET_S and not heavy
    print("  OK" if ok else "  OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

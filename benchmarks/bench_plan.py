"""`plan` of 100 models with cached model facts (target: under 1 s), in process and as the CLI."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vllmctl.core.model_facts import ModelFacts
from vllmctl.core.settings import load_settings
from vllmctl.workflows import model_facts as facts_wf
from vllmctl.workflows import plan as plan_wf

TARGET_S = 1.0
COUNT = 100
ROOT = Path(__file__).resolve().parent.parent
DATA = json.loads((ROOT / "tests" / "unit" / "data" / "model_facts" / "models.json").read_text())["models"]


def prepare(tmp: Path) -> dict[str, str]:
    cache = tmp / "cache"
    lines = []
    for i in range(COUNT):
        m = DATA[i % len(DATA)]
        repo = f"bench/model-{i}"
        shards = {f"model-{k:05d}.safetensors": 4 * 2**30 for k in range(4)}
        facts = ModelFacts(repo, "main", sha=f"{i:040x}", config=m["config"], safetensors=m["safetensors"],
                           files=shards, fetched_at="2026-12-01T00:00:00Z")
        facts_wf.write_cached(cache, facts)
        lines.append(f"- name: model-{i}\n  modelURL: {repo}\n  requestGPU: 2\n  pvcStorage: 100Gi\n"
                     f"  vllmConfig:\n    maxModelLen: 8192\n    tensorParallelSize: 2\n")
    (tmp / "models.yaml").write_text("".join(lines))
    return {"VLLM_MODELS_FILE": str(tmp / "models.yaml"), "VLLM_MODEL_FACTS_CACHE": str(cache),
            "VLLM_OFFLINE": "true", "VLLM_GPU_MEMORY": "80Gi", "VLLM_CHART_VERSION": "0.1.12"}


def in_process(env: dict[str, str]) -> float:
    settings = load_settings(env)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        result = plan_wf.plan(settings, use_cluster=False)
        times.append(time.perf_counter() - start)
        assert len(result.fit.reports) == COUNT and all(r.fits is not None for r in result.fit.reports)
    return statistics.median(times)


def cli(env: dict[str, str]) -> float:
    child = {**os.environ, **env, "PYTHONPATH": str(ROOT / "cli")}
    times = []
    for _ in range(3):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "vllmctl.main", "plan", "--no-cluster", "-o", "json"],
                              env=child, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        assert len(json.loads(proc.stdout)["models"]) == COUNT, proc.stderr
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = prepare(Path(tmp))
        plan_wf.plan(load_settings(env), use_cluster=False)  # warm: engine data, schemas
        inner, outer = in_process(env), cli(env)
    print(f"   plan of {COUNT} models, cached facts: {inner * 1000:7.1f} ms in process, "
          f"{outer * 1000:7.1f} ms as `vllmctl plan -o json` (with interpreter start-up)")
    ok = inner < TARGET_S
    print(f"   target: < {TARGET_S} s in process: {'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

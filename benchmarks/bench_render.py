"""Time to validate and render 100 and 300 models (target: 300 in under 0.15 s, linear cost).

300 of these models (about 22 keys and values each) is near the most one models.yaml may hold
(core.safe_yaml.MAX_NODES, 8,000 keys and values); 1,000, as this measured before that bound, are
refused. The target keeps the rate it had: half a millisecond a model."""

from __future__ import annotations

import statistics
import sys
import time

from vllmctl.core.render import RenderRequest, render
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

LARGE = 300
TARGET_S = 0.15


def models_yaml(count: int) -> str:
    entry = (
        "- name: model-{i}\n  modelURL: org/model-{i}\n  requestGPU: 2\n  requestMemory: 32Gi\n"
        "  env: {{LOG: debug}}\n  vllmConfig:\n    maxModelLen: 8192\n    tensorParallelSize: 2\n"
        "    extraArgs: [--enforce-eager]\n"
    )
    return "".join(entry.format(i=i) for i in range(count))


def timed(count: int) -> tuple[float, float]:
    text = models_yaml(count)
    settings = Settings(chart_version="0.1.12")
    load_times, render_times = [], []
    for _ in range(5):
        start = time.perf_counter()
        loaded = validate_text(text, "models.yaml", settings)
        mid = time.perf_counter()
        render(RenderRequest(models=loaded.models, settings=settings, chart_version="0.1.12",
                             source="models.yaml", source_text=text))
        render_times.append(time.perf_counter() - mid)
        load_times.append(mid - start)
    return statistics.median(load_times), statistics.median(render_times)


def main() -> int:
    timed(10)  # templates compiled, schemas built
    results = {}
    for count in (100, LARGE):
        load, rend = timed(count)
        results[count] = rend
        print(f"   {count:5d} models: render {rend * 1000:7.1f} ms   (parse+validate {load * 1000:7.1f} ms)")
    ratio = results[LARGE] / results[100]
    print(f"   {LARGE} / 100 render time: {ratio:.1f}x (linear is ~{LARGE // 100}x)")
    ok = results[LARGE] < TARGET_S
    print(f"   target: {LARGE} models rendered in < {TARGET_S} s: {'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

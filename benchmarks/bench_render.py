"""Time to validate and render 100 and 1,000 models (target: 1,000 in under 0.5 s, linear cost)."""

from __future__ import annotations

import statistics
import sys
import time

from vllmctl.core.render import RenderRequest, render
from vllmctl.core.settings import Settings
from vllmctl.workflows.models import validate_text

TARGET_S = 0.5


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
    for count in (100, 1000):
        load, rend = timed(count)
        results[count] = rend
        print(f"   {count:5d} models: render {rend * 1000:7.1f} ms   (parse+validate {load * 1000:7.1f} ms)")
    ratio = results[1000] / results[100]
    print(f"   1,000 / 100 render time: {ratio:.1f}x (linear is ~10x)")
    ok = results[1000] < TARGET_S
    print(f"   target: 1,000 models rendered in < {TARGET_S} s: {'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The chart check of 10 models beside `helm template` alone, both measured here in the same run, with
the real vllm-stack chart of the default version (tests/env/charts.py says where it comes from).

baseline: a bare `helm template` of the chart with the same values (a child process, as helm runs).
check:    workflows.chart_check.check: helm template through the adapter, the chart's defaults, the lint.
lint:     core.chart_lint.lint alone on that manifest (what the check adds to templating).
Target: the check adds < 0.3 s to helm template alone."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "cli")]

MODELS = 10
ROUNDS = 7
TARGET_S = 0.3


def _models_yaml() -> str:
    import yaml

    entries = [{"name": f"model-{i}", "modelURL": f"example-org/model-{i}", "requestGPU": 2, "requestMemory": "32Gi",
                "hfTokenRequired": i % 2 == 0, "env": {"VLLM_LOGGING_LEVEL": "INFO"},
                "vllmConfig": {"maxModelLen": 8192, "extraArgs": ["-tp", "2", "--enforce-eager"]}}
               for i in range(MODELS)]
    return yaml.safe_dump(entries, sort_keys=False)


def _median(fn) -> float:
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    import json

    from tests.env.charts import chart_package
    from tests.env.procs import helm_binary

    from vllmctl.adapters.chart_source import ChartRef
    from vllmctl.adapters.helm import Helm
    from vllmctl.core.chart_lint import LintInput, lint
    from vllmctl.core.settings import Settings
    from vllmctl.workflows import chart_check
    from vllmctl.workflows import render as render_wf
    from vllmctl.workflows.models import validate_text

    version = Settings().chart_version
    package = chart_package(version)
    settings = Settings(chart=str(package))
    loaded = validate_text(_models_yaml(), "models.yaml", settings)
    loaded, rendered = render_wf.render_models(settings, loaded=loaded)
    chart = ChartRef(str(package), None, None, version, True)
    helm_path = helm_binary()
    helm = Helm(None, executable=helm_path)
    values = json.dumps(rendered.values)
    argv = [helm_path, "template", settings.release, str(package), "--namespace", settings.namespace,
            "--is-upgrade", "--skip-tests", "--values", "-"]

    def bare() -> None:
        subprocess.run(argv, input=values, capture_output=True, text=True, check=True)

    def checked() -> None:
        chart_check.check(rendered, loaded.document, chart, helm=helm)

    manifest = chart_check.check(rendered, loaded.document, chart, helm=helm).manifest  # warm: imports, caches
    bare_s, check_s = _median(bare), _median(checked)
    lint_s = _median(lambda: lint(LintInput(manifest, rendered.request, loaded.document, {}, None)))
    added = check_s - bare_s
    print(f"   {MODELS} models, vllm-stack {version}, median of {ROUNDS}")
    print(f"   helm template alone     {bare_s * 1000:7.1f} ms   (baseline)")
    print(f"   chart check (template + defaults + lint) {check_s * 1000:7.1f} ms   {check_s / bare_s:4.2f}x baseline")
    print(f"   lint alone              {lint_s * 1000:7.1f} ms   {lint_s / bare_s:4.2f}x baseline")
    ok = added < TARGET_S
    print(f"   added over helm template: {added * 1000:.1f} ms; target < {TARGET_S * 1000:.0f} ms: "
          f"{'ok' if ok else 'OVER TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

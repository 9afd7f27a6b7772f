"""`vllmctl install` of 10 models (not waiting for pods) beside a bare `helm upgrade --install` of the
same chart and values, and a no-op `vllmctl upgrade`, against a local API server started here
(tests/env), with the real vllm-stack chart of the default version (tests/env/charts.py says where
it comes from). Targets: install overhead under 2x bare helm; no-op upgrade under 2 s.

The two installs take turns going first: each one leaves the controllers and the scheduler rolling
out its ten Deployments, which slows whatever the API server serves next (by 0.2-0.35 s measured
here, for either), so a fixed order would charge that to whichever always runs second. An untimed
install of each first warms what only the first one pays (helm's discovery cache, the API server's
first writes: a second and a half more)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "cli"), str(REPO / "benchmarks")]

MODELS = 10
ROUNDS = 6  # even: each install goes first in half of them
OVERHEAD_TARGET = 2.0
NOOP_TARGET_S = 2.0


def _start_cluster(workdir: Path):
    from tests.env.kube import KubeEnv
    from tests.env.kubelet import FakeKubelet
    from tests.env.pki import PKI

    pki = PKI(workdir / "pki")
    pair = pki.serving_cert("kubelet", dns=("localhost", "gpu-node-1"))
    kubelet = FakeKubelet(pair.cert_file, pair.key_file)
    return KubeEnv(workdir / "kube", pki=pki, kubelet=kubelet).start(), kubelet


def _models_yaml(path: Path) -> None:
    import yaml

    entries = [{"name": f"model-{i}", "modelURL": f"example-org/model-{i}", "requestCPU": 1,
                "requestMemory": "1Gi", "requestGPU": 0, "pvcStorage": "1Gi", "hfTokenRequired": False}
               for i in range(MODELS)]
    path.write_text(yaml.safe_dump(entries, sort_keys=False))


def _timed(argv: list[str], env: dict, cwd: Path, stdin: str = "") -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return elapsed


def main() -> int:
    from installed import cli_path
    from tests.env.charts import chart_for_test_server
    from tests.env.procs import helm_binary

    from vllmctl.core.settings import Settings

    with tempfile.TemporaryDirectory(prefix="vllmctl-bench-install-") as tmp:
        work = Path(tmp)
        chart = chart_for_test_server(Settings().chart_version, work / "charts")
        cluster, kubelet = _start_cluster(work)
        try:
            _models_yaml(work / "models.yaml")
            env = {**os.environ, **cluster.env(), "VLLM_CHART": str(chart), "VLLM_RUNTIME_CLASS": "",
                   "VLLM_API_KEY_ENABLED": "false", "PYTHONPATH": cli_path(work)}
            env.pop("CI", None)
            vllmctl = [sys.executable, "-m", "vllmctl.main"]
            # the same values vllmctl hands helm
            subprocess.run([*vllmctl, "render", "--output-dir", str(work / "out")], env=env, cwd=work,
                           check=True, capture_output=True)
            values = (work / "out" / "values.yaml").read_text()
            helm = helm_binary()

            def one_round(label: str, install_first: bool) -> tuple[float, float, float]:
                """(bare helm, vllmctl install, no-op vllmctl upgrade) seconds, each in a new namespace."""
                def bare() -> float:
                    return _timed([helm, "upgrade", "--install", "vllm", str(chart), "--namespace", f"bare-{label}",
                                   "--create-namespace", "--values", "-"], env, work, values)

                def install() -> float:
                    return _timed([*vllmctl, "install", "--no-wait", "--namespace", f"tool-{label}"], env, work)

                if install_first:
                    t = install()
                    b = bare()
                else:
                    b = bare()
                    t = install()
                return b, t, _timed([*vllmctl, "upgrade", "--namespace", f"tool-{label}"], env, work)

            one_round("warm", False)
            bare, tool, noop = zip(*(one_round(str(i), i % 2 == 1) for i in range(ROUNDS)), strict=True)
        finally:
            cluster.stop()
            kubelet.close()
    b, t, n = statistics.median(bare), statistics.median(tool), statistics.median(noop)
    ratio = t / b
    print(f"   bare helm upgrade --install, {MODELS} models: {b:6.2f} s (median of {ROUNDS})")
    print(f"   vllmctl install --no-wait,   {MODELS} models: {t:6.2f} s")
    print(f"   vllmctl upgrade (no changes):            {n:6.2f} s")
    print(f"   install / bare helm: {ratio:.2f}x (target < {OVERHEAD_TARGET}x): "
          f"{'ok' if ratio < OVERHEAD_TARGET else 'OVER TARGET'}")
    print(f"   no-op upgrade < {NOOP_TARGET_S} s: {'ok' if n < NOOP_TARGET_S else 'OVER TARGET'}")
    print(json.dumps({"bare_s": round(b, 3), "install_s": round(t, 3), "noop_upgrade_s": round(n, 3),
                      "ratio": round(ratio, 3)}))
    return 0 if ratio < OVERHEAD_TARGET and n < NOOP_TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

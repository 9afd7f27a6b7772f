"""Shared by the deploy/ops integration tests: a models.yaml, the CLI's environment, cluster reads.

Every run names the real chart it deploys (VLLM_CHART): the `cli` fixture of conftest.py binds the
test's chart (`chart_version`, default NEWEST; BOTH_CHARTS parametrizes a test over the seed's and
the newest chart); `vllmctl(...)` refuses to run without one, so no test rests on the default version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.helpers import Result, run_cli

SEED_CHART, NEWEST_CHART = "0.1.8", "0.1.12"  # the seed's default chart, and the newest known one
BOTH_CHARTS = pytest.mark.parametrize("chart_version", [SEED_CHART, NEWEST_CHART])


def model(name: str, **overrides) -> dict:
    entry = {"name": name, "modelURL": f"example-org/{name}", "requestCPU": 1, "requestMemory": "1Gi",
             "requestGPU": 0, "pvcStorage": "1Gi", "hfTokenRequired": False}
    entry.update(overrides)
    return entry


def write_models(directory: Path, *entries: dict) -> Path:
    path = directory / "models.yaml"
    path.write_text(yaml.safe_dump(list(entries), sort_keys=False))
    return path


def cli_env(kube_env, namespace: str, **extra: str) -> dict[str, str]:
    """The CLI's environment for a test namespace; the chart (VLLM_CHART) comes with `extra`."""
    env = {
        **kube_env.env(),
        "VLLM_NAMESPACE": namespace,
        "VLLM_RUNTIME_CLASS": "",
        "VLLM_API_KEY_ENABLED": "false",
        "VLLM_STUCK_AFTER": "3s",
        "VLLM_HELM_TIMEOUT": "60s",
    }
    env.update(extra)
    return env


def vllmctl(tmp_path, kube_env, namespace, *args, env=None, **kw) -> Result:
    merged = cli_env(kube_env, namespace, **(env or {}))
    assert "VLLM_CHART" in merged, "name the real chart this run deploys: env={'VLLM_CHART': ...} (the `cli` fixture)"
    return run_cli(*args, cwd=tmp_path, env=merged, **kw)


@dataclass
class Cli:
    """`cli("install", ...)`: vllmctl in the test's directory and namespace with the test's chart."""

    tmp_path: Path
    kube_env: object
    namespace: str
    chart: Path

    def env(self, **extra: str) -> dict[str, str]:
        return cli_env(self.kube_env, self.namespace, VLLM_CHART=str(self.chart), **extra)

    def __call__(self, *args: str, env: dict | None = None, ns: str | None = None, **kw) -> Result:
        return vllmctl(self.tmp_path, self.kube_env, ns or self.namespace, *args,
                       env={"VLLM_CHART": str(self.chart), **(env or {})}, **kw)


def helm_revisions(kube_env, helm_bin, namespace, release="vllm") -> list[dict]:
    import json
    import subprocess

    out = subprocess.run([helm_bin, "history", release, "-n", namespace, "-o", "json"], env={
        **os.environ, **kube_env.env()}, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else []


def namespace_going(kube_env, name: str) -> bool:
    """The namespace is gone or being deleted."""
    from kubernetes import client

    with kube_env.api_client() as api:
        try:
            return client.CoreV1Api(api).read_namespace(name).status.phase == "Terminating"
        except client.exceptions.ApiException as e:
            return e.status == 404

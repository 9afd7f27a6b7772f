"""Shared by the deploy/ops integration tests: a models.yaml, the CLI's environment, cluster reads."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers import run_cli

CHART = Path(__file__).resolve().parents[1] / "charts" / "vllm-stack"


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
    env = {
        **kube_env.env(),
        "VLLM_NAMESPACE": namespace,
        "VLLM_CHART": str(CHART),
        "VLLM_RUNTIME_CLASS": "",
        "VLLM_API_KEY_ENABLED": "false",
        "VLLM_STUCK_AFTER": "3s",
        "VLLM_HELM_TIMEOUT": "60s",
    }
    env.update(extra)
    return env


def vllmctl(tmp_path, kube_env, namespace, *args, env=None, **kw):
    return run_cli(*args, cwd=tmp_path, env={**cli_env(kube_env, namespace), **(env or {})}, **kw)


def helm_revisions(kube_env, helm_bin, namespace, release="vllm") -> list[dict]:
    import json
    import subprocess

    out = subprocess.run([helm_bin, "history", release, "-n", namespace, "-o", "json"], env={
        **__import__("os").environ, **kube_env.env()}, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else []


def namespace_going(kube_env, name: str) -> bool:
    """The namespace is gone or being deleted."""
    from kubernetes import client

    with kube_env.api_client() as api:
        try:
            return client.CoreV1Api(api).read_namespace(name).status.phase == "Terminating"
        except client.exceptions.ApiException as e:
            return e.status == 404

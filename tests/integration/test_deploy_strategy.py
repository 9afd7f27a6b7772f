"""Recreate stays in force once chosen; short of GPUs for a rolling update, the warning comes before
the wait and again in the failure, and `-o json` gets a JSON document for the failure too."""

from __future__ import annotations

import json

from tests.integration.deploy_helpers import model, write_models


def strategy(kube_env, namespace: str, name: str) -> str:
    from kubernetes import client

    with kube_env.api_client() as api:
        return client.AppsV1Api(api).read_namespaced_deployment(name, namespace).spec.strategy.type


def test_recreate_stays_in_force_for_diff_and_upgrade(tmp_path, kube_env, namespace, cli):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha", pvcStorage=""))
    r = cli("install", "--update-strategy", "Recreate")
    assert r.code == 0, r.output
    assert strategy(kube_env, namespace, "vllm-alpha-deployment-vllm") == "Recreate"
    # Neither diff nor upgrade, without the flag, turn it back.
    r = cli("diff", "--exit-code")
    assert r.code == 0 and "no changes" in r.stderr, r.output
    r = cli("upgrade", "--detailed-exit-code")
    assert r.code == 5, r.output
    write_models(tmp_path, model("alpha", pvcStorage="", requestMemory="2Gi"))
    r = cli("upgrade")
    assert r.code == 0, r.output
    assert strategy(kube_env, namespace, "vllm-alpha-deployment-vllm") == "Recreate"
    # Asking for RollingUpdate is a change, and diff shows it.
    r = cli("diff", "--update-strategy", "RollingUpdate", "--exit-code")
    assert r.code == 1 and "-    type: Recreate" in r.stdout, r.output


def test_surge_warning_before_the_wait_and_in_the_failure(tmp_path, kube_env, namespace, cli):
    # gpu-node-1 has 2 GPUs: the running model holds both, so its rolling update cannot start a pod.
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("big", requestGPU=2, pvcStorage=""))
    r = cli("install", env={"VLLM_RUNTIME_CLASS": ""})
    assert r.code == 0, r.output
    write_models(tmp_path, model("big", requestGPU=2, pvcStorage="", requestMemory="2Gi"))
    r = cli("upgrade", "--no-atomic", timeout=120)
    assert r.code == 4, r.output
    lines = r.stderr.splitlines()
    warned = next(i for i, line in enumerate(lines) if line.startswith("warning: preflight: a rolling update"))
    applied = next(i for i, line in enumerate(lines) if "helm" in line.lower() and line.startswith("→"))
    assert warned < applied, r.stderr  # on screen before the release is applied and waited for
    failure = lines[-1]
    assert failure.startswith("error: rollout failed:") and "Insufficient nvidia.com/gpu" in failure
    assert "Preflight warned: a rolling update needs up to 4" in failure and "--update-strategy Recreate" in failure

    write_models(tmp_path, model("big", requestGPU=2, pvcStorage="", requestMemory="3Gi"))
    r = cli("upgrade", "--no-atomic", "-o", "json", timeout=120)
    assert r.code == 4, r.output
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["exit_code"] == 4 and "Recreate" in doc["error"]

"""preflight against the real API server: facts from nodes, storage and runtime classes."""

from __future__ import annotations

import json

from tests.integration.deploy_helpers import helm_revisions, model, write_models


def _findings(r):
    return {(f["severity"], f["rule"]): f["message"] for f in json.loads(r.stdout)["findings"]}


def test_preflight_findings(tmp_path, cli, kube_env, helm_bin, namespace, runtime_class):
    write_models(tmp_path, model("big", requestGPU=3), model("many", replicaCount=2))
    r = cli("preflight", "-o", "json",
                env={"VLLM_RUNTIME_CLASS": "nvidia-absent"})
    assert r.code == 1, r.output
    found = _findings(r)
    assert "largest schedulable node has 2" in found[("error", "gpu-fit")]
    assert "RuntimeClass 'nvidia-absent' does not exist" in found[("error", "runtime-class")]
    assert "nvidia" in found[("error", "runtime-class")]  # names what the cluster has
    assert ("warning", "rwo-replicas") in found
    assert ("warning", "default-storage-class") in found

    named = cli("preflight", "-o", "json", env={"VLLM_STORAGE_CLASS": "fast"})
    assert "StorageClass 'fast' does not exist" in _findings(named)[("error", "storage-class")]


def test_install_stops_at_preflight(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("big", requestGPU=3))
    r = cli("install")
    assert r.code == 1, r.output
    assert r.stderr.count("\n") <= 3
    assert "preflight:" in r.stderr and "--skip-preflight" in r.stderr
    assert helm_revisions(kube_env, helm_bin, namespace) == []


def test_preflight_passes(tmp_path, cli, kube_env, namespace, runtime_class):
    write_models(tmp_path, model("small", requestGPU=1, pvcStorage=""))
    r = cli("preflight", env={"VLLM_RUNTIME_CLASS": "nvidia"})
    assert r.code == 0, r.output
    assert "preflight passed" in r.stderr


def _gpu_pod(api, namespace: str, name: str, labels: dict[str, str]) -> None:
    """A pod bound straight to the GPU node (no scheduler), holding one of its two GPUs."""
    from kubernetes import client

    client.CoreV1Api(api).create_namespaced_pod(namespace, {
        "metadata": {"name": name, "labels": labels},
        "spec": {"nodeName": "gpu-node-1", "containers": [{
            "name": "c", "image": "example.invalid/hold:1",
            "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}]},
    })


def test_preflight_counts_replicas_and_the_gpus_other_pods_hold(tmp_path, cli, kube_env, namespace, runtime_class):
    """The node has 2 GPUs. Two replicas of one GPU fit while the only GPU pod there is this release's
    own (an update replaces it); once another workload holds a GPU, they no longer do."""
    write_models(tmp_path, model("pair", requestGPU=1, replicaCount=2, pvcStorage=""))
    env = {"VLLM_RUNTIME_CLASS": "nvidia"}
    with kube_env.api_client() as api:
        _gpu_pod(api, namespace, "old-engine", {"helm-release-name": "vllm"})
        r = cli("preflight", "-o", "json", env=env)
        assert r.code == 0, r.output

        write_models(tmp_path, model("trio", requestGPU=1, replicaCount=3, pvcStorage=""))
        r = cli("preflight", "-o", "json", env=env)
        assert r.code == 1, r.output
        assert "need 3" in _findings(r)[("error", "gpu-total")]  # GPUs per pod times replicas

        write_models(tmp_path, model("pair", requestGPU=1, replicaCount=2, pvcStorage=""))
        _gpu_pod(api, namespace, "training", {"app": "training"})
        r = cli("preflight", "-o", "json", env=env)
        assert r.code == 1, r.output
        message = _findings(r)[("error", "gpu-total")]
        assert "need 2" in message and "1 free" in message

"""preflight against the real API server: facts from nodes, storage and runtime classes."""

from __future__ import annotations

import json

from tests.integration.deploy_helpers import helm_revisions, model, vllmctl, write_models


def _findings(r):
    return {(f["severity"], f["rule"]): f["message"] for f in json.loads(r.stdout)["findings"]}


def test_preflight_findings(tmp_path, kube_env, helm_bin, namespace, runtime_class):
    write_models(tmp_path, model("big", requestGPU=3), model("many", replicaCount=2))
    r = vllmctl(tmp_path, kube_env, namespace, "preflight", "-o", "json",
                env={"VLLM_RUNTIME_CLASS": "nvidia-absent"})
    assert r.code == 1, r.output
    found = _findings(r)
    assert "largest schedulable node has 2" in found[("error", "gpu-fit")]
    assert "RuntimeClass 'nvidia-absent' does not exist" in found[("error", "runtime-class")]
    assert "nvidia" in found[("error", "runtime-class")]  # names what the cluster has
    assert ("warning", "rwo-replicas") in found
    assert ("warning", "default-storage-class") in found

    named = vllmctl(tmp_path, kube_env, namespace, "preflight", "-o", "json", env={"VLLM_STORAGE_CLASS": "fast"})
    assert "StorageClass 'fast' does not exist" in _findings(named)[("error", "storage-class")]


def test_install_stops_at_preflight(tmp_path, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("big", requestGPU=3))
    r = vllmctl(tmp_path, kube_env, namespace, "install")
    assert r.code == 1, r.output
    assert r.stderr.count("\n") <= 3
    assert "preflight:" in r.stderr and "--skip-preflight" in r.stderr
    assert helm_revisions(kube_env, helm_bin, namespace) == []


def test_preflight_passes(tmp_path, kube_env, namespace, runtime_class):
    write_models(tmp_path, model("small", requestGPU=1, pvcStorage=""))
    r = vllmctl(tmp_path, kube_env, namespace, "preflight", env={"VLLM_RUNTIME_CLASS": "nvidia"})
    assert r.code == 0, r.output
    assert "preflight passed" in r.stderr

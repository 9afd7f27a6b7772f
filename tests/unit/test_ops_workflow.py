"""The day-two workflows in-process, against tests/fakes/ports.FakeKube (the real API server's
version of these is tests/integration/test_ops_status.py)."""

from __future__ import annotations

import pytest

from tests.fakes.ports import FakeKube
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, NotInstalled
from vllmctl.workflows import ops

SETTINGS = Settings(namespace="vllm", release="vllm")


def _deployment(name: str, selector: dict, labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "namespace": "vllm", "labels": labels or {}},
            "spec": {"selector": {"matchLabels": selector}}}


def _pod(name: str, labels: dict, *, node: str | None = "gpu-1", ready: bool = True, gpus: int = 1) -> dict:
    return {"metadata": {"name": name, "namespace": "vllm", "labels": labels,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": node, "containers": [{"name": "vllm", "resources": {
                "limits": {"nvidia.com/gpu": str(gpus)}}}]},
            "status": {"phase": "Running" if node else "Pending",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _cluster(**kw) -> FakeKube:
    release = {"helm-release-name": "vllm"}
    return FakeKube(
        deployments=[
            _deployment("vllm-llama-deployment-vllm", {"model": "llama"}, {**release, "model": "llama"}),
            _deployment("vllm-deployment-router", {"app": "router"}),
            _deployment("other-app", {"app": "other"}),
        ],
        pods=[_pod("llama-a", {"model": "llama"}), _pod("llama-b", {"model": "llama"}, node=None, ready=False),
              _pod("router-x", {"app": "router"}, gpus=0), _pod("other-1", {"app": "other"})],
        **kw,
    )


def test_status_lists_the_release_pods_per_model_and_nothing_else():
    rows = ops.status(SETTINGS, _cluster())
    assert [(r["model"], r["pod"], r["ready"], r["node"], r["gpus"]) for r in rows] == [
        ("llama", "llama-a", True, "gpu-1", 1), ("llama", "llama-b", False, "-", 1),
        ("router", "router-x", True, "gpu-1", 0)]


def test_status_without_the_release_says_how_to_install():
    with pytest.raises(NotInstalled, match="vllmctl install"):
        ops.status(SETTINGS, FakeKube())


def test_logs_of_several_pods_are_prefixed_and_only_from_pods_on_a_node():
    kube = _cluster(logs={"llama-a": ["one", "two"], "router-x": ["routed"]})
    assert list(ops.logs(kube, SETTINGS, "llama", follow=False, tail=None)) == ["one", "two"]  # llama-b has no node
    kube.pods.append(_pod("llama-c", {"model": "llama"}))
    kube.logs["llama-c"] = ["three"]
    assert list(ops.logs(kube, SETTINGS, "llama", follow=False, tail=1)) == ["[llama-a] two", "[llama-c] three"]
    assert sorted(ops.logs(kube, SETTINGS, "llama", follow=True, tail=None)) == [
        "[llama-a] one", "[llama-a] two", "[llama-c] three"]


def test_logs_of_an_unknown_model_name_the_deployed_ones():
    with pytest.raises(InvalidInput, match=r"no model 'mistral'.*deployed: llama"):
        list(ops.logs(_cluster(), SETTINGS, "mistral", follow=False, tail=None))


def test_namespace_claims_and_delete():
    kube = FakeKube(pvcs=[{"metadata": {"name": "vllm-llama-storage-claim", "namespace": "vllm"}}])
    assert ops.namespace_claims(kube, SETTINGS) == ["vllm-llama-storage-claim"]
    assert ops.delete_namespace(kube, SETTINGS) and ops.namespace_claims(kube, SETTINGS) == []
    assert ops.create_namespace(SETTINGS, kube) is True

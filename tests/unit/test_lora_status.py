"""core.lora_status: a LoraAdapter's status as the chart's LoRA controller writes it, and the
status workflow's per-pod and per-adapter view of it (against tests/fakes.FakeKube)."""

from __future__ import annotations

from tests.fakes.ports import FakeKube
from tests.unit.test_ops_workflow import SETTINGS, _cluster
from vllmctl.core.lora_status import state_of
from vllmctl.workflows import ops


def _adapter(name: str, *, loaded=(), waiting: str = "", replicas=None, generation=1, observed=1,
             release: str = "vllm", status: bool = True) -> dict:
    spec = {"baseModel": "llama", "adapterSource": {"type": "local", "adapterName": name},
            "loraAdapterDeploymentConfig": {"algorithm": "default", **({"replicas": replicas} if replicas else {})}}
    body = {"observedGeneration": observed,
            "loadedAdapters": [{"name": name, "path": f"/data/{name}", "status": "Loaded",
                                "podAssignments": {"podName": pod, "namespace": "vllm"}} for pod in loaded],
            "conditions": [{"type": "WaitingForPods", "status": "True", "reason": "NoReadyPods",
                            "message": waiting}] if waiting else []}
    return {"metadata": {"name": name, "namespace": "vllm", "generation": generation,
                         "labels": {"helm-release-name": release}},
            "spec": spec, **({"status": body} if status else {})}


def test_loaded_pods_come_from_the_controller_s_loaded_adapters_for_this_adapter_only():
    obj = _adapter("sql", loaded=("llama-a",))
    obj["status"]["loadedAdapters"].append({"name": "other", "status": "Loaded", "path": "/x",
                                            "podAssignments": {"podName": "llama-b", "namespace": "vllm"}})
    obj["status"]["loadedAdapters"].append({"name": "sql", "status": "Failed", "path": "/x",
                                            "podAssignments": {"podName": "llama-c", "namespace": "vllm"}})
    state = state_of(obj)
    assert (state.name, state.model, state.loaded_in) == ("sql", "llama", ("llama-a",))
    assert state.describe(2) == "loaded in 1 of 2 pod(s)" and not state.complete(2)
    assert state.complete(1)


def test_replicas_bound_how_many_pods_it_should_be_in():
    state = state_of(_adapter("sql", loaded=("llama-a",), replicas=1))
    assert state.describe(3) == "loaded in 1 of 1 pod(s)" and state.complete(3)


def test_waiting_for_pods_and_an_unreconciled_spec_are_not_loaded():
    waiting = state_of(_adapter("sql", waiting="No ready pods found for base model llama"))
    assert not waiting.complete(1)
    assert waiting.describe(1) == ("not loaded: the LoRA controller is waiting for pods "
                                   "(No ready pods found for base model llama)")
    stale = state_of(_adapter("sql", loaded=("llama-a",), generation=2, observed=1))
    assert not stale.complete(1) and "not reconciled the newest spec" in stale.describe(1)
    fresh = state_of(_adapter("sql", status=False))
    assert not fresh.complete(1) and "not reported yet" in fresh.describe(1)


def test_status_marks_each_pod_with_the_adapters_loaded_in_it():
    kube = _cluster(lora_adapters=[_adapter("sql", loaded=("llama-a",)), _adapter("docs", loaded=()),
                                   _adapter("theirs", loaded=("llama-a",), release="other")])
    rows = ops.status(SETTINGS, kube)
    by_pod = {r["pod"]: r for r in rows}
    assert by_pod["llama-a"]["adapters"] == {"sql": True, "docs": False}
    assert by_pod["llama-b"]["adapters"] == {"sql": False, "docs": False}
    assert "adapters" not in by_pod["router-x"]  # only a model with adapters gets the key
    lines = ops.adapter_lines(ops.lora_adapters(kube, SETTINGS), rows)
    assert lines == [(False, "adapter docs (model llama): loaded in 0 of 2 pod(s)"),
                     (False, "adapter sql (model llama): loaded in 1 of 2 pod(s)")]


def test_a_cluster_without_the_lora_api_has_no_adapters():
    assert ops.lora_adapters(FakeKube(), SETTINGS) == []
    assert all("adapters" not in r for r in ops.status(SETTINGS, _cluster()))

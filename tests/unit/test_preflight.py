"""Preflight rules on hand-made cluster facts."""

from __future__ import annotations

from vllmctl.core.models import ModelEntry
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check, errors_of

GPU = "nvidia.com/gpu"


def m(name="a", **kw) -> ModelEntry:
    return ModelEntry.model_validate({"name": name, "modelURL": f"org/{name}", **kw})


def facts(*gpus, used=0, deployed=None, classes=("standard",), default="standard", runtimes=("nvidia",)):
    return ClusterFacts(
        nodes=[NodeFacts(f"n{i}", {GPU: g}, {GPU: used if i == 0 else 0}) for i, g in enumerate(gpus)],
        storage_classes=list(classes), default_storage_class=default, runtime_classes=list(runtimes),
        deployed=deployed or {},
    )


def rules(findings):
    return sorted((f.severity, f.rule) for f in findings)


def run(models, f, storage_class="", runtime_class="nvidia", strategy="RollingUpdate"):
    return check(models, f, storage_class=storage_class, runtime_class=runtime_class, update_strategy=strategy)


def test_fits():
    models = [m("a", requestGPU=2), m("b", requestGPU=1, replicaCount=2, pvcAccessMode="ReadWriteMany")]
    assert run(models, facts(2, 2)) == []


def test_model_larger_than_any_node():
    findings = run([m("big", requestGPU=4)], facts(2, 2, 2))
    assert rules(findings) == [("error", "gpu-fit")]
    assert "4 GPUs per pod" in findings[0].message and "largest schedulable node has 2" in findings[0].message


def test_not_enough_gpus_in_total_counts_other_pods():
    findings = run([m("a", requestGPU=2), m("b", requestGPU=2)], facts(2, 2, used=1))
    assert rules(findings) == [("error", "gpu-total")]
    assert "need 4" in findings[0].message and "3 free" in findings[0].message


def test_cordoned_nodes_do_not_count():
    f = ClusterFacts(nodes=[NodeFacts("n0", {GPU: 8}, schedulable=False)], storage_classes=["s"],
                     default_storage_class="s", runtime_classes=["nvidia"])
    assert ("error", "gpu-fit") in rules(run([m("a", requestGPU=1)], f))


def test_rolling_update_surge_suggests_recreate():
    findings = run([m("a", requestGPU=2)], facts(2, deployed={"a": (2, 1)}))
    assert rules(findings) == [("warning", "gpu-surge")]
    assert "Recreate" in findings[0].message
    assert run([m("a", requestGPU=2)], facts(2, deployed={"a": (2, 1)}), strategy="Recreate") == []
    assert run([m("a", requestGPU=2)], facts(4, deployed={"a": (2, 1)})) == []


def test_storage_class_named_or_default():
    assert rules(run([m("a", requestGPU=0)], facts(1), storage_class="fast")) == [("error", "storage-class")]
    assert run([m("a", requestGPU=0, storageClass="standard")], facts(1), storage_class="fast") == []
    no_default = run([m("a", requestGPU=0)], facts(1, default=None))
    assert rules(no_default) == [("warning", "default-storage-class")]
    assert run([m("a", requestGPU=0, pvcStorage="")], facts(1, default=None)) == []


def test_rwo_with_replicas_is_flagged():
    assert rules(run([m("a", requestGPU=0, replicaCount=2)], facts(1))) == [("warning", "rwo-replicas")]
    assert run([m("a", requestGPU=0, replicaCount=2, pvcAccessMode="ReadWriteMany")], facts(1)) == []


def test_runtime_class():
    findings = run([m("a", requestGPU=0)], facts(1, runtimes=()))
    assert rules(findings) == [("error", "runtime-class")]
    assert run([m("a", requestGPU=0)], facts(1, runtimes=()), runtime_class="") == []


def test_disabled_models_are_ignored():
    assert run([m("a", requestGPU=9, enabled=False)], facts(1)) == []
    assert errors_of(run([m("a", requestGPU=9)], facts(1)))


def test_gpus_per_pod_are_multiplied_by_replicas():
    # 3 pods of 1 GPU on a 2-GPU cluster: one GPU per model would fit, three do not
    findings = run([m("a", requestGPU=1, replicaCount=3, pvcStorage="")], facts(2))
    assert rules(findings) == [("error", "gpu-total")]
    assert "need 3" in findings[0].message and "2 free" in findings[0].message
    assert run([m("a", requestGPU=1, replicaCount=2, pvcStorage="")], facts(2)) == []
    assert run([m("a", requestGPU=2, replicaCount=0)], facts(0, 2)) == []  # no pods, no GPUs


def _pod(name, node, gpus, *, namespace="other", labels=None, limits=True, deleting=False):
    resources = {"limits" if limits else "requests": {"nvidia.com/gpu": str(gpus)}}
    meta = {"name": name, "namespace": namespace, "labels": labels or {}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"nodeName": node, "containers": [{"name": "c", "resources": resources}]}}


def _node(name, gpus, *, ready=True, cordoned=False):
    return {"metadata": {"name": name}, "spec": {"unschedulable": cordoned},
            "status": {"allocatable": {"nvidia.com/gpu": str(gpus)},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_gpus_other_pods_hold_are_counted_per_node():
    from vllmctl.core.preflight import facts_from_objects

    mine = {"helm-release-name": "vllm"}
    pods = [
        _pod("training", "n0", 1),                                       # another workload: counted
        _pod("requested", "n1", 2, limits=False),                        # requests only: counted
        _pod("old-engine", "n0", 1, namespace="vllm", labels=mine),      # this release: replaced by the update
        _pod("namesake", "n1", 1, namespace="elsewhere", labels=mine),   # same label, other namespace: counted
        _pod("pending", None, 4),                                        # not on a node yet
        _pod("going", "n0", 1, deleting=True),                           # being deleted
    ]
    f = facts_from_objects([_node("n0", 2), _node("n1", 4), _node("n2", 8, ready=False)], pods,
                           [{"metadata": {"name": "std", "annotations": {
                               "storageclass.kubernetes.io/is-default-class": "true"}}}],
                           [{"metadata": {"name": "nvidia"}}], release="vllm", release_namespace="vllm")
    assert [(n.name, n.allocatable, n.used, n.schedulable) for n in f.nodes] == [
        ("n0", {GPU: 2}, {GPU: 1}, True), ("n1", {GPU: 4}, {GPU: 3}, True), ("n2", {GPU: 8}, {}, False)]
    assert (f.default_storage_class, f.runtime_classes) == ("std", ["nvidia"])
    findings = run([m("a", requestGPU=1, replicaCount=3, pvcStorage="")], f)
    assert rules(findings) == [("error", "gpu-total")]
    assert "need 3" in findings[0].message and "2 free" in findings[0].message


def test_pods_are_read_only_on_nodes_that_offer_a_resource_the_models_hold():
    from vllmctl.core.preflight import gpu_resources, nodes_to_count

    amd = {"metadata": {"name": "amd"}, "status": {"allocatable": {"amd.com/gpu": "2", "cpu": "8"}}}
    nodes = [_node("nv", 2), amd, _node("nv-empty", 0), {"metadata": {"name": "cpu"}, "status": {
        "allocatable": {"cpu": "32", "example.com/dongle": "1"}}}]
    models = [m("a", requestGPU=1), m("b", requestGPU=1, requestGPUType="amd.com/gpu", enabled=False), m("c")]
    assert gpu_resources(models) == {GPU}  # b is disabled, c holds no GPU
    assert nodes_to_count(nodes, gpu_resources(models)) == ["nv"]
    assert nodes_to_count(nodes, frozenset()) == []  # CPU-only models: no pod is read
    assert nodes_to_count(nodes, None) == ["nv", "amd"]  # every GPU kind, not other extended resources
    assert nodes_to_count(nodes, frozenset({"example.com/dongle"})) == ["cpu"]

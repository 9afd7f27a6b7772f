"""Preflight rules on hand-made cluster facts."""

from __future__ import annotations

from vllmctl.core.models import ModelEntry
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check, errors_of


def m(name="a", **kw) -> ModelEntry:
    return ModelEntry.model_validate({"name": name, "modelURL": f"org/{name}", **kw})


def facts(*gpus, used=0, deployed=None, classes=("standard",), default="standard", runtimes=("nvidia",)):
    return ClusterFacts(
        nodes=[NodeFacts(f"n{i}", g, used if i == 0 else 0) for i, g in enumerate(gpus)],
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
    f = ClusterFacts(nodes=[NodeFacts("n0", 8, 0, schedulable=False)], storage_classes=["s"],
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

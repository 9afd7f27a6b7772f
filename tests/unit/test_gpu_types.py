"""GPU types: preflight counts the resource each model asks for (requestGPUType) on the nodes and in
the pods, one resource at a time, and its findings name that resource."""

from __future__ import annotations

from vllmctl.core import gpu_types, placement
from vllmctl.core.models import ModelEntry
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check, facts_from_objects

NV, AMD, MIG = "nvidia.com/gpu", "amd.com/gpu", "nvidia.com/mig-3g.40gb"


def m(name, **kw) -> ModelEntry:
    return ModelEntry.model_validate({"name": name, "modelURL": f"org/{name}", "pvcStorage": "", **kw})


def run(models, nodes, deployed=None):
    facts = ClusterFacts(nodes=nodes, runtime_classes=["nvidia"], deployed=deployed or {})
    return check(models, facts, storage_class="", runtime_class="nvidia", update_strategy="RollingUpdate")


def by_rule(findings):
    return {f.rule: f.message for f in findings}


def _node(name, allocatable):
    return {"metadata": {"name": name}, "spec": {},
            "status": {"allocatable": {"cpu": "16", "memory": "64Gi", **allocatable},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _pod(name, node, containers, init=()):
    def c(res):
        return {"name": "c", "resources": {"limits": res}}
    return {"metadata": {"name": name, "namespace": "other"},
            "spec": {"nodeName": node, "containers": [c(r) for r in containers],
                     "initContainers": [c(r) for r in init]}}


def test_nodes_and_pods_are_counted_per_resource():
    nodes = [_node("nv", {NV: "2"}), _node("amd", {AMD: "4"}), _node("mig", {MIG: "7", NV: "0"})]
    pods = [
        _pod("two-containers", "amd", [{AMD: "1"}, {AMD: "1", "cpu": "2"}]),
        _pod("init-is-larger", "mig", [{MIG: "1"}], init=[{MIG: "3"}]),  # init containers run alone, first
        _pod("cpu-only", "nv", [{"cpu": "1"}]),
    ]
    f = facts_from_objects(nodes, pods, [], [], release="vllm", release_namespace="vllm")
    assert [(n.name, n.allocatable, n.used) for n in f.nodes] == [
        ("nv", {NV: 2}, {}), ("amd", {AMD: 4}, {AMD: 2}), ("mig", {MIG: 7}, {MIG: 3})]
    assert [n.free(AMD) for n in f.nodes] == [0, 2, 0]
    assert gpu_types.pod_gpus(pods[0]) == 2 and gpu_types.pod_gpus(pods[2]) == 0


def test_an_amd_model_fits_on_amd_nodes_while_the_nvidia_gpus_are_all_taken():
    nodes = [NodeFacts("nv", {NV: 2}, {NV: 2}), NodeFacts("amd", {AMD: 4})]
    assert run([m("rocm", requestGPU=4, requestGPUType=AMD)], nodes) == []
    found = by_rule(run([m("cuda", requestGPU=1)], nodes))
    assert "need 1 nvidia.com/gpu" in found["gpu-total"] and "0 free" in found["gpu-total"]


def test_each_resource_is_its_own_total():
    nodes = [NodeFacts("nv", {NV: 2}), NodeFacts("amd", {AMD: 2})]
    models = [m("a", requestGPU=2), m("b", requestGPU=2, requestGPUType=AMD)]
    assert run(models, nodes) == []  # 4 GPUs in all, but two of each kind
    found = run(models + [m("c", requestGPU=1, requestGPUType=AMD)], nodes)
    assert [f.rule for f in found] == ["gpu-total"]
    assert "need 3 amd.com/gpu in all" in found[0].message and "2 free (2 allocatable" in found[0].message


def test_a_resource_no_node_has_is_named_with_what_the_nodes_offer():
    found = run([m("sliced", requestGPU=1, requestGPUType=MIG)], [NodeFacts("nv", {NV: 8}), NodeFacts("x", {})])
    fit = by_rule(found)["gpu-fit"]
    assert "1 GPUs per pod (nvidia.com/mig-3g.40gb)" in fit
    assert "no schedulable node has nvidia.com/mig-3g.40gb (the nodes offer: nvidia.com/gpu)" in fit
    assert "set requestGPUType" in fit


def test_per_pod_fit_names_the_resource_and_its_largest_node():
    found = by_rule(run([m("big", requestGPU=4, requestGPUType=AMD)], [NodeFacts("a", {AMD: 2}),
                                                                       NodeFacts("b", {AMD: 2, NV: 8})]))
    assert "4 GPUs per pod (amd.com/gpu) but the largest schedulable node has 2" in found["gpu-fit"]


def test_surge_is_counted_in_the_models_resource():
    nodes = [NodeFacts("amd", {AMD: 2}), NodeFacts("nv", {NV: 8})]
    found = by_rule(run([m("a", requestGPU=2, requestGPUType=AMD)], nodes, deployed={"a": (2, 1)}))
    assert "needs up to 4 amd.com/gpu" in found["gpu-surge"] and "2 are free" in found["gpu-surge"]


def test_autoscaling_room_is_counted_in_the_models_resource():
    nodes = [NodeFacts("amd", {AMD: 2}), NodeFacts("nv", {NV: 8})]
    facts = ClusterFacts(nodes=nodes, runtime_classes=[""], served={"keda.sh/v1alpha1": frozenset({"ScaledObject"})})
    scaled = m("a", requestGPU=1, requestGPUType=AMD, autoscaling={"minReplicas": 1, "maxReplicas": 3})
    found = check([scaled], facts, storage_class="", runtime_class="", update_strategy="Recreate")
    assert [f.rule for f in found] == ["gpu-autoscale-max"] and "need 3 amd.com/gpu but 2 are free" in found[0].message


def test_free_gpus_of_every_kind_for_totals_that_name_none():
    node = NodeFacts("n", {NV: 2, AMD: 4, "example.com/fpga": 3}, {AMD: 1})
    assert node.free_gpus == 5


def test_gpu_names():
    assert all(map(gpu_types.is_gpu, (NV, AMD, MIG, "nvidia.com/gpu.shared", "gpu.intel.com/i915")))
    assert not any(map(gpu_types.is_gpu, ("nvidia.com/gpumem", "example.com/fpga", "cpu")))


def test_more_than_one_mig_slice_per_pod_is_refused_at_request_gpu():
    errors, _ = placement.vendor_problems(m("a", requestGPU=2, requestGPUType=MIG), "nvidia", "vllm/vllm-openai")
    assert errors and errors[0][0] == ("requestGPU",) and "a CUDA process uses only one" in errors[0][1]
    assert placement.vendor_problems(m("a", requestGPU=1, requestGPUType=MIG), "nvidia", "vllm/vllm-openai") == ([], [])


def test_scheduler_messages_short_of_any_gpu_kind():
    assert gpu_types.short_of_gpus("0/3 nodes are available: 3 Insufficient amd.com/gpu.")
    assert gpu_types.short_of_gpus("0/2 nodes are available: 1 Insufficient nvidia.com/mig-3g.40gb, "
                                   "1 Insufficient cpu.")
    assert not gpu_types.short_of_gpus("0/1 nodes are available: 1 Insufficient memory.")

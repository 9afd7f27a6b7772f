"""Multi-node and pipeline parallelism, the pure rules: models.yaml checks, rendering (raySpec,
pipelineParallelSize), preflight's GPU math per node and in all, the RayCluster API, the rollout row."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vllmctl.core import multinode
from vllmctl.core.models import ModelEntry, cross_field_problems
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check, required_apis
from vllmctl.core.render import model_view, yaml_paths
from vllmctl.core.settings import Settings

GPU = "nvidia.com/gpu"


def entry(**kw) -> ModelEntry:
    base = {"name": "big", "modelURL": "org/big", "requestGPU": 4, "pvcStorage": "",
            "vllmConfig": {"tensorParallelSize": 4, "pipelineParallelSize": 2}, "multiNode": {"nodes": 2}}
    return ModelEntry.model_validate({**base, **kw})


def problems(m: ModelEntry) -> dict[tuple, str]:
    return dict(cross_field_problems(m, "vllm"))


# ---------------------------------------------------------------- models.yaml
def test_tensor_inside_a_node_and_pipeline_across_nodes_is_valid():
    m = entry()
    assert problems(m) == {} and multinode.warnings(m) == []
    assert (m.parallelism.tensor, m.parallelism.pipeline, multinode.pods(m)) == (4, 2, 2)


def test_the_clusters_gpus_must_match_the_parallelism():
    found = problems(entry(vllmConfig={"tensorParallelSize": 4}))
    message = found[("vllmConfig", "tensorParallelSize")]
    assert "2 nodes x 4 GPUs = 8" in message and "4 x 1 uses 4" in message and "pipelineParallelSize to the nodes (2)" \
        in message
    assert ("multiNode", "nodes") in problems(entry(vllmConfig=None))


def test_replicas_autoscaling_chat_templates_and_no_gpus_are_refused():
    assert "one Ray cluster" in problems(entry(replicaCount=2))[("replicaCount",)]
    assert problems(entry(replicaCount=1)) == {}
    assert "no autoscaling for a Ray cluster" in problems(entry(autoscaling={"maxReplicas": 2}))[("autoscaling",)]
    assert "does not define" in problems(entry(chatTemplate="t.jinja"))[("chatTemplate",)]
    assert "GPUs on every node" in problems(entry(requestGPU=0))[("requestGPU",)]


def test_at_least_two_nodes():
    with pytest.raises(ValidationError, match="greater than or equal to 2"):
        entry(multiNode={"nodes": 1})
    with pytest.raises(ValidationError, match="Extra inputs"):
        entry(multiNode={"nodes": 2, "workers": 1})


def test_tensor_parallelism_across_nodes_and_a_startup_timeout_warn():
    m = entry(requestGPU=2, vllmConfig={"tensorParallelSize": 4}, startupTimeout="1h")
    assert problems(m) == {}
    notes = multinode.warnings(m)
    assert "spans nodes of 2 GPUs" in notes[0] and "startupTimeout is not used" in notes[1]


def test_pipeline_parallelism_on_one_node_counts_against_request_gpu():
    single = {"multiNode": None, "requestGPU": 2}
    assert "4 x 2 needs 8 GPUs but requestGPU is 2" in problems(entry(**single))[("vllmConfig", "tensorParallelSize")]
    one_node = entry(multiNode=None, requestGPU=2, vllmConfig={"pipelineParallelSize": 2})
    assert problems(one_node) == {} and one_node.parallelism.size == 2


def test_the_pipeline_size_given_twice_is_refused_at_the_flag():
    m = entry(vllmConfig={"tensorParallelSize": 4, "pipelineParallelSize": 2,
                          "extraArgs": ["--pipeline-parallel-size", "2"]})
    assert "set twice" in problems(m)[("vllmConfig", "extraArgs", 0)]


# ---------------------------------------------------------------- rendering
def test_a_multi_node_model_renders_the_charts_ray_spec():
    m = entry(requestCPU=8, requestMemory="64Gi", limitCPU=16, requestGPUType="amd.com/gpu", runtimeClassName="")
    view = model_view(m, Settings(), hf_token=False)
    assert view["raySpec"] == {"enabled": True, "headNode": {
        "requestCPU": 8, "requestMemory": "64Gi", "requestGPU": 4, "requestGPUType": "amd.com/gpu", "limitCPU": 16}}
    assert view["replicaCount"] == 1 and view["keda"] is None  # one worker beside the head
    config = view["vllmConfig"]
    assert config["tensorParallelSize"] == 4 and config["v1"] == 1
    assert config["extraArgs"][-2:] == ["--pipeline-parallel-size", "2"]


def test_pipeline_parallelism_alone_renders_the_flag_and_the_shm_key():
    m = entry(multiNode=None, requestGPU=2, vllmConfig={"pipelineParallelSize": 2, "extraArgs": ["--seed", "1"]})
    config = model_view(m, Settings(), hf_token=False)["vllmConfig"]
    assert config["extraArgs"] == ["--served-model-name", "big", "--seed", "1", "--pipeline-parallel-size", "2"]
    assert config["tensorParallelSize"] == 1 and "v1" not in config and model_view(
        m, Settings(), hf_token=False)["raySpec"] is None
    paths = yaml_paths(m)  # a problem with the rendered flag points at pipelineParallelSize
    assert paths[("vllmConfig", "extraArgs", 2)] == paths[("vllmConfig", "extraArgs", 3)] == (
        "vllmConfig", "pipelineParallelSize")
    assert paths[("vllmConfig", "tensorParallelSize")] == ("vllmConfig", "pipelineParallelSize")


# ---------------------------------------------------------------- preflight
def run(models, *free, used=None, served=None):
    nodes = [NodeFacts(f"n{i}", {GPU: g}, {GPU: (used or {}).get(i, 0)}) for i, g in enumerate(free)]
    facts = ClusterFacts(nodes=nodes, runtime_classes=["nvidia"], served=served or {})
    return check(models, facts, storage_class="", runtime_class="nvidia", update_strategy="RollingUpdate",
                 required=required_apis(None, ray=True))


RAY = {multinode.RAY_API: frozenset({"RayCluster"})}


def test_gpu_math_per_node_and_in_all():
    assert run([entry()], 4, 4, served=RAY) == []
    assert run([entry()], 8, served=RAY) == []  # both pods fit on one node of 8
    found = {f.rule: f.message for f in run([entry()], 4, 4, 2, used={1: 2}, served=RAY)}
    assert set(found) == {"gpu-nodes"}
    assert "2 nodes of 4 nvidia.com/gpu each" in found["gpu-nodes"] and "take only 1 such pods" in found["gpu-nodes"]
    total = {f.rule: f.message for f in run([entry(), entry(name="small", multiNode=None, requestGPU=1,
                                                            vllmConfig=None)], 4, 4, served=RAY)}
    assert "need 9 nvidia.com/gpu in all" in total["gpu-total"]


def test_preflight_requires_the_ray_cluster_api():
    found = [f for f in run([entry()], 4, 4) if f.rule == "api-missing"]
    assert found and "RayCluster (ray.io/v1)" in found[0].message and "KubeRay operator" in found[0].message
    assert required_apis(None) == []


def test_no_surge_is_counted_for_a_ray_cluster():
    facts = ClusterFacts(nodes=[NodeFacts("n", {GPU: 8})], runtime_classes=["nvidia"], served=RAY,
                         deployed={"big": (4, 1)})
    assert check([entry()], facts, storage_class="", runtime_class="nvidia", update_strategy="RollingUpdate") == []


# ---------------------------------------------------------------- the chart's start script and the rollout
def test_start_script_arguments():
    script = ('ARGS=(\n  "vllm"\n  "serve"\n  "org/big"\n  "--port" "8000"\n)\n'
              'ARGS+=("--tensor-parallel-size" "4")\nARGS+=("--pipeline-parallel-size")\nARGS+=("2")\n'
              'ARGS+=("--chat-template" "/t/(x).jinja")\necho "Executing: ${ARGS[@]}"\nexec "${ARGS[@]}"\n')
    assert multinode.start_args(script) == ["org/big", "--port", "8000", "--tensor-parallel-size", "4",
                                            "--pipeline-parallel-size", "2", "--chat-template", "/t/(x).jinja"]


def _pod(name, cluster, ready):
    return {"metadata": {"name": name, "labels": {"ray.io/cluster": cluster}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_rollout_row_counts_the_ray_clusters_ready_pods():
    name = multinode.cluster_name("vllm", "big")
    assert not multinode.progress("big", name, 2, [], []).done
    assert "KubeRay operator" in multinode.progress("big", name, 2, [], []).phase
    half = multinode.progress("big", name, 2, [_pod("h", name, True), _pod("w", name, False)], [])
    assert (half.ready, half.desired, half.done) == (1, 2, False)
    other = _pod("x", "vllm-other-raycluster", True)
    done = multinode.progress("big", name, 2, [_pod("h", name, True), _pod("w", name, True), other], [])
    assert done.done and done.deployment == f"RayCluster/{name}"

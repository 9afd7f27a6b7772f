"""plan and preflight take one GPU's memory from the real API server's node labels, per node pool."""

from __future__ import annotations

import json
from pathlib import Path

from kubernetes import client

from tests.integration.deploy_helpers import model, vllmctl, write_models
from vllmctl.core.model_facts import ModelFacts
from vllmctl.workflows.model_facts import write_cached

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
DATA = {m["repo"]: m for m in json.loads(
    (Path(__file__).parent.parent / "unit" / "data" / "model_facts" / "models.json").read_text())["models"]}
POOL = "cloud.google.com/gke-nodepool"


def _label(kube_env, labels):
    with kube_env.api_client() as api:
        client.CoreV1Api(api).patch_node(kube_env.node_name, {"metadata": {"labels": labels}})


def _setup(tmp_path, chart, **overrides):
    m = DATA[LLAMA]
    cache = tmp_path / "facts"
    write_cached(cache, ModelFacts(LLAMA, "main", sha="1" * 40, config=m["config"], safetensors=m["safetensors"],
                                   files={"model.safetensors": m["weight_bytes"]}))
    # 15 GiB of weights + 4 GiB of KV cache for 32768 tokens + 1 GiB: fits 80 GiB, not 16 GiB
    write_models(tmp_path, model("llama", modelURL=LLAMA, requestGPU=1, pvcStorage="40Gi",
                                 vllmConfig={"maxModelLen": 32768}, **overrides))
    return {"VLLM_MODEL_FACTS_CACHE": str(cache), "VLLM_OFFLINE": "true", "VLLM_CHART": str(chart)}


def test_plan_reads_gpu_memory_and_pools_from_nodes(tmp_path, chart, kube_env, namespace):
    env = _setup(tmp_path, chart)
    try:
        _label(kube_env, {"nvidia.com/gpu.memory": "16384", POOL: "t4-pool"})  # MiB, as GPU feature discovery writes
        small = json.loads(vllmctl(tmp_path, kube_env, namespace, "plan", "-o", "json", env=env).stdout)
        _label(kube_env, {"nvidia.com/gpu.memory": "81920", POOL: "a100-pool"})
        large = json.loads(vllmctl(tmp_path, kube_env, namespace, "plan", "-o", "json", env=env).stdout)
        _label(kube_env, {"nvidia.com/gpu.memory": None, "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"})
        product = json.loads(vllmctl(tmp_path, kube_env, namespace, "plan", "-o", "json", env=env).stdout)
    finally:
        _label(kube_env, {"nvidia.com/gpu.memory": None, "nvidia.com/gpu.product": None, POOL: None})
    assert small["cluster"] == "reachable" and small["gpu_memory_source"] == "nodes"
    assert small["node_pools"][0]["name"] == "t4-pool" and small["node_pools"][0]["memory_bytes"] == 16 * 2**30
    assert small["models"][0]["fits"] is False and small["models"][0]["gpu_memory_bytes"] == 16 * 2**30
    assert large["models"][0]["fits"] is True and large["node_pools"][0]["label"] == POOL
    assert product["models"][0]["gpu_memory_bytes"] == 80 * 2**30 and product["models"][0]["fits"] is True


def test_node_selector_terms_pick_the_pool(tmp_path, chart, kube_env, namespace):
    terms = [{"matchExpressions": [{"key": POOL, "operator": "In", "values": ["other-pool"]}]}]
    env = _setup(tmp_path, chart, nodeSelectorTerms=terms)
    try:
        _label(kube_env, {"nvidia.com/gpu.memory": "81920", POOL: "a100-pool"})
        out = json.loads(vllmctl(tmp_path, kube_env, namespace, "plan", "-o", "json", env=env).stdout)
    finally:
        _label(kube_env, {"nvidia.com/gpu.memory": None, POOL: None})
    # the only GPU node is not in the model's pool: its GPU memory is unknown, not the other pool's
    assert out["models"][0]["gpu_memory_bytes"] is None and out["models"][0]["fits"] is None


def test_preflight_refuses_a_model_too_big_for_the_nodes_gpus(tmp_path, chart, kube_env, namespace, runtime_class):
    env = {**_setup(tmp_path, chart), "VLLM_RUNTIME_CLASS": "nvidia"}
    try:
        _label(kube_env, {"nvidia.com/gpu.memory": "16384"})
        refused = vllmctl(tmp_path, kube_env, namespace, "preflight", "-o", "json", env=env)
        _label(kube_env, {"nvidia.com/gpu.memory": "81920"})
        passed = vllmctl(tmp_path, kube_env, namespace, "preflight", "-o", "json", env=env)
    finally:
        _label(kube_env, {"nvidia.com/gpu.memory": None})
    assert refused.code == 1, refused.output
    rules = {f["rule"] for f in json.loads(refused.stdout)["findings"] if f["severity"] == "error"}
    assert rules == {"gpu-memory"}
    assert passed.code == 0, passed.output

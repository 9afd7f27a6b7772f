"""validate --deep takes one GPU's memory from the nodes' labels when a cluster is reachable."""

from __future__ import annotations

import json

from kubernetes import client

from tests.helpers import run_cli
from tests.unit.test_gpu_memory import LLAMA_31_8B

LABEL = "nvidia.com/gpu.memory"


def _label_node(kube_env, value):
    with kube_env.api_client() as api:
        client.CoreV1Api(api).patch_node(kube_env.node_name, {"metadata": {"labels": {LABEL: value}}})


def test_gpu_memory_comes_from_node_labels(tmp_path, kube_env):
    configs = tmp_path / "configs" / "meta-llama" / "Llama-3.1-8B-Instruct"
    configs.mkdir(parents=True)
    (configs / "config.json").write_text(json.dumps(LLAMA_31_8B))
    (tmp_path / "models.yaml").write_text(
        "- name: llama\n  modelURL: meta-llama/Llama-3.1-8B-Instruct\n  hfTokenRequired: true\n"
        "  vllmConfig:\n    maxModelLen: 32768\n    dtype: bfloat16\n"
    )
    args = ("validate", "--deep", "--model-config", str(tmp_path / "configs"), "-o", "json")
    env = {**kube_env.env(), "HF_ENDPOINT": "http://127.0.0.1:9"}
    try:
        _label_node(kube_env, "16384")  # MiB, as GPU feature discovery writes it: 16 GiB is too small
        small = json.loads(run_cli(*args, cwd=tmp_path, env=env).stdout)["deep"][0]
        _label_node(kube_env, "81920")  # 80 GiB fits 15 GiB of weights + 4 GiB of KV cache
        large = json.loads(run_cli(*args, cwd=tmp_path, env=env).stdout)["deep"][0]
        # an explicit --gpu-memory wins over the labels
        forced = json.loads(run_cli(*args, "--gpu-memory", "16Gi", cwd=tmp_path, env=env).stdout)["deep"][0]
    finally:
        _label_node(kube_env, None)
    assert small["fits"] is False and large["fits"] is True and forced["fits"] is False

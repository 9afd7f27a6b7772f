"""validate --deep takes one GPU's memory from the nodes' labels when a cluster is reachable."""

from __future__ import annotations

import json

from kubernetes import client

from tests.cli.test_validate_engine import llama_with_local_config
from tests.helpers import run_cli

LABEL = "nvidia.com/gpu.memory"


def _label_node(kube_env, value):
    with kube_env.api_client() as api:
        client.CoreV1Api(api).patch_node(kube_env.node_name, {"metadata": {"labels": {LABEL: value}}})


def test_gpu_memory_comes_from_node_labels(tmp_path, kube_env):
    llama_with_local_config(tmp_path, 32768)
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

"""plan with a deployed release (real helm, real chart, real API server): who restarts and why, the surge."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.deploy_helpers import model, vllmctl, write_models
from vllmctl.core.model_facts import ModelFacts
from vllmctl.workflows.model_facts import write_cached

QWEN = json.loads((Path(__file__).parent.parent / "unit" / "data" / "model_facts" / "models.json").read_text())[
    "models"][0]


def _facts(cache: Path, *names: str) -> None:
    for name in names:  # the real Qwen2.5-0.5B facts under each test model's name
        write_cached(cache, ModelFacts(f"example-org/{name}", "main", sha="2" * 40, config=QWEN["config"],
                                       safetensors=QWEN["safetensors"], files={"model.safetensors": 988_097_824}))


def test_upgrade_plan_of_a_deployed_release(tmp_path, chart, kube_env, helm_bin, namespace):
    cache = tmp_path / "facts"
    _facts(cache, "alpha", "beta", "gamma")
    env = {"VLLM_MODEL_FACTS_CACHE": str(cache), "VLLM_OFFLINE": "true", "VLLM_CHART": str(chart)}
    write_models(tmp_path, model("alpha", requestGPU=2, pvcStorage="5Gi"), model("beta", pvcStorage="5Gi"))
    installed = vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", env=env)
    assert installed.code == 0, installed.output

    write_models(tmp_path, model("alpha", requestGPU=2, pvcStorage="5Gi", vllmConfig={"maxModelLen": 4096}),
                 model("beta", pvcStorage="5Gi", env={"LOG_LEVEL": "debug"}), model("gamma", pvcStorage="5Gi"))
    result = vllmctl(tmp_path, kube_env, namespace, "plan", "-o", "json", env=env)
    assert result.code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["cluster"] == "reachable" and plan["deployed_chart"] == plan["chart_version"]
    up = plan["upgrade"]
    by = {c["name"]: c for c in up["changes"]}
    assert (by["alpha"]["action"], by["alpha"]["reasons"]) == ("restart", ["args"])
    assert (by["beta"]["action"], by["beta"]["reasons"]) == ("restart", ["env"])
    assert (by["gamma"]["action"], by["gamma"]["reasons"]) == ("start", ["new"])
    # the test node has 2 GPUs: alpha's 2 new GPUs while its 2 old ones still run
    assert up["surge_gpus"] == 2 and up["free_gpus"] == 2 and up["extra_gpus_needed"] == 2
    # a restart finds its files on the volume; a new model downloads first
    assert by["gamma"]["back_after_seconds"] > by["alpha"]["back_after_seconds"] > 0
    assert up["seconds_until_all_back"] == by["gamma"]["back_after_seconds"]

    text = vllmctl(tmp_path, kube_env, namespace, "plan", env=env)
    assert "Upgrade of the deployed release" in text.stdout
    assert any(line.split()[:3] == ["alpha", "restart", "args"] for line in text.stdout.splitlines())
    assert "short by: 2" in text.stdout

"""`vllmctl plan` and `validate`'s fit checks, end to end: the real CLI, huggingface_hub, a fake Hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from tests.helpers import run_cli

DATA = {m["repo"]: m for m in json.loads(
    (Path(__file__).parent.parent / "unit" / "data" / "model_facts" / "models.json").read_text())["models"]}
SMALL, BIG = "Qwen/Qwen2.5-0.5B-Instruct", "meta-llama/Llama-3.1-70B"
MODELS_YAML = f"""# two models: one fits, one does not
- name: small
  modelURL: {SMALL}
  pvcStorage: 10Gi
- name: big
  modelURL: {BIG}
  requestGPU: 1
  pvcStorage: 50Gi
"""


def repo(name, files):
    m = DATA[name]
    return FakeRepo(config=m["config"], safetensors=m["safetensors"], files=files, sha="c" * 40)


@pytest.fixture
def hub():
    # file sizes here are plausible inputs for the checks, not facts under test (those are in models.json)
    repos = {SMALL: repo(SMALL, {"model.safetensors": 988_097_824, "tokenizer.json": 7_031_645}),
             BIG: repo(BIG, {f"model-{i:05d}-of-00030.safetensors": 4_703_580_433 for i in range(1, 31)})}
    with FakeHub(repos) as fake:
        yield fake


@pytest.fixture
def project(tmp_path):
    (tmp_path / "models.yaml").write_text(MODELS_YAML)
    return tmp_path


def env(hub_url, cache):
    return {"HF_ENDPOINT": hub_url, "VLLM_MODEL_FACTS_CACHE": str(cache), "VLLM_GPU_MEMORY": "80Gi"}


def test_plan_json_and_text(project, hub):
    e = env(hub.url, project / "cache")
    result = run_cli("plan", "--no-cluster", "-o", "json", cwd=project, env=e)
    assert result.code == 1, result.output  # a model does not fit
    plan = json.loads(result.stdout)
    small, big = plan["models"]
    assert small["fits"] is True and small["parameters"] == {"value": 494_032_768, "basis": "exact"}
    assert small["kv_bytes_per_token"] == {"value": 12_288, "basis": "exact"}
    # the weights and tokenizer, plus config.json (the fake Hub adds its size)
    assert 0 < small["download_bytes"]["value"] - (988_097_824 + 7_031_645) < 10_000
    assert small["concurrent_sequences"] >= 1 and small["startup"]["seconds"] > 60
    assert big["fits"] is False and big["weight_bytes"] == {"value": 141_107_412_992, "basis": "exact"}
    # 141 GB at 100 MB/s is 24 min: longer than the startup probe allows
    assert {f["rule"] for f in big["findings"]} == {"pvc-size", "gpu-memory", "startup"}
    tp = next(s for s in big["suggestions"] if s["kind"] == "tensor-parallel")
    assert tp["change"] == {"requestGPU": 4, "vllmConfig": {"tensorParallelSize": 4}}
    assert plan["gpu_memory_source"] == "flag" and plan["ok"] is False

    text = run_cli("plan", "--no-cluster", cwd=project, env=e)
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "PARAMS", "WEIGHTS", "KV/TOK", "GPUS", "NEED/GPU", "KV", "TOKENS", "FITS",
                                "START"]
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[1].split()[:4] == ["small", "494M", "942M", "12.0K"] and lines[2].split()[7] == "NO"
    assert "tensorParallelSize 4" in text.stderr and "pvc-size" in text.stderr


def test_offline_uses_the_cache_and_says_unknown_without_it(project, hub, tmp_path):
    url = hub.url
    e = env(url, project / "cache")
    run_cli("plan", "--no-cluster", "-o", "json", cwd=project, env=e)
    hub.stop()  # the Hub is gone: the cache answers
    cached = json.loads(run_cli("plan", "--no-cluster", "--offline", "-o", "json", cwd=project, env=e).stdout)
    assert [m["facts"] for m in cached["models"]] == ["cache", "cache"]
    assert cached["models"][0]["parameters"]["value"] == 494_032_768
    unreachable = json.loads(run_cli("plan", "--no-cluster", "-o", "json", cwd=project, env=e).stdout)
    assert [m["facts"] for m in unreachable["models"]] == ["cache", "cache"]  # fresh cache: Hub not needed

    empty = run_cli("plan", "--no-cluster", "--offline", "-o", "json", cwd=project,
                    env=env(url, tmp_path / "empty"))
    assert empty.code == 0, empty.output
    unknown = json.loads(empty.stdout)["models"]
    assert all(m["facts"] == "unknown" and m["fits"] is None and m["weight_bytes"]["basis"] == "unknown"
               for m in unknown)
    assert "offline and nothing cached" in unknown[0]["findings"][0]["message"]


def test_validate_refuses_a_model_that_does_not_fit(project, hub):
    result = run_cli("validate", cwd=project, env=env(hub.url, project / "cache"))
    assert result.code == 2, result.output
    # big's pvcStorage is on line 8 of models.yaml
    assert "models.yaml:8:15: model 'big': pvcStorage 50.0 GiB is below" in result.stderr
    assert "Traceback" not in result.output
    data = json.loads(run_cli("validate", "-o", "json", cwd=project, env=env(hub.url, project / "cache")).stdout)
    assert data["valid"] is False and {p["line"] for p in data["problems"]} >= {8}
    assert [r["fits"] for r in data["fit"]] == [True, False]


def test_validate_without_facts_still_passes_and_says_so(project):
    (project / "models.yaml").write_text(MODELS_YAML.replace("50Gi", "200Gi"))
    result = run_cli("validate", "--offline", cwd=project, env={"VLLM_MODEL_FACTS_CACHE": str(project / "none")})
    assert result.code == 0, result.output
    assert "fit not checked for small, big" in result.stderr

"""vllmctl list-api-models and smoke against the fake OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

from tests.fakes.openai_server import Behavior, FakeOpenAI
from tests.helpers import run_cli

KEY = "sk-smoke-key-42"
MODELS_YAML = """\
- name: qwen
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
- name: llama
  modelURL: meta-llama/Llama-3.2-1B-Instruct
- name: parked
  modelURL: org/parked
  enabled: false
"""


@pytest.fixture
def server():
    with FakeOpenAI(models=["qwen", "llama"], api_key=KEY, behavior=Behavior(tokens=2)) as srv:
        yield srv


@pytest.fixture
def models_file(tmp_path):
    path = tmp_path / "models.yaml"
    path.write_text(MODELS_YAML)
    return path


def cli(server, models_file, *args, key=KEY):
    env = {"VLLM_URL": server.url, "VLLM_MODELS_FILE": str(models_file), "HOME": str(models_file.parent)}
    if key:
        env["VLLM_API_KEY"] = key
    return run_cli(*args, env=env, cwd=models_file.parent)


def test_list_api_models_marks_served_against_configured(server, models_file):
    server.models = ["qwen", "extra"]
    r = cli(server, models_file, "list-api-models", "-o", "json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == [
        {"id": "qwen", "status": "ok"}, {"id": "extra", "status": "unexpected"}, {"id": "llama", "status": "missing"},
    ]
    r = cli(server, models_file, "list-api-models")
    assert r.code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "STATUS"] and ["llama", "missing"] in [ln.split() for ln in lines]
    assert "configured but not served: llama" in r.stderr
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"


def test_list_api_models_without_models_file(server, tmp_path):
    r = cli(server, tmp_path / "absent.yaml", "list-api-models", "-o", "json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == [{"id": "qwen", "status": "served"}, {"id": "llama", "status": "served"}]


def test_list_api_models_refused_key(server, models_file):
    r = cli(server, models_file, "list-api-models", key="nope-nope")
    assert r.code == 1 and "401" in r.stderr and "get-api-key" in r.stderr and "nope-nope" not in r.output


def test_smoke_passes_with_one_line_per_enabled_model(server, models_file):
    r = cli(server, models_file, "smoke")
    assert r.code == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("✓ qwen: completion") and "chat" in lines[1]
    asked = [(q.path, q.body["model"]) for q in server.requests if q.method == "POST"]
    assert sorted(asked) == sorted([("/v1/completions", "qwen"), ("/v1/chat/completions", "qwen"),
                                   ("/v1/completions", "llama"), ("/v1/chat/completions", "llama")])


def test_smoke_fails_on_a_missing_or_broken_model(server, models_file):
    server.models = ["qwen", "llama", "other"]
    server.per_model["llama"] = Behavior(status=503, message="engine is sleeping")
    models_file.write_text(MODELS_YAML + "- name: ghost\n  modelURL: org/ghost\n")
    r = cli(server, models_file, "smoke", "-o", "json")
    assert r.code == 1
    results = {x["model"]: x for x in json.loads(r.stdout)}
    assert results["qwen"]["ok"] and results["qwen"]["completion_ms"] is not None
    assert not results["llama"]["ok"] and "engine is sleeping" in results["llama"]["error"]
    assert not results["ghost"]["served"] and "not served" in results["ghost"]["error"]
    assert "parked" not in results
    assert "2 of 3 models failed (llama, ghost)" in r.stderr


def test_smoke_unreachable_endpoint_exits_3(models_file):
    r = run_cli("smoke", env={"VLLM_URL": "http://127.0.0.1:9", "VLLM_MODELS_FILE": str(models_file),
                              "HOME": str(models_file.parent), "VLLM_API_KEY_ENABLED": "false"})
    assert r.code == 3 and "vllmctl status" in r.stderr


def test_smoke_workflow_is_callable_for_install(server, models_file):
    """`install --smoke` calls workflows.api.smoke(settings, endpoint) directly."""
    from vllmctl.core.settings import load_settings
    from vllmctl.workflows.api import smoke

    settings = load_settings({"VLLM_MODELS_FILE": str(models_file), "VLLM_API_KEY_ENABLED": "false"})
    results = smoke(settings, server.url, api_key=KEY)
    assert [(r.model, r.ok) for r in results] == [("qwen", True), ("llama", True)]
    server.models = ["qwen"]
    assert [(r.model, r.ok) for r in smoke(settings, server.url, api_key=KEY)] == [("qwen", True), ("llama", False)]

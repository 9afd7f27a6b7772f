"""LoRA adapters by name: list-api-models and test-completions against the fake engine, which lists
adapters in /v1/models as vLLM does (models of their own, `parent` = the base model)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes.openai_server import Behavior, FakeOpenAI
from tests.helpers import run_cli

KEY = "sk-lora-key-42"
MODELS_YAML = """\
- name: chat
  modelURL: meta-llama/Llama-3.1-8B-Instruct
  lora:
    adapters:
      - name: sql
        source: local
        path: /data/lora-adapters/sql
      - name: pirate
        source: huggingface
        repository: org/pirate-lora
- name: plain
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
- name: parked
  modelURL: org/parked
  enabled: false
  lora:
    adapters: [{name: never, source: local, path: /x}]
"""


@pytest.fixture
def server():
    with FakeOpenAI(models=["chat", "plain"], api_key=KEY, adapters={"sql": "chat"},
                    behavior=Behavior(tokens=3)) as srv:
        yield srv


def cli(server, tmp_path, *args):
    (tmp_path / "models.yaml").write_text(MODELS_YAML)
    env = {"VLLM_URL": server.url, "VLLM_MODELS_FILE": str(tmp_path / "models.yaml"), "HOME": str(tmp_path),
           "VLLM_API_KEY": KEY}
    return run_cli(*args, env=env, cwd=tmp_path)


def test_the_fake_engine_lists_adapters_as_vllm_does(server):
    listed = httpx.get(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert [(m["id"], m["parent"]) for m in listed] == [("chat", None), ("plain", None), ("sql", "chat")]
    assert listed[2]["root"].startswith("/")


def test_the_fake_engine_loads_and_unloads_adapters_at_runtime(server):
    post = lambda path, name: httpx.post(f"{server.url}{path}", json={"lora_name": name, "lora_path": "/p"},  # noqa: E731
                                         headers={"Authorization": f"Bearer {KEY}"})
    assert post("/v1/load_lora_adapter", "pirate").status_code == 200 and server.adapters["pirate"] == "chat"
    again = post("/v1/load_lora_adapter", "pirate")
    assert again.status_code == 400 and "has already been loaded" in again.json()["error"]["message"]
    assert post("/v1/unload_lora_adapter", "pirate").status_code == 200 and "pirate" not in server.adapters
    assert post("/v1/unload_lora_adapter", "pirate").status_code == 400


def test_list_api_models_marks_adapters_against_models_yaml(server, tmp_path):
    server.adapters["stray"] = "plain"
    r = cli(server, tmp_path, "list-api-models", "-o", "json")
    assert r.code == 0, r.output
    assert json.loads(r.stdout) == [
        {"id": "chat", "status": "ok"}, {"id": "plain", "status": "ok"},
        {"id": "sql", "parent": "chat", "status": "ok"}, {"id": "stray", "parent": "plain", "status": "unexpected"},
        {"id": "pirate", "parent": "chat", "status": "missing"},
    ]


def test_an_adapter_on_another_base_model_is_unexpected(server, tmp_path):
    server.adapters["sql"] = "plain"
    rows = json.loads(cli(server, tmp_path, "list-api-models", "-o", "json").stdout)
    assert {"id": "sql", "parent": "plain", "status": "unexpected"} in rows


def test_list_api_models_table_names_the_base_and_what_is_not_loaded(server, tmp_path):
    r = cli(server, tmp_path, "list-api-models")
    assert r.code == 0, r.output
    assert "ADAPTER OF" in r.stdout
    sql = next(line for line in r.stdout.splitlines() if line.split()[:1] == ["sql"])
    assert sql.split() == ["sql", "chat", "ok"]
    assert "LoRA adapters configured but not loaded: pirate" in r.stderr
    assert "configured but not served:" not in r.stderr.replace("LoRA adapters configured but not loaded", "")


def test_test_completions_addresses_an_adapter_by_name(server, tmp_path):
    r = cli(server, tmp_path, "test-completions", "sql", "SELECT", "-o", "json")
    assert r.code == 0, r.output
    sent = [q for q in server.requests if q.path == "/v1/completions"][-1]
    assert sent.body["model"] == "sql" and json.loads(r.stdout)["model"] == "sql"
    chat = cli(server, tmp_path, "test-completions", "sql", "hi", "--chat")
    assert chat.code == 0 and [q for q in server.requests if q.path == "/v1/chat/completions"][-1].body[
        "model"] == "sql"


def test_an_adapter_not_loaded_yet_is_refused_with_what_is_served(server, tmp_path):
    r = cli(server, tmp_path, "test-completions", "pirate", "hi")
    assert r.code != 0
    assert "It serves: chat, plain, sql" in r.stderr and "LoRA adapter's name" in r.stderr

"""vllmctl test-completions against the fake OpenAI-compatible server: what is sent, what is printed,
and one clear line with the right exit code for every failure."""

from __future__ import annotations

import json
import socket

import pytest

from tests.fakes.openai_server import Behavior, FakeOpenAI
from tests.helpers import run_cli

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def server():
    with FakeOpenAI(models=["qwen", "llama"], api_key=KEY, behavior=Behavior(tokens=4)) as srv:
        yield srv


def cli(server, *args, key=KEY, tmp_path=None, **extra):
    env = {"VLLM_URL": server.url, **extra}
    if key is not None:
        env["VLLM_API_KEY"] = key
    if tmp_path is not None:  # no kubeconfig, no Vault: the key can come from nowhere else
        env.update(HOME=str(tmp_path), VLLM_MODELS_FILE=str(tmp_path / "models.yaml"))
    return run_cli(*args, env=env, cwd=tmp_path)


def assert_no_key(result):
    assert KEY not in result.stdout and KEY not in result.stderr


PROMPTS = [
    'He said "stop" and \\left',
    "line one\nline two\ttabbed\r\n",
    "日本語 — ünïcödé 🚀",
    '{"model": "evil", "prompt": "injected", "max_tokens": 1}',
    "'; rm -rf / #",
]


@pytest.mark.parametrize("prompt", [PROMPTS[3], "".join(PROMPTS)])
def test_prompt_is_sent_as_data_with_the_name_as_model_and_a_bearer_key(server, tmp_path, prompt):
    r = cli(server, "test-completions", "qwen", prompt, tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    sent = server.requests[-1]
    assert sent.path == "/v1/completions"
    assert sent.body["prompt"] == prompt and sent.body["model"] == "qwen"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert " t0 t1 t2 t3" in r.stdout
    assert "tokens:" in r.stderr and "4 out" in r.stderr
    assert_no_key(r)


def test_every_prompt_arrives_unchanged_in_both_apis(server):
    """The same request code in-process (quicker than a child per prompt): completions and chat."""
    from vllmctl.core.settings import load_settings
    from vllmctl.workflows.api import send_completion

    settings = load_settings({})
    for prompt in PROMPTS:
        for chat in (False, True):
            send_completion(settings, server.url, "llama", prompt, chat=chat, api_key=KEY)
            body = server.requests[-1].body
            assert (body["messages"][0]["content"] if chat else body["prompt"]) == prompt


def test_chat_stream_prints_tokens_and_reports_first_token(server, tmp_path):
    r = cli(server, "test-completions", "llama", "hi\n\"there\"", "--chat", "--stream", "--max-tokens", "7",
            "--temperature", "0.5", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    sent = server.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["messages"] == [{"role": "user", "content": "hi\n\"there\""}]
    assert sent.body["stream"] is True and sent.body["max_tokens"] == 7 and sent.body["temperature"] == 0.5
    assert r.stdout.strip() == "t0 t1 t2 t3"
    assert "first token" in r.stderr


def test_json_output(server, tmp_path):
    server.behavior = Behavior(ttft=0.03, itl=0.002, tokens=5)
    r = cli(server, "test-completions", "qwen", "x", "--stream", "-o", "json", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["model"] == "qwen" and out["text"] == " t0 t1 t2 t3 t4"
    assert out["usage"]["completion_tokens"] == 5 and out["finish_reason"] == "length"
    assert 25 <= out["ttft_ms"] <= out["latency_ms"]


def test_url_with_v1_suffix_is_accepted(server, tmp_path):
    r = cli(server, "test-completions", "qwen", "x", "--url", server.url + "/v1/", tmp_path=tmp_path)
    assert r.code == 0, r.stderr
    assert server.requests[-1].path == "/v1/completions"


def test_model_is_required_without_a_tty(server, tmp_path):
    (tmp_path / "models.yaml").write_text("- name: qwen\n  modelURL: Qwen/Q\n- name: off\n  modelURL: a/b\n"
                                          "  enabled: false\n")
    r = cli(server, "test-completions", tmp_path=tmp_path)
    assert r.code == 2
    assert "pass MODEL" in r.stderr and "qwen" in r.stderr and "off" not in r.stderr.split("one of")[1]
    assert server.requests == []


def test_wrong_key_is_refused_with_how_to_get_it(server, tmp_path):
    r = cli(server, "test-completions", "qwen", key="wrong-key-value", tmp_path=tmp_path)
    assert r.code == 1
    assert "401" in r.stderr and "refused" in r.stderr and "vllmctl get-api-key" in r.stderr
    assert "wrong-key-value" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_key_says_none_was_found(server, tmp_path):
    r = cli(server, "test-completions", "qwen", key=None, tmp_path=tmp_path)
    assert r.code == 1
    assert "no API key was sent" in r.stderr and "vllmctl get-api-key" in r.stderr
    assert "authorization" not in server.requests[-1].headers


def test_unknown_model_lists_what_is_served(server, tmp_path):
    r = cli(server, "test-completions", "mistral", tmp_path=tmp_path)
    assert r.code == 1
    assert "'mistral'" in r.stderr and "It serves: qwen, llama" in r.stderr


def test_server_error_shows_the_servers_message(server, tmp_path):
    server.per_model["llama"] = Behavior(status=500, message="CUDA out of memory")
    r = cli(server, "test-completions", "llama", "--chat", tmp_path=tmp_path)
    assert r.code == 1
    assert "500" in r.stderr and "CUDA out of memory" in r.stderr


def test_timeout_names_the_flag(server, tmp_path):
    server.behavior = Behavior(hang=True)
    r = cli(server, "test-completions", "qwen", "--timeout", "0.5", tmp_path=tmp_path)
    assert r.code == 1
    assert "did not answer within 0.5s" in r.stderr and "--timeout" in r.stderr


def test_connection_refused_is_unreachable_with_what_to_check(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once the socket is closed
    r = run_cli("test-completions", "qwen", env={"VLLM_URL": f"http://127.0.0.1:{port}", "VLLM_API_KEY": KEY,
                                                 "HOME": str(tmp_path), "VLLM_API_KEY_ENABLED": "false"})
    assert r.code == 3
    assert "connection refused" in r.stderr and "vllmctl status" in r.stderr and "vllmctl port-forward" in r.stderr
    assert_no_key(r)


def test_credentials_in_the_url_are_not_printed(server, tmp_path):
    url = server.url.replace("http://", "http://user:hunter2@")
    r = cli(server, "test-completions", "nope", "--url", url, tmp_path=tmp_path)
    assert r.code == 1 and "hunter2" not in r.output


def test_no_url_and_no_cluster_names_how_to_reach_the_endpoint(tmp_path):
    r = run_cli("test-completions", "qwen", env={"HOME": str(tmp_path)}, cwd=tmp_path)
    assert r.code == 2
    assert "--url" in r.stderr or "KUBECONFIG" in r.stderr

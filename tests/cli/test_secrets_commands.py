"""The secret commands' surface: names, flags, refusals that need no server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from vllmctl.commands.app import build_app

_VERBS = (("set", ""), ("get", ""), ("delete", ""), ("create", "-secret"), ("delete", "-secret"))
COMMANDS = [f"{verb}-{kind}{suffix}" for kind in ("hf-token", "api-key") for verb, suffix in _VERBS]


@pytest.fixture
def invoke(monkeypatch, tmp_path):
    for var in ("KUBECONFIG", "VAULT_ADDR", "VAULT_TOKEN", "VLLM_HF_TOKEN", "VLLM_API_KEY", "CI", "VLLM_NAMESPACE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    app = build_app()
    runner = CliRunner()

    def run(*args, input=None, env=None):
        return runner.invoke(app, list(args), input=input, env=env)

    return run


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_real(invoke, name):
    r = invoke(name, "--help")
    assert r.exit_code == 0
    assert "not yet available" not in r.output
    assert "--namespace" in r.output and "VLLM_NAMESPACE" in r.output


@pytest.mark.parametrize("name", ["set-hf-token", "set-api-key", "create-hf-token-secret", "create-api-key-secret"])
def test_values_only_from_stdin_or_environment(invoke, name):
    help_text = invoke(name, "--help").output
    assert "--stdin" in help_text and "VLLM_SECRET_TIMEOUT" in help_text
    r = invoke(name, "hf_ArgumentValue123")
    assert r.exit_code == 2
    assert "takes no value on the command line" in r.output
    assert "hf_ArgumentValue123" not in r.output  # the refusal does not repeat it


def test_missing_value_without_a_tty(invoke):
    r = invoke("set-hf-token")
    assert r.exit_code == 2
    assert "--stdin" in r.output and "VLLM_HF_TOKEN" in r.output


def test_empty_and_multiline_stdin(invoke):
    assert "is empty" in invoke("set-hf-token", "--stdin", input="\n").output
    r = invoke("set-api-key", "--stdin", input="abc def\n")
    assert r.exit_code == 2 and "whitespace" in r.output and "abc" not in r.output


def test_no_cluster_credentials(invoke):
    r = invoke("get-api-key")
    assert r.exit_code == 2 and "no Kubernetes credentials" in r.output


def test_delete_needs_yes_without_a_tty(invoke):
    for name in ("delete-hf-token", "delete-api-key-secret"):
        r = invoke(name)
        assert r.exit_code == 2 and "--yes" in r.output

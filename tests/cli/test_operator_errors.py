"""Errors an operator meets on day one: each one line naming what to change, with the flag as typed."""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: dev
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]
contexts: [{name: dev, context: {cluster: c, user: u}}, {name: prod, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
"""


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[0]


def test_a_wrong_context_lists_the_contexts(tmp_path):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    for args in (["status", "--context", "staging"], ["history"]):
        r = run_cli(*args, cwd=tmp_path, env={**env, "VLLM_KUBE_CONTEXT": "staging"})
        assert r.code == 2, r.output
        line = one_line(r.stderr)
        assert "no context 'staging'" in line and "it has: dev, prod." in line and "--context" in line


@pytest.mark.parametrize("content", [b"garbage: [\n\x00", b"just some text\n", b"apiVersion: v1\nclusters: 5\n",
                                     b"\xff\xfe\x00bad", b""])
def test_a_garbage_kubeconfig_is_one_line(tmp_path, content):
    (tmp_path / "kubeconfig").write_bytes(content)
    r = run_cli("status", cwd=tmp_path, env={"KUBECONFIG": str(tmp_path / "kubeconfig")})
    assert r.code == 2, r.output
    line = one_line(r.stderr)
    assert str(tmp_path / "kubeconfig") in line and "unexpected" not in line
    assert (tmp_path / "kubeconfig").read_bytes() == content


@pytest.mark.parametrize(("args", "env", "named"), [
    (["install", "--timeout", "soon"], {}, "--timeout (VLLM_HELM_TIMEOUT) must be a duration"),
    (["install"], {"VLLM_HELM_TIMEOUT": "soon"}, "(VLLM_HELM_TIMEOUT) must be a duration"),
    (["status", "--context", "Bad Context!"], {}, "--context"),
])
def test_errors_name_the_flag_as_typed(tmp_path, args, env, named):
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    r = run_cli(*args, cwd=tmp_path, env={"KUBECONFIG": str(tmp_path / "kubeconfig"), **env})
    assert r.code == 2, r.output
    line = one_line(r.stderr)
    assert named in line and "--helm-timeout" not in line and "--kube-context" not in line


def test_set_hf_token_warns_about_a_value_that_is_no_token_when_the_hub_cannot_be_asked(tmp_path):
    closed = "http://127.0.0.1:9"
    for args, env in [(["--no-verify"], {}), ([], {"HF_ENDPOINT": closed})]:
        r = run_cli("set-hf-token", "--stdin", *args, cwd=tmp_path, input="ghp_notatoken123\n",
                    env={"HOME": str(tmp_path), "VAULT_ADDR": closed, "VAULT_TOKEN": "t", **env})
        assert "warning: the value does not start with hf_" in r.stderr, r.stderr
        assert "ghp_notatoken123" not in r.output  # never echoed
        assert r.code == 2 and "no Kubernetes credentials" in r.stderr  # warned first, then refused

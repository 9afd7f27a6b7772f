"""Where test-completions finds the API key: VLLM_API_KEY, else the Secret vllm-api-key, else Vault
(real kube-apiserver and OpenBao; the endpoint is the fake OpenAI server)."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.helpers import run_cli

pytestmark = pytest.mark.real

SECRET_KEY = "key-from-the-kubernetes-secret"
VAULT_KEY = "key-from-vault-kv"


def _put_secret(kube_env, namespace, value):
    from kubernetes import client

    with kube_env.api_client() as api:
        client.CoreV1Api(api).create_namespaced_secret(namespace, {
            "metadata": {"name": "vllm-api-key"}, "stringData": {"api-key": value},
        })


def _put_vault(vault_env, value):
    vault_env.client().secrets.kv.v2.create_or_update_secret(
        path="vllm/api-key", secret={"api-key": value}, mount_point="secret")


def _run(server, env, tmp_path):
    r = run_cli("test-completions", "m", "hi", env={"VLLM_URL": server.url, "HOME": str(tmp_path), **env})
    return r, server.requests[-1].headers.get("authorization") if server.requests else None


def test_secret_then_env(kube_env, vault_env, namespace, tmp_path):
    """The Secret wins over Vault (it is what the engines enforce); VLLM_API_KEY wins over both."""
    _put_secret(kube_env, namespace, SECRET_KEY)
    _put_vault(vault_env, VAULT_KEY)
    env = {**kube_env.env(), **vault_env.env(), "VLLM_NAMESPACE": namespace}
    with FakeOpenAI(models=["m"], api_key=SECRET_KEY) as server:
        r, sent = _run(server, env, tmp_path)
        assert r.code == 0, r.stderr
        assert sent == f"Bearer {SECRET_KEY}"
        assert SECRET_KEY not in r.output and VAULT_KEY not in r.output
        r, sent = _run(server, {**env, "VLLM_API_KEY": "from-env"}, tmp_path)
        assert sent == "Bearer from-env" and r.code == 1 and "the API key was refused" in r.stderr


def test_vault_fallback(kube_env, vault_env, namespace, tmp_path):
    """No Secret in the namespace: the key comes from Vault."""
    _put_vault(vault_env, VAULT_KEY)
    env = {**kube_env.env(), **vault_env.env(), "VLLM_NAMESPACE": namespace}
    with FakeOpenAI(models=["m"], api_key=VAULT_KEY) as server:
        r, sent = _run(server, env, tmp_path)
        assert r.code == 0, r.stderr
        assert sent == f"Bearer {VAULT_KEY}" and VAULT_KEY not in r.output
        # with the API key disabled, nothing is looked up and nothing is sent
        r, sent = _run(server, {**env, "VLLM_API_KEY_ENABLED": "false"}, tmp_path)
        assert sent is None and r.code == 1 and "no API key was sent" in r.stderr

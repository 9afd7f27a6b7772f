"""On a terminal: hidden prompts for the value and for the Vault token (a real pty, no echo)."""

from __future__ import annotations

from tests.cli.tty import TTYSession
from tests.integration.secrets_support import secret_value, secrets_env, vault_value


def test_hidden_prompts_for_token_and_vault_token(kube_env, vault_env, namespace, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, VAULT_ADDR=vault_env.addr)  # no VAULT_TOKEN
    token = "hf_onTheTerminal0001"
    session = TTYSession("set-hf-token", cwd=tmp_path, env=env)
    session.expect("Hugging Face token (input hidden)")
    session.send(token)
    session.expect("Vault token")
    session.send(vault_env.token)
    assert session.wait() == 0, session.seen
    assert token not in session.seen and vault_env.token not in session.seen  # nothing echoed
    with kube_env.api_client() as api:
        assert secret_value(api, namespace, "hf-token", "token") == token
    assert vault_value(vault_env, "vllm/huggingface", "token") == token


def test_api_key_prompt_left_empty_generates(kube_env, namespace, eso_absent, tmp_path):
    session = TTYSession("set-api-key", cwd=tmp_path, env=secrets_env(kube_env, namespace, tmp_path))
    session.expect("empty to generate one")
    session.send("")
    assert session.wait() == 0, session.seen
    with kube_env.api_client() as api:
        key = secret_value(api, namespace, "vllm-api-key", "api-key")
    assert key and len(key) == 48 and key not in session.seen
    assert "get-api-key" in session.seen

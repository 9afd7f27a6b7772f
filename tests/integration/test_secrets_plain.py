"""Secrets without the External Secrets Operator: a plain Secret, updated in place, plus a Vault copy."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_cli, wait_for
from tests.integration.secrets_support import (
    SecretWatcher,
    read_external_secret,
    read_secret,
    secret_value,
    secrets_env,
    vault_delete,
    vault_value,
)

pytestmark = pytest.mark.usefixtures("eso_absent")


@pytest.fixture
def api(kube_env):
    with kube_env.api_client() as a:
        yield a


def test_hf_token_round_trip_with_vault_copy(kube_env, vault_env, namespace, api, tmp_path):
    vault_delete(vault_env, "vllm/huggingface")
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)
    token = "hf_plainRoundTrip0001"

    r = run_cli("set-hf-token", "--stdin", input=token + "\n", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert r.stdout == ""
    secret = read_secret(api, namespace, "hf-token")
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "vllmctl"
    assert secret_value(api, namespace, "hf-token", "token") == token
    assert vault_value(vault_env, "vllm/huggingface", "token") == token
    assert read_external_secret(api, namespace, "hf-token-external-secret") is None
    assert "could not verify" not in r.stderr and "not verified" in r.stderr  # Hub unreachable: a warning

    r = run_cli("get-hf-token", env=env, cwd=tmp_path)
    assert (r.code, r.stdout, r.stderr) == (0, token + "\n", "")

    # in place: the same object changes value, no DELETED event in between
    new = "hf_plainRoundTrip0002"
    with SecretWatcher(kube_env.api_client, namespace, "hf-token", "token") as watcher:
        r = run_cli("set-hf-token", env={**env, "VLLM_HF_TOKEN": new}, cwd=tmp_path)
        assert r.code == 0, r.stderr
        wait_for(lambda: any(v == new for _, _, v in watcher.events), what="MODIFIED event with the new value")
    watcher.assert_never_missing(token, new)  # pods never see the Secret missing
    assert {uid for _, uid, _ in watcher.events} == {secret.metadata.uid}
    assert vault_value(vault_env, "vllm/huggingface", "token") == new

    r = run_cli("delete-hf-token-secret", "--yes", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert read_secret(api, namespace, "hf-token") is None
    assert vault_value(vault_env, "vllm/huggingface", "token") == new  # Vault is left alone

    r = run_cli("create-hf-token-secret", env=env, cwd=tmp_path)  # from the Vault copy
    assert r.code == 0, r.stderr
    assert secret_value(api, namespace, "hf-token", "token") == new

    r = run_cli("delete-hf-token", "--yes", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert read_secret(api, namespace, "hf-token") is None
    assert vault_value(vault_env, "vllm/huggingface", "token") is None

    r = run_cli("get-hf-token", env=env, cwd=tmp_path)
    assert r.code == 2 and r.stdout == ""
    assert "secret/vllm/huggingface" in r.stderr and "set-hf-token" in r.stderr


def test_api_key_generated_shown_once_and_reused(kube_env, vault_env, namespace, api, tmp_path):
    vault_delete(vault_env, "vllm/api-key")
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)

    r = run_cli("set-api-key", env=env, cwd=tmp_path)  # no value, no TTY: generated, not shown
    assert r.code == 0, r.stderr
    assert r.stdout == ""
    first = secret_value(api, namespace, "vllm-api-key", "api-key")
    assert re.fullmatch(r"[A-Za-z0-9]{48}", first)
    assert first not in r.stderr
    assert vault_value(vault_env, "vllm/api-key", "api-key") == first

    r = run_cli("set-api-key", "--show", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    shown = r.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9]{48}", shown) and shown != first
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == shown

    r = run_cli("get-api-key", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, shown + "\n")

    # create-api-key-secret reuses the existing Secret: no rotation
    r = run_cli("create-api-key-secret", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == shown
    assert "kept as it is" in r.stderr


def test_without_vault_the_secret_is_the_store(kube_env, namespace, api, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path)  # no VAULT_ADDR at all
    r = run_cli("set-api-key", "--stdin", input="key-from-stdin-123\n", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == "key-from-stdin-123"
    r = run_cli("get-api-key", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, "key-from-stdin-123\n")
    r = run_cli("delete-api-key", "--yes", "--output", "json", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert '"deleted Secret' in r.stdout
    assert read_secret(api, namespace, "vllm-api-key") is None


def test_no_namespace_and_no_vault_is_refused(kube_env, tmp_path):
    env = secrets_env(kube_env, "no-such-namespace-x1", tmp_path)
    r = run_cli("set-api-key", "--stdin", input="abc\n", env=env, cwd=tmp_path)
    assert r.code == 2
    assert "no-such-namespace-x1" in r.stderr and "create-namespace" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_show_in_json_and_get_with_empty_vault(kube_env, vault_env, namespace, api, tmp_path):
    import json

    vault_delete(vault_env, "vllm/api-key")
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)
    r = run_cli("set-api-key", "--show", "-o", "json", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    doc = json.loads(r.stdout)  # one JSON document, the key inside it
    assert doc["generated"] is True and doc["externalSecretsOperator"] is False
    assert doc["apiKey"] == secret_value(api, namespace, "vllm-api-key", "api-key")
    # Vault empty but a Secret there: get falls back to the Secret
    vault_delete(vault_env, "vllm/api-key")
    r = run_cli("get-api-key", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, doc["apiKey"] + "\n")
    # Vault empty and no cluster credentials: Vault's answer is the message
    vault_delete(vault_env, "vllm/huggingface")
    r = run_cli("get-hf-token", env={**env, "KUBECONFIG": str(tmp_path / "none")}, cwd=tmp_path)
    assert r.code == 2 and "nothing is stored at secret/vllm/huggingface" in r.stderr

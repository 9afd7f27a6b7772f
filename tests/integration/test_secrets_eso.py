"""Secrets with the External Secrets Operator (the stand-in reconciler): Vault + ExternalSecret."""

from __future__ import annotations

import re

import pytest
import yaml

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


@pytest.fixture
def api(kube_env):
    with kube_env.api_client() as a:
        yield a


def _rendered_manifest(namespace: str, file: str) -> dict:
    """What `render` writes for this ExternalSecret (the same template the CLI applies)."""
    from vllmctl.core.render import RenderRequest, render
    from vllmctl.core.settings import Settings

    rendered = render(RenderRequest(models=[], settings=Settings(namespace=namespace), chart_version="0.1.8",
                                    source="test"))
    return yaml.safe_load(rendered.manifests[file])


def test_hf_token_round_trip_and_in_place_update(kube_env, vault_env, namespace, api, eso, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)
    token = "hf_esoRoundTrip0001"

    r = run_cli("set-hf-token", "--stdin", input=token, env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert vault_value(vault_env, "vllm/huggingface", "token") == token
    es = read_external_secret(api, namespace, "hf-token-external-secret")
    assert es["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "vllmctl"
    expected = _rendered_manifest(namespace, "hf-token-external-secret.yaml")["spec"]
    assert {k: v for k, v in es["spec"].items() if k != "target"} == {
        k: v for k, v in expected.items() if k != "target"}
    assert es["spec"]["target"]["name"] == "hf-token"
    assert es["spec"]["target"]["creationPolicy"] == "Owner"
    secret = read_secret(api, namespace, "hf-token")
    assert secret_value(api, namespace, "hf-token", "token") == token  # already synced when the CLI returned
    assert secret.metadata.owner_references[0].kind == "ExternalSecret"

    r = run_cli("get-hf-token", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, token + "\n")

    new = "hf_esoRoundTrip0002"
    generation = es["metadata"]["generation"]
    with SecretWatcher(kube_env.api_client, namespace, "hf-token", "token") as watcher:
        r = run_cli("set-hf-token", env={**env, "VLLM_HF_TOKEN": new}, cwd=tmp_path)
        assert r.code == 0, r.stderr
        # the CLI waited for the sync of the new value, not the Ready left from the old one
        assert secret_value(api, namespace, "hf-token", "token") == new
        wait_for(lambda: any(v == new for _, _, v in watcher.events), what="the new value in a watch event")
    watcher.assert_never_missing(token, new)  # pods never see the Secret missing
    assert {uid for _, uid, _ in watcher.events} == {secret.metadata.uid}
    assert read_external_secret(api, namespace, "hf-token-external-secret")["metadata"]["generation"] > generation

    r = run_cli("delete-hf-token-secret", "--yes", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert read_external_secret(api, namespace, "hf-token-external-secret") is None
    assert read_secret(api, namespace, "hf-token") is None
    assert vault_value(vault_env, "vllm/huggingface", "token") == new

    r = run_cli("create-hf-token-secret", env=env, cwd=tmp_path)  # from Vault, no value needed
    assert r.code == 0, r.stderr
    assert secret_value(api, namespace, "hf-token", "token") == new

    r = run_cli("delete-hf-token", "--yes", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert read_external_secret(api, namespace, "hf-token-external-secret") is None
    assert vault_value(vault_env, "vllm/huggingface", "token") is None


def test_api_key_generated_into_vault(kube_env, vault_env, namespace, api, eso, tmp_path):
    vault_delete(vault_env, "vllm/api-key")
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)
    r = run_cli("create-api-key-secret", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    key = vault_value(vault_env, "vllm/api-key", "api-key")
    assert re.fullmatch(r"[A-Za-z0-9]{48}", key)
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == key
    assert key not in r.stdout + r.stderr
    r = run_cli("get-api-key", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, key + "\n")
    # again: the stored key is reused, nothing rotates
    r = run_cli("create-api-key-secret", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert vault_value(vault_env, "vllm/api-key", "api-key") == key


def test_create_secret_vault_empty(kube_env, vault_env, namespace, api, eso, tmp_path):
    vault_delete(vault_env, "vllm/huggingface")
    env = secrets_env(kube_env, namespace, tmp_path, vault_env)
    r = run_cli("create-hf-token-secret", env=env, cwd=tmp_path)
    assert r.code == 2
    assert "secret/vllm/huggingface" in r.stderr and "set-hf-token" in r.stderr
    assert read_external_secret(api, namespace, "hf-token-external-secret") is None


def test_not_ready_in_time(kube_env, vault_env, fresh_vault, namespace, api, eso,
                           tmp_path):
    # The CLI writes to one Vault while the ClusterSecretStore reads another, which lacks the path.
    vault_delete(vault_env, "vllm/huggingface")
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault, VLLM_SECRET_TIMEOUT="2s")
    r = run_cli("set-hf-token", "--stdin", input="hf_notReady0001", env=env, cwd=tmp_path)
    assert r.code == 1
    assert "hf-token-external-secret was not Ready within 2 s" in r.stderr
    assert "Secret does not exist" in r.stderr  # the operator's own status message
    assert read_secret(api, namespace, "hf-token") is None


def test_same_value_changes_nothing(kube_env, vault_env, namespace, api, eso, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, vault_env, VLLM_API_KEY="same-key-twice")
    assert run_cli("set-api-key", env=env, cwd=tmp_path).code == 0
    version = vault_env.client().secrets.kv.v2.read_secret_version(
        "vllm/api-key", raise_on_deleted_version=True)["data"]["metadata"]["version"]
    generation = read_external_secret(api, namespace, "vllm-api-key-external-secret")["metadata"]["generation"]
    r = run_cli("set-api-key", env=env, cwd=tmp_path)  # e.g. a CI upgrade job with the same key
    assert r.code == 0 and "unchanged" in r.stderr
    assert vault_env.client().secrets.kv.v2.read_secret_version(
        "vllm/api-key", raise_on_deleted_version=True)["data"]["metadata"]["version"] == version
    es = read_external_secret(api, namespace, "vllm-api-key-external-secret")
    assert es["metadata"]["generation"] == generation

"""Every failure is one clear line, with its exit code, and leaves nothing half-done."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import run_cli
from tests.integration.secrets_support import read_external_secret, read_secret, secrets_env, vault_value


@pytest.fixture
def api(kube_env):
    with kube_env.api_client() as a:
        yield a


def _one_line(r) -> str:
    """The error line: exactly one, after at most some warnings (e.g. the Hub was not reachable)."""
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), r.stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def test_sealed_vault(kube_env, fresh_vault, namespace, api, eso_absent, tmp_path):
    fresh_vault.seal()
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault)
    r = run_cli("set-hf-token", "--stdin", input="hf_sealed001", env=env, cwd=tmp_path)
    assert r.code == 1
    assert "sealed" in _one_line(r) and fresh_vault.addr in r.stderr
    assert read_secret(api, namespace, "hf-token") is None  # nothing half-done
    r = run_cli("get-hf-token", env=env, cwd=tmp_path)
    assert r.code == 1 and "sealed" in _one_line(r) and r.stdout == ""


def test_read_only_token(kube_env, fresh_vault, namespace, api, eso_absent, tmp_path):
    root = fresh_vault.client()
    root.secrets.kv.v2.create_or_update_secret("vllm/huggingface", secret={"token": "hf_before"})
    root.sys.create_or_update_policy(
        "vllm-ro", 'path "secret/data/vllm/*" { capabilities = ["read"] }\n'
                   'path "secret/metadata/vllm/*" { capabilities = ["read", "list"] }')
    ro = root.auth.token.create(policies=["vllm-ro"])["auth"]["client_token"]
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault, VAULT_TOKEN=ro)

    r = run_cli("get-hf-token", env=env, cwd=tmp_path)  # reading is allowed
    assert (r.code, r.stdout) == (0, "hf_before\n")
    r = run_cli("set-hf-token", "--stdin", input="hf_after", env=env, cwd=tmp_path)
    assert r.code == 1
    line = _one_line(r)
    assert "denied permission to write secret/vllm/huggingface" in line and "VAULT_TOKEN" in line
    assert ro not in r.stderr
    assert vault_value(fresh_vault, "vllm/huggingface", "token") == "hf_before"
    assert read_secret(api, namespace, "hf-token") is None


def test_vault_token_from_file(kube_env, fresh_vault, namespace, eso_absent, tmp_path):
    fresh_vault.client().secrets.kv.v2.create_or_update_secret("vllm/api-key", secret={"api-key": "k-file"})
    (tmp_path / ".vault-token").write_text(fresh_vault.token + "\n")
    env = secrets_env(kube_env, namespace, tmp_path, VAULT_ADDR=fresh_vault.addr)  # no VAULT_TOKEN
    r = run_cli("get-api-key", env=env, cwd=tmp_path)
    assert (r.code, r.stdout) == (0, "k-file\n")
    (tmp_path / ".vault-token").unlink()
    r = run_cli("get-api-key", env=env, cwd=tmp_path)  # no token anywhere, no TTY
    assert r.code == 2 and "VAULT_TOKEN" in _one_line(r)


def test_stopped_vault(kube_env, fresh_vault, namespace, api, eso, tmp_path):
    fresh_vault.stop()
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault)
    # with ESO, Vault is where the value lives: unreachable is an error, and nothing is applied
    r = run_cli("set-hf-token", "--stdin", input="hf_stopped01", env=env, cwd=tmp_path)
    assert r.code == 3
    assert f"cannot reach Vault at {fresh_vault.addr}" in _one_line(r)
    assert read_external_secret(api, namespace, "hf-token-external-secret") is None


def test_stopped_vault_without_eso(kube_env, fresh_vault, namespace, api, eso_absent, tmp_path):
    fresh_vault.stop()
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault)
    # without ESO the Vault copy is a bonus: the Secret is written, with a warning
    r = run_cli("set-api-key", "--stdin", input="k-stopped", env=env, cwd=tmp_path)
    assert r.code == 0, r.stderr
    assert "No copy of the API key was kept in Vault" in r.stderr
    assert read_secret(api, namespace, "vllm-api-key") is not None


def test_kv_v1_mount(kube_env, fresh_vault, namespace, api, eso_absent, tmp_path):
    fresh_vault.client().sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault, VLLM_VAULT_MOUNT="kv1")
    r = run_cli("set-hf-token", "--stdin", input="hf_kv1", env=env, cwd=tmp_path)
    assert r.code == 2
    assert "'kv1'" in _one_line(r) and "KV version 1, not KV version 2" in r.stderr
    # a KV v2 write to a v1 mount would have landed at kv1/data/vllm/huggingface: it did not
    assert _kv1_empty(fresh_vault)
    assert read_secret(api, namespace, "hf-token") is None


def _kv1_empty(vault) -> bool:
    import hvac.exceptions

    try:
        vault.client().secrets.kv.v1.list_secrets("", mount_point="kv1")
    except hvac.exceptions.InvalidPath:
        return True
    return False


def test_missing_mount(kube_env, fresh_vault, namespace, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, fresh_vault, VLLM_VAULT_MOUNT="nomount")
    for args in (("get-hf-token",), ("set-hf-token", "--stdin")):
        r = run_cli(*args, input="hf_x", env=env, cwd=tmp_path)
        assert r.code == 2, r.stderr
        assert "no secrets engine mounted at 'nomount'" in _one_line(r)


def test_api_server_unreachable(kube_env, vault_env, tmp_path):
    config = yaml.safe_load(Path(kube_env.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:9"
    broken = tmp_path / "kubeconfig"
    broken.write_text(yaml.safe_dump(config))
    env = secrets_env(kube_env, "vllm", tmp_path, vault_env, KUBECONFIG=str(broken))
    r = run_cli("set-hf-token", "--stdin", input="hf_noapi", env=env, cwd=tmp_path)
    assert r.code == 3
    assert "cannot reach the Kubernetes API server https://127.0.0.1:9" in _one_line(r)
    assert vault_value(vault_env, "vllm/huggingface", "token") != "hf_noapi"  # nothing written first


def test_missing_values_and_confirmations(kube_env, namespace, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path)
    r = run_cli("set-hf-token", env=env, cwd=tmp_path)
    assert r.code == 2 and "--stdin" in _one_line(r) and "VLLM_HF_TOKEN" in r.stderr
    r = run_cli("set-hf-token", "--stdin", input="two\nlines\n", env=env, cwd=tmp_path)
    assert r.code == 2 and "whitespace" in _one_line(r)
    r = run_cli("delete-hf-token", env=env, cwd=tmp_path)
    assert r.code == 2 and "--yes" in _one_line(r)
    r = run_cli("create-hf-token-secret", env=env, cwd=tmp_path)
    assert r.code == 2 and "VLLM_HF_TOKEN" in _one_line(r) and "set-hf-token --stdin" in r.stderr
    r = run_cli("set-hf-token", "--secret-timeout", "soon", "--stdin", input="x", env=env, cwd=tmp_path)
    assert r.code == 2 and "--secret-timeout" in _one_line(r)


def test_eso_without_vault_address(kube_env, namespace, api, eso, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path)  # ESO present, VAULT_ADDR unset
    r = run_cli("set-api-key", "--stdin", input="k-novault", env=env, cwd=tmp_path)
    assert r.code == 2
    assert "VAULT_ADDR is not set" in _one_line(r) and "vault-secret-store" in r.stderr
    assert read_external_secret(api, namespace, "vllm-api-key-external-secret") is None
    assert read_secret(api, namespace, "vllm-api-key") is None

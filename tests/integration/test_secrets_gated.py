"""Which models need the HF token (the Hub's gated flag, against the local fake Hub) and
prepare_secrets, the step install calls: token verified, license access checked, API key ensured."""

from __future__ import annotations

import re

import pytest

from tests.fakes.hub import FakeHub, FakeRepo
from tests.helpers import run_cli
from tests.integration.secrets_support import (
    CLOSED_PORT_URL,
    read_external_secret,
    read_secret,
    secret_value,
    secrets_env,
    vault_delete,
    vault_value,
)
from vllmctl.adapters.hf import HubAuthError, HubClient
from vllmctl.core.models import ModelEntry
from vllmctl.core.settings import Settings
from vllmctl.errors import MissingAnswer
from vllmctl.workflows.secrets import prepare_secrets

MODELS = [
    ModelEntry.model_validate({"name": "gated", "modelURL": "acme/gated"}),
    ModelEntry.model_validate({"name": "open-llama", "modelURL": "meta-llama/open"}),  # seed regex: "gated"
    ModelEntry.model_validate({"name": "forced", "modelURL": "acme/open", "hfTokenRequired": True}),
    ModelEntry.model_validate({"name": "off", "modelURL": "acme/gated", "enabled": False}),
]


@pytest.fixture
def hub():
    repos = {
        "acme/gated": FakeRepo(config={}, gated="manual", allowed={"tok-ok"}),
        "meta-llama/open": FakeRepo(config={}),
        "acme/open": FakeRepo(config={}),
    }
    with FakeHub(repos, tokens={"tok-ok": "alice", "tok-noaccess": "bob"}) as fake:
        yield fake


@pytest.fixture
def cluster(kube_env, monkeypatch, tmp_path):
    """The test cluster's secret objects as the workflow gets them from install (built directly: the
    kubernetes client reads KUBECONFIG once at import, before a test could point it here)."""
    from vllmctl.adapters.kube_client import Cluster
    from vllmctl.adapters.kube_secrets import KubeSecrets

    for var in ("VAULT_TOKEN", "VAULT_ADDR", "VLLM_HF_TOKEN", "VLLM_API_KEY", "CI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    api_client = kube_env.api_client()
    yield KubeSecrets(Cluster(api_client=api_client, context=kube_env.context, server=kube_env.server,
                              kubeconfig=kube_env.kubeconfig))
    api_client.close()


@pytest.fixture
def api(kube_env):
    with kube_env.api_client() as a:
        yield a


def test_hub_decides_and_token_is_verified(cluster, namespace, api, hub, eso_absent, monkeypatch):
    monkeypatch.setenv("VLLM_HF_TOKEN", "tok-ok")
    settings = Settings(namespace=namespace)
    with HubClient(hub.url) as client:
        out = prepare_secrets(settings, cluster, MODELS, api_key=True, yes=True, hub=client)
    assert out.hf_token_models == frozenset({"gated", "forced"})  # not the ungated meta-llama repo
    assert out.api_key is True
    asked = {r.path for r in hub.requests}
    assert "/api/models/acme/open" not in asked  # hfTokenRequired decides without asking
    assert "/api/whoami-v2" in asked and "/acme/gated/resolve/main/config.json" in asked
    assert secret_value(api, namespace, "hf-token", "token") == "tok-ok"
    key = secret_value(api, namespace, "vllm-api-key", "api-key")
    assert re.fullmatch(r"[A-Za-z0-9]{48}", key)
    assert any("user alice verified" in n for n in out.notes)
    assert not any("tok-ok" in n or key in n for n in out.notes + out.warnings)

    # again, with nothing in the environment: both existing Secrets are reused, nothing rotates
    monkeypatch.delenv("VLLM_HF_TOKEN")
    with HubClient(hub.url) as client:
        prepare_secrets(settings, cluster, MODELS, api_key=True, yes=True, hub=client)
    assert secret_value(api, namespace, "hf-token", "token") == "tok-ok"
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == key


def test_token_without_license_access(cluster, namespace, api, hub, eso_absent, monkeypatch):
    monkeypatch.setenv("VLLM_HF_TOKEN", "tok-noaccess")
    with HubClient(hub.url) as client, pytest.raises(HubAuthError) as err:
        prepare_secrets(Settings(namespace=namespace), cluster, MODELS, api_key=False, yes=True, hub=client)
    text = str(err.value)
    assert "user bob" in text and "acme/gated" in text
    assert f"Accept the license at {hub.url}/acme/gated" in text
    assert "tok-noaccess" not in text
    assert read_secret(api, namespace, "hf-token") is None  # refused before anything was stored


def test_invalid_token(cluster, namespace, api, hub, eso_absent, monkeypatch):
    monkeypatch.setenv("VLLM_HF_TOKEN", "tok-bogus")
    with HubClient(hub.url) as client, pytest.raises(HubAuthError, match="not valid"):
        prepare_secrets(Settings(namespace=namespace), cluster, MODELS, api_key=False, yes=True, hub=client)
    assert read_secret(api, namespace, "hf-token") is None


def test_hub_unreachable_falls_back(cluster, namespace, api, eso_absent, monkeypatch):
    monkeypatch.setenv("VLLM_HF_TOKEN", "tok-offline")
    with HubClient(CLOSED_PORT_URL) as client:
        out = prepare_secrets(Settings(namespace=namespace), cluster, MODELS, api_key=False, yes=True, hub=client)
    assert out.hf_token_models == frozenset({"open-llama", "forced"})  # the seed's organisation guess
    assert any("Guessed which models need the Hugging Face token" in w for w in out.warnings)
    assert any("not verified" in w for w in out.warnings)
    assert secret_value(api, namespace, "hf-token", "token") == "tok-offline"
    assert read_secret(api, namespace, "vllm-api-key") is None  # api_key=False


def test_no_token_anywhere(cluster, namespace, hub, eso_absent):
    with HubClient(hub.url) as client, pytest.raises(MissingAnswer) as err:
        prepare_secrets(Settings(namespace=namespace), cluster, MODELS, api_key=False, yes=True, hub=client)
    text = str(err.value)
    assert "forced, gated" in text and "VLLM_HF_TOKEN" in text and "vllmctl set-hf-token --stdin" in text


def test_no_model_needs_it(cluster, namespace, api, hub, eso_absent):
    open_only = [MODELS[1].model_copy(update={"modelURL": "acme/open"})]
    with HubClient(hub.url) as client:
        out = prepare_secrets(Settings(namespace=namespace), cluster, open_only, api_key=False, yes=True, hub=client)
    assert out.hf_token_models == frozenset()
    assert read_secret(api, namespace, "hf-token") is None


def test_with_eso_into_vault(cluster, vault_env, namespace, api, hub, eso, monkeypatch):
    vault_delete(vault_env, "vllm/api-key")
    monkeypatch.setenv("VLLM_HF_TOKEN", "tok-ok")
    monkeypatch.setenv("VAULT_TOKEN", vault_env.token)
    settings = Settings(namespace=namespace, vault_addr=vault_env.addr)
    with HubClient(hub.url) as client:
        out = prepare_secrets(settings, cluster, MODELS, api_key=True, yes=True, hub=client)
    assert out.hf_token_models == frozenset({"gated", "forced"})
    assert vault_value(vault_env, "vllm/huggingface", "token") == "tok-ok"
    assert read_external_secret(api, namespace, "hf-token-external-secret") is not None
    assert secret_value(api, namespace, "hf-token", "token") == "tok-ok"
    key = vault_value(vault_env, "vllm/api-key", "api-key")
    assert secret_value(api, namespace, "vllm-api-key", "api-key") == key


def test_set_hf_token_refuses_an_invalid_token(kube_env, namespace, api, hub, eso_absent, tmp_path):
    env = secrets_env(kube_env, namespace, tmp_path, HF_ENDPOINT=hub.url)
    r = run_cli("set-hf-token", "--stdin", input="tok-bogus", env=env, cwd=tmp_path)
    assert r.code == 2 and "not valid" in r.stderr and "tok-bogus" not in r.stderr
    assert read_secret(api, namespace, "hf-token") is None
    r = run_cli("set-hf-token", "--stdin", input="tok-ok", env=env, cwd=tmp_path)
    assert r.code == 0 and "alice" in r.stderr
    assert secret_value(api, namespace, "hf-token", "token") == "tok-ok"

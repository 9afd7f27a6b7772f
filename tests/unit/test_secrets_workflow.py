"""The secrets workflows in-process, against the in-memory fakes of workflows.ports (tests/fakes/ports.py).

The same flows run against the real API server and OpenBao in tests/integration/test_secrets_*.py;
here the subject is the logic: which store holds the value, what is written in place, what a
missing or unreachable piece does.
"""

from __future__ import annotations

import pytest

from tests.fakes.ports import FakeHub, FakeSecretObjects, FakeVault
from vllmctl.core.external_secret import VAULT_VERSION_ANNOTATION
from vllmctl.core.models import ModelEntry
from vllmctl.core.secret_layout import API_KEY, HF_TOKEN
from vllmctl.core.settings import Settings
from vllmctl.errors import HubAuthError, InvalidInput, MissingAnswer
from vllmctl.workflows import secrets as wf

SETTINGS = Settings(namespace="vllm")


@pytest.fixture(autouse=True)
def _no_secrets_in_environment(monkeypatch):
    for var in ("VLLM_HF_TOKEN", "VLLM_API_KEY", "VAULT_TOKEN", "VAULT_ADDR"):
        monkeypatch.delenv(var, raising=False)


def test_without_eso_the_secret_is_written_in_place_and_copied_to_vault():
    vault = FakeVault()
    cluster = FakeSecretObjects()
    ctx = wf.SecretContext(SETTINGS, objects=cluster, vault=vault)
    out = wf.set_secret(ctx, HF_TOKEN, "hf_one")
    assert not out.eso and cluster.read_secret_value("vllm", "hf-token", "token") == "hf_one"
    assert vault.read("vllm/huggingface", "token") == ("hf_one", 1)
    uid = cluster.secrets[("vllm", "hf-token")]["uid"]

    wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), HF_TOKEN, "hf_two")
    wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), HF_TOKEN, "hf_two")
    assert cluster.secrets[("vllm", "hf-token")]["uid"] == uid  # the same object, updated
    assert cluster.history == [("ADDED", "Secret", "vllm/hf-token"), ("MODIFIED", "Secret", "vllm/hf-token")]
    assert vault.read("vllm/huggingface", "token") == ("hf_two", 2)  # the unchanged write made no version


def test_an_unreachable_vault_without_eso_is_only_a_warning():
    cluster = FakeSecretObjects()
    out = wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=FakeVault(reachable=False)),
                        HF_TOKEN, "hf_x")
    assert cluster.read_secret_value("vllm", "hf-token", "token") == "hf_x"
    assert any("No copy of the Hugging Face token was kept in Vault" in w for w in out.warnings)


def test_with_eso_the_value_goes_to_vault_and_the_external_secret_syncs_it():
    vault = FakeVault()
    cluster = FakeSecretObjects(vault=vault)
    out = wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), API_KEY, "key-1")
    assert out.eso and vault.read("vllm/api-key", "api-key") == ("key-1", 1)
    spec = cluster.external_secrets[("vllm", "vllm-api-key-external-secret")]["spec"]
    assert spec["target"]["template"]["metadata"]["annotations"][VAULT_VERSION_ANNOTATION] == "1"
    assert cluster.read_secret_value("vllm", "vllm-api-key", "api-key") == "key-1"

    wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), API_KEY, "key-2")
    # a new Vault version changes the spec, so the operator re-syncs now, not at the next refresh
    assert cluster.external_secrets[("vllm", "vllm-api-key-external-secret")]["generation"] == 2
    assert cluster.read_secret_value("vllm", "vllm-api-key", "api-key") == "key-2"
    assert ("DELETED", "Secret", "vllm/vllm-api-key") not in cluster.history


def test_nowhere_to_keep_a_value_is_refused_before_anything_is_written():
    cluster = FakeSecretObjects(namespaces=())
    with pytest.raises(InvalidInput, match="nowhere to keep the Hugging Face token"):
        wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster), HF_TOKEN, "hf_x")
    assert cluster.history == []


def test_delete_removes_the_cluster_objects_and_the_vault_path():
    vault = FakeVault()
    cluster = FakeSecretObjects(vault=vault)
    wf.set_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), HF_TOKEN, "hf_x")
    out = wf.delete_secret(wf.SecretContext(SETTINGS, objects=cluster, vault=vault), HF_TOKEN)
    assert cluster.secrets == {} and cluster.external_secrets == {} and vault.paths == {}
    assert any("deleted ExternalSecret vllm/hf-token-external-secret" in d for d in out.done)


GATED = ModelEntry.model_validate({"name": "gated", "modelURL": "acme/gated"})
OPEN = ModelEntry.model_validate({"name": "open", "modelURL": "acme/open"})


def test_prepare_secrets_gives_the_token_only_to_gated_models_and_checks_access(monkeypatch):
    hub = FakeHub({"acme/gated": True, "acme/open": False}, tokens={"hf_ok": ("alice", {"acme/gated"})})
    cluster = FakeSecretObjects()
    monkeypatch.setenv("VLLM_HF_TOKEN", "hf_ok")
    out = wf.prepare_secrets(SETTINGS, cluster, [GATED, OPEN], api_key=True, yes=True, hub=hub)
    assert out.hf_token_models == frozenset({"gated"})
    assert cluster.read_secret_value("vllm", "hf-token", "token") == "hf_ok"
    assert len(cluster.read_secret_value("vllm", "vllm-api-key", "api-key") or "") == 48  # generated
    assert any("user alice verified" in n for n in out.notes)
    assert not hub.closed  # the caller's Hub is the caller's to close


def test_prepare_secrets_refuses_a_token_without_access_before_writing(monkeypatch):
    hub = FakeHub({"acme/gated": True}, tokens={"hf_other": ("bob", set())})
    cluster = FakeSecretObjects()
    monkeypatch.setenv("VLLM_HF_TOKEN", "hf_other")
    with pytest.raises(HubAuthError, match="no access to the gated model acme/gated"):
        wf.prepare_secrets(SETTINGS, cluster, [GATED], api_key=False, yes=True, hub=hub)
    assert cluster.secrets == {}


def test_prepare_secrets_without_a_token_names_where_to_put_it():
    hub = FakeHub({"acme/gated": True})
    with pytest.raises(MissingAnswer, match="VLLM_HF_TOKEN"):
        wf.prepare_secrets(SETTINGS, FakeSecretObjects(), [GATED], api_key=False, yes=True, hub=hub)

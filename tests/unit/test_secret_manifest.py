"""ExternalSecret manifests (from render's own template) and readiness (pure)."""

from __future__ import annotations

import pytest
import yaml

from vllmctl.core.duration import seconds
from vllmctl.core.external_secret import (
    VAULT_VERSION_ANNOTATION,
    external_secret_manifest,
    is_synced,
    status_message,
    synced_generation,
)
from vllmctl.core.render import RenderRequest, render
from vllmctl.core.secret_layout import API_KEY, HF_TOKEN, LAYOUTS
from vllmctl.core.settings import Settings


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.kind)
def test_manifest_is_the_rendered_one_plus_labels_and_version(layout):
    settings = Settings(namespace="ns1", secret_store="store-x")
    rendered = render(RenderRequest(models=[], settings=settings, chart_version="0.1.8", source="t"))
    on_disk = yaml.safe_load(rendered.manifests[f"{layout.external_secret}.yaml"])
    applied = external_secret_manifest(settings, layout, vault_version=7)
    assert applied["metadata"].pop("labels") == {"app.kubernetes.io/managed-by": "vllmctl"}
    template = applied["spec"]["target"].pop("template")
    assert template == {"metadata": {"annotations": {VAULT_VERSION_ANNOTATION: "7"}}}
    assert applied == on_disk
    assert applied["spec"]["secretStoreRef"] == {"name": "store-x", "kind": "ClusterSecretStore"}


def test_layout_matches_the_seed():
    hf = external_secret_manifest(Settings(), HF_TOKEN, vault_version=None)
    assert hf["apiVersion"] == "external-secrets.io/v1"
    assert hf["spec"]["data"] == [{"secretKey": "token", "remoteRef": {"key": "vllm/huggingface", "property": "token"}}]
    assert "template" not in hf["spec"]["target"]
    key = external_secret_manifest(Settings(), API_KEY, vault_version=1)
    assert key["spec"]["target"]["name"] == "vllm-api-key"
    assert key["spec"]["data"][0]["remoteRef"] == {"key": "vllm/api-key", "property": "api-key"}


def _es(generation, synced=None, ready="True", message="secret synced"):
    status = {"conditions": [{"type": "Ready", "status": ready, "reason": "SecretSynced", "message": message}]}
    if synced is not None:
        status["syncedResourceVersion"] = synced
    return {"metadata": {"generation": generation}, "status": status}


def test_ready_only_for_the_current_spec():
    assert is_synced(_es(2, "2-abc"))
    assert not is_synced(_es(3, "2-abc"))  # Ready left over from the previous value
    assert not is_synced(_es(2, "2-abc", ready="False"))
    assert is_synced(_es(2))  # an operator that does not report the synced version
    assert not is_synced({"metadata": {"generation": 1}})
    assert synced_generation(_es(1, "12-9f8e")) == 12


def test_status_message():
    failing = _es(1, ready="False", message="could not get secret data from provider")
    failing["status"]["conditions"][0]["reason"] = "SecretSyncedError"
    assert status_message(failing) == "SecretSyncedError: could not get secret data from provider"
    assert "no Ready condition" in status_message({"metadata": {}})
    assert "not yet for the latest change" in status_message(_es(3, "2-x"))


@pytest.mark.parametrize(("text", "value"), [("60s", 60), ("1h30m", 5400), ("500ms", 0.5), ("2m5s", 125)])
def test_durations(text, value):
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["", "5", "1x", "m5"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        seconds(text)

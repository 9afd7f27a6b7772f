"""uninstall: release and secrets go, model caches stay unless --delete-data; the namespace goes when empty."""

from __future__ import annotations

from kubernetes import client

from tests.helpers import wait_for
from tests.integration.deploy_helpers import (
    BOTH_CHARTS,
    helm_revisions,
    model,
    namespace_going,
    write_models,
)


def _claims(kube_env, namespace):
    with kube_env.api_client() as api:
        return sorted(p.metadata.name for p in
                      client.CoreV1Api(api).list_namespaced_persistent_volume_claim(namespace).items
                      if not p.metadata.deletion_timestamp)


def _secret(kube_env, namespace, name, value="x"):
    with kube_env.api_client() as api:
        client.CoreV1Api(api).create_namespaced_secret(
            namespace, {"metadata": {"name": name}, "stringData": {"token": value}})


@BOTH_CHARTS
def test_uninstall_keeps_caches(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha"))
    assert cli("install", "--no-wait").code == 0
    _secret(kube_env, namespace, "hf-token")
    r = cli("uninstall")
    assert r.code == 0, r.output
    assert "kept model caches" in r.stderr and "vllm-alpha-storage-claim" in r.stderr
    assert "Secret/hf-token" in r.stderr
    assert helm_revisions(kube_env, helm_bin, namespace) == []
    assert _claims(kube_env, namespace) == ["vllm-alpha-storage-claim"]
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        assert core.read_namespace(namespace).status.phase == "Active"  # a cache is left in it
        assert not [s for s in core.list_namespaced_secret(namespace).items if s.metadata.name == "hf-token"]


@BOTH_CHARTS
def test_uninstall_delete_data(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha"))
    assert cli("install", "--no-wait").code == 0
    refused = cli("uninstall", "--delete-data")
    assert refused.code == 2, refused.output  # no TTY, no --yes: nothing is deleted
    assert "--yes" in refused.stderr
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1

    r = cli("uninstall", "--delete-data", "--yes")
    assert r.code == 0, r.output
    assert "deleted model caches: vllm-alpha-storage-claim" in r.stderr
    assert "deleted namespace" in r.stderr
    wait_for(lambda: namespace_going(kube_env, namespace), what="namespace deletion")


def test_namespace_with_other_things_is_kept(tmp_path, cli, kube_env, helm_bin, namespace):
    write_models(tmp_path, model("alpha"))
    assert cli("install", "--no-wait").code == 0
    other = "vllm-b-alpha-storage-claim"  # the cache of release `vllm-b`, as helm annotates what it made
    with kube_env.api_client() as api:
        core = client.CoreV1Api(api)
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "mine"}})
        core.create_namespaced_persistent_volume_claim(namespace, {
            "metadata": {"name": other, "annotations": {"meta.helm.sh/release-name": "vllm-b",
                                                        "meta.helm.sh/release-namespace": namespace}},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    r = cli("uninstall", "--delete-data", "--yes")
    assert r.code == 0, r.output
    assert "deleted model caches: vllm-alpha-storage-claim\n" in r.stderr
    assert "kept namespace" in r.stderr and "ConfigMap/mine" in r.stderr
    assert _claims(kube_env, namespace) == [other]

"""Moving a release between real chart versions (0.1.8 -> 0.1.12), a failed atomic first install, and
the second "no changes" guard, on the real API server with the real charts."""

from __future__ import annotations

import contextlib
import subprocess

import pytest
import yaml
from kubernetes import client

from tests.env.charts import unpacked_copy
from tests.integration.deploy_helpers import helm_revisions, model, namespace_going, vllmctl, write_models
from tests.integration.secrets_support import CLOSED_PORT_URL, read_secret

ROUTER = "Deployment/vllm-deployment-router"


def _uids(kube_env, namespace) -> dict[str, str]:
    """Every object a move could touch, by kind/name -> uid."""
    with kube_env.api_client() as api:
        core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
        groups = {
            "PersistentVolumeClaim": core.list_namespaced_persistent_volume_claim(namespace).items,
            "Secret": [s for s in core.list_namespaced_secret(namespace).items if s.type != "helm.sh/release.v1"
                       and s.type != "kubernetes.io/service-account-token"],
            "Service": core.list_namespaced_service(namespace).items,
            "Deployment": apps.list_namespaced_deployment(namespace).items,
            "ConfigMap": core.list_namespaced_config_map(namespace).items,
        }
    return {f"{kind}/{o.metadata.name}": o.metadata.uid for kind, items in groups.items() for o in items}


def _env(chart, **extra) -> dict[str, str]:
    return {"VLLM_CHART": str(chart), "VLLM_API_KEY_ENABLED": "true", "VLLM_HF_TOKEN": "hf_test_token_0123456789",
            "HF_ENDPOINT": CLOSED_PORT_URL, **extra}


def test_a_move_from_0_1_8_to_0_1_12_stops_then_recreates_only_what_it_must(
        tmp_path, kube_env, helm_bin, namespace, test_server_chart):
    write_models(tmp_path, model("alpha"), model("beta", hfTokenRequired=True))
    old, new = _env(test_server_chart("0.1.8")), _env(test_server_chart("0.1.12"))
    r = vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", env=old)
    assert r.code == 0, r.output
    before = _uids(kube_env, namespace)
    with kube_env.api_client() as api:
        router = client.AppsV1Api(api).read_namespaced_deployment("vllm-deployment-router", namespace)
    container = router.spec.template.spec.containers[0]  # the pinned router, not the chart's `latest`
    assert (container.image, container.image_pull_policy) == ("lmcache/lmstack-router:v0.1.12", "IfNotPresent")
    engines = ["Deployment/vllm-alpha-deployment-vllm", "Deployment/vllm-beta-deployment-vllm"]
    assert {*engines, ROUTER, "Secret/hf-token", "Secret/vllm-api-key"} <= set(before)
    assert [k for k in before if k.startswith("PersistentVolumeClaim/")], before

    # diff says what the API server will refuse, and which chart defaults move underneath
    r = vllmctl(tmp_path, kube_env, namespace, "diff", env=new)
    assert r.code == 0, r.output
    refused = f"the API server will refuse to change {', '.join(sorted([*engines, ROUTER]))} (spec.selector)"
    assert refused in r.stderr, r.stderr
    assert "chart defaults that change for this models.yaml" in r.stderr
    assert "routerSpec.resources" not in r.stderr  # vllmctl sets the router's resources itself

    # a plain upgrade stops before changing anything, naming the objects and the way out
    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--no-wait", env=new)
    assert r.code == 1, r.output
    line = r.stderr.strip().splitlines()[-1]
    assert "cannot be upgraded in place (vllm-stack-0.1.8 -> vllm-stack-0.1.12)" in line
    assert all(name in line for name in [*engines, ROUTER]) and "vllmctl upgrade --recreate" in line
    assert _uids(kube_env, namespace) == before
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1

    # in CI --recreate needs --yes (exit 2), still nothing changed
    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--recreate", "--no-wait", env={**new, "CI": "true"})
    assert r.code == 2, r.output
    assert "--yes" in r.stderr and _uids(kube_env, namespace) == before

    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--recreate", "--yes", "--no-wait", env=new)
    assert r.code == 0, r.output
    after = _uids(kube_env, namespace)
    recreated = {k for k in before if k in after and before[k] != after[k]}
    assert recreated == {*engines, ROUTER}, recreated
    kept = [k for k in before if k.startswith(("PersistentVolumeClaim/", "Secret/", "Service/"))]
    assert all(after.get(k) == before[k] for k in kept), (before, after)
    history = helm_revisions(kube_env, helm_bin, namespace)
    assert [h["chart"] for h in history] == ["vllm-stack-0.1.8", "vllm-stack-0.1.12"]
    with kube_env.api_client() as api:
        router = client.AppsV1Api(api).read_namespaced_deployment("vllm-deployment-router", namespace)
    assert "app.kubernetes.io/name" in " ".join(router.spec.selector.match_labels)
    assert router.spec.template.spec.containers[0].image == "lmcache/lmstack-router:v0.1.12"

    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--no-wait", "--detailed-exit-code", env=new)
    assert r.code == 5, r.output  # moved: nothing left to change


def _failing_copy(tmp_path, test_server_chart, how: str):
    """A temporary copy of the real 0.1.12 chart with ONE template added that fails on purpose:
    `unserved` renders an object of a kind the API server does not serve (helm fails before it
    records a release), `refused` a ConfigMap whose name the API server rejects (helm has recorded
    the release and created objects when it fails). Nothing else differs from the real chart."""
    test_server_chart("0.1.12")  # the same package, or the same skip when it cannot be had
    chart = unpacked_copy("0.1.12", tmp_path / "charts")
    doc = ({"apiVersion": "example.invalid/v1", "kind": "NotServed", "metadata": {"name": "x"}} if how == "unserved"
           else {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_A_Valid_Name"}})
    (chart / "templates" / "zz-fails-on-purpose.yaml").write_text(yaml.safe_dump(doc))
    return chart


@pytest.mark.parametrize("how", ["unserved", "refused"])
def test_a_failed_atomic_first_install_reports_helms_error_and_removes_what_it_created(
        tmp_path, kube_env, helm_bin, namespace, test_server_chart, how):
    chart = _failing_copy(tmp_path, test_server_chart, how)
    write_models(tmp_path, model("alpha", hfTokenRequired=True, pvcStorage=""))
    fresh = how == "unserved"  # into a namespace this run creates; else an existing one with our Secret in it
    ns = namespace[:40] + "-new" if fresh else namespace
    if not fresh:
        with kube_env.api_client() as api:
            client.CoreV1Api(api).create_namespaced_secret(ns, {"metadata": {"name": "hf-token"},
                                                                "stringData": {"token": _env(chart)["VLLM_HF_TOKEN"]}})
    try:
        r = vllmctl(tmp_path, kube_env, ns, "install", "--atomic", env=_env(chart))
        assert r.code == 1, r.output
        line = r.stderr.strip().splitlines()[-1]
        assert ("NotServed" if fresh else "Not_A_Valid_Name") in line, line
        assert "release: not found" not in r.stderr and "could not uninstall" not in r.stderr
        assert helm_revisions(kube_env, helm_bin, ns) == []
        if fresh:
            assert f"namespace {ns} (created by this run) was deleted" in line
            assert namespace_going(kube_env, ns)
        else:
            assert "deleted Secret/vllm-api-key (created by this run)" in line
            with kube_env.api_client() as api:
                assert read_secret(api, ns, "vllm-api-key") is None
                assert read_secret(api, ns, "hf-token") is not None  # it was there before: kept
    finally:
        if fresh:
            subprocess.run([helm_bin, "uninstall", "vllm", "-n", ns], capture_output=True, env=kube_env.env())
            with kube_env.api_client() as api, contextlib.suppress(client.exceptions.ApiException):
                client.CoreV1Api(api).delete_namespace(ns)  # (already gone when the test passed)


def test_values_the_chart_ignores_make_no_new_revision(tmp_path, kube_env, helm_bin, namespace, test_server_chart):
    """The second guard: the values differ (router replicas) but with the router off the chart renders
    the same manifest, so there is nothing for helm to do."""
    write_models(tmp_path, model("alpha", pvcStorage=""))
    env = {"VLLM_CHART": str(test_server_chart("0.1.12")), "VLLM_ROUTER_ENABLED": "false"}
    assert vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", env=env).code == 0
    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--no-wait", "--detailed-exit-code",
                env={**env, "VLLM_ROUTER_REPLICAS": "3"})
    assert r.code == 5, r.output
    assert "no changes" in r.stderr
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1


def test_a_claim_change_is_refused_even_with_recreate(tmp_path, kube_env, helm_bin, namespace, test_server_chart):
    """Within one chart version too: a model cache's storage class cannot change in place, and
    --recreate never deletes a PVC; the upgrade stops before helm. (No such StorageClasses exist
    here: --skip-preflight.)"""
    env = {"VLLM_CHART": str(test_server_chart("0.1.12"))}
    write_models(tmp_path, model("alpha", storageClass="slow"))
    assert vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", "--skip-preflight", env=env).code == 0
    before = _uids(kube_env, namespace)
    write_models(tmp_path, model("alpha", storageClass="fast"))
    r = vllmctl(tmp_path, kube_env, namespace, "upgrade", "--recreate", "--yes", "--no-wait",
                "--skip-preflight", env=env)
    assert r.code == 1, r.output
    line = r.stderr.strip().splitlines()[-1]
    assert "PersistentVolumeClaim/vllm-alpha-storage-claim (spec.storageClassName)" in line, line
    assert "--recreate never deletes PersistentVolumeClaim/vllm-alpha-storage-claim" in line
    assert _uids(kube_env, namespace) == before
    assert len(helm_revisions(kube_env, helm_bin, namespace)) == 1

"""Rollout watching: stuck pods end the wait early; --atomic rolls back."""

from __future__ import annotations

import json
import time

from kubernetes import client

from tests.integration.deploy_helpers import BOTH_CHARTS, helm_revisions, model, write_models


@BOTH_CHARTS
def test_unschedulable_exits_fast(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)  # the cache claim binds: the GPUs are what is missing
    write_models(tmp_path, model("greedy", requestGPU=3))
    started = time.monotonic()
    # --stuck-after outlasts the first "unbound immediate PersistentVolumeClaims" (the claim binds
    # within a second): what stays is the missing GPU, long before the 5 minutes of --timeout
    r = cli("install", "--skip-preflight", "--no-atomic", "--stuck-after", "5s", "--timeout", "5m")
    elapsed = time.monotonic() - started
    assert r.code == 4, r.output
    assert "Insufficient nvidia.com/gpu" in r.stderr
    assert "greedy" in r.stderr
    assert elapsed < 60
    # without --atomic the release stays for the user to fix
    revisions = helm_revisions(kube_env, helm_bin, namespace)
    assert [(x["revision"], x["status"]) for x in revisions] == [(1, "deployed")]  # helm's own view
    # vllmctl's history says what the watch saw: the revision never came up
    rows = json.loads(cli("history", "-o", "json").stdout)
    assert [(x["revision"], x["status"], x["helm_status"], x["rollout"]) for x in rows] == [
        (1, "failed", "deployed", "failed")]
    assert "rollout failed" in rows[0]["description"] and "Insufficient nvidia.com/gpu" in rows[0]["description"]
    table = cli("history")
    assert table.code == 0 and "failed" in table.stdout and "deployed" not in table.stdout, table.output
    # uninstall takes the records with the release: nothing of vllmctl's is left in the namespace
    gone = cli("uninstall", "--yes", "-o", "json")
    assert gone.code == 0, gone.output
    with kube_env.api_client() as api:
        names = [c.metadata.name for c in client.CoreV1Api(api).list_namespaced_config_map(namespace).items]
    assert "vllm-vllmctl-rollouts" not in names


@BOTH_CHARTS
def test_atomic_upgrade_rolls_back(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha"))
    assert cli("install").code == 0
    write_models(tmp_path, model("alpha", requestGPU=3))
    r = cli("upgrade", "--atomic", "--skip-preflight", "--stuck-after", "1s")
    assert r.code == 4, r.output
    assert "Insufficient nvidia.com/gpu" in r.stderr
    assert "rolled back to revision 1" in r.stderr
    history = helm_revisions(kube_env, helm_bin, namespace)
    assert [x["revision"] for x in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed"
    with kube_env.api_client() as api:
        dep = client.AppsV1Api(api).read_namespaced_deployment("vllm-alpha-deployment-vllm", namespace)
        limits = dep.spec.template.spec.containers[0].resources.limits or {}
        assert "nvidia.com/gpu" not in limits


@BOTH_CHARTS
def test_atomic_first_install_uninstalls(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("greedy", requestGPU=3))
    r = cli("install", "--skip-preflight", "--stuck-after", "1s")
    assert r.code == 4, r.output  # no TTY: --atomic is the default
    assert "uninstalled (--atomic)" in r.stderr
    assert helm_revisions(kube_env, helm_bin, namespace) == []

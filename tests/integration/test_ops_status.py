"""status, endpoints, logs, router-logs, port-forward against a release installed with the real chart."""

from __future__ import annotations

import json

import pytest

from tests.helpers import wait_for
from tests.integration.deploy_helpers import BOTH_CHARTS, model, namespace_going, write_models


@pytest.fixture
def installed(tmp_path, cli, kube_env, helm_bin, namespace):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("alpha", replicaCount=2), model("beta"))
    r = cli("install")
    assert r.code == 0, r.output
    return tmp_path


@BOTH_CHARTS
def test_status_endpoints_logs(installed, cli, kube_env, namespace):
    r = cli("status", "-o", "json")
    assert r.code == 0, r.output
    rows = json.loads(r.stdout)
    by_model = {}
    for row in rows:
        by_model.setdefault(row["model"], []).append(row)
    assert sorted(by_model) == ["alpha", "beta", "router"]
    assert len(by_model["alpha"]) == 2
    assert all(row["ready"] and row["node"] == kube_env.node_name for row in rows)
    text = cli("status")
    assert text.stdout.splitlines()[0].split() == ["MODEL", "POD", "READY", "STATUS", "RESTARTS", "AGE", "NODE",
                                                  "GPUS"]

    ep = json.loads(cli("endpoints", "-o", "json").stdout)
    assert ep["router"]["url"] == f"http://vllm-router-service.{namespace}.svc.cluster.local/v1"
    assert [e["model"] for e in ep["engines"]] == ["alpha", "beta"]

    logs = cli("logs", "beta", "--tail", "3")
    assert logs.code == 0, logs.output
    pod = by_model["beta"][0]["pod"]
    assert logs.stdout.splitlines() == [f"log line {n} from {pod}/vllm" for n in (18, 19, 20)]

    both = cli("logs", "alpha", "--tail", "1")
    assert sorted(both.stdout.splitlines()) == sorted(
        f"[{row['pod']}] log line 20 from {row['pod']}/vllm" for row in by_model["alpha"])

    follow = cli("router-logs", "--follow", "--tail", "1")
    assert follow.code == 0, follow.output
    assert follow.stdout.splitlines()[-1].startswith("follow line 3 from ")

    missing = cli("logs")
    assert missing.code == 2 and "MODEL" in missing.stderr and "alpha, beta" in missing.stderr


def test_port_forward_without_streaming_kubelet(installed, cli, kube_env, namespace):
    # The stand-in kubelet does not speak the streaming protocol: the command must fail in one line.
    r = cli("port-forward", "0", timeout=60)
    assert r.code == 1, r.output
    assert "port-forward to pod 'vllm-deployment-router-" in r.stderr
    assert "Traceback" not in r.output


def test_port_forward_resolves_router_pod(installed, kube_env, namespace):
    from vllmctl.adapters.kube_client import Cluster
    from vllmctl.adapters.port_forward import resolve_target

    with kube_env.api_client() as api:
        cluster = Cluster(api, kube_env.context, kube_env.server, kube_env.kubeconfig)
        pod, port = resolve_target(cluster, namespace, "vllm-router-service", 80)
        with pytest.raises(Exception, match="no port 81"):
            resolve_target(cluster, namespace, "service/vllm-router-service", 81)
    assert pod.startswith("vllm-deployment-router-") and port == 8000


def test_status_without_release(tmp_path, cli, kube_env, namespace):
    r = cli("status")
    assert r.code == 2 and "vllmctl install" in r.stderr


def test_create_and_delete_namespace(cli, kube_env, namespace):
    from kubernetes import client

    name = namespace[:40] + "-x"
    r = cli("create-namespace", ns=name)
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        labels = client.CoreV1Api(api).read_namespace(name).metadata.labels
    assert labels["pod-security.kubernetes.io/warn"] == "baseline"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    assert cli("delete-namespace", ns=name).code == 0
    wait_for(lambda: namespace_going(kube_env, name), what="namespace deletion")


def test_check_prerequisites(tmp_path, cli, kube_env, namespace):
    write_models(tmp_path, model("alpha"))
    r = cli("check-prerequisites", "-o", "json")
    assert r.code == 0, r.output
    checks = {c["name"]: c for c in json.loads(r.stdout)}
    assert all(c["ok"] for c in checks.values())
    assert "Kubernetes v1.20" in checks["cluster"]["detail"]
    assert "1 enabled models" in checks["models file"]["detail"]
    assert checks["helm"]["detail"].startswith("v3.17")

    down = cli("check-prerequisites",
                   env={"KUBECONFIG": str(tmp_path / "missing-kubeconfig"), "VLLM_CHART": str(tmp_path / "none")})
    assert down.code == 2  # both failures are bad settings (exit 2); a mix of kinds would be 1
    assert "error: chart:" in down.stderr and "error: cluster:" in down.stderr
    assert "models file" in down.stderr  # every check is reported, not only the first failure

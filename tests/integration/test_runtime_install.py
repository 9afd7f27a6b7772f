"""Runtime features installed with the real chart on the local control plane: the startup budget,
the router's exposure (Ingress with TLS, NodePort), and preflight refusing a Gateway API route the
cluster cannot serve."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from tests.integration.deploy_helpers import model, vllmctl, write_models
from tests.integration.optional_crds import served_crd


@pytest.fixture
def keda_api(kube_env):
    """KEDA's ScaledObject API served (the project's own minimal CRD; no operator) for this test only."""
    with served_crd(kube_env, "keda-scaledobject.yaml"):
        yield


@pytest.mark.parametrize("version", ["0.1.8", "0.1.12"])
def test_startup_budget_and_ingress_are_installed(tmp_path, kube_env, namespace, test_server_chart, version):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("small"), model("big", startupTimeout="1h30m", limitCPU=2))
    env = {"VLLM_CHART": str(test_server_chart(version)), "VLLM_ROUTER_EXPOSE": "ingress",
           "VLLM_ROUTER_HOST": "llm.example.com", "VLLM_ROUTER_TLS_SECRET": "llm-tls"}
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        apps, net = client.AppsV1Api(api), client.NetworkingV1Api(api)
        for name in ("small", "big"):  # one probe for all models, sized by the slowest
            spec = apps.read_namespaced_deployment(f"vllm-{name}-deployment-vllm", namespace).spec.template.spec
            probe = spec.containers[0].startup_probe
            assert 90 * 60 <= probe.initial_delay_seconds + probe.period_seconds * probe.failure_threshold < 5410
            assert spec.containers[0].liveness_probe.timeout_seconds == 5
        big = apps.read_namespaced_deployment("vllm-big-deployment-vllm", namespace).spec.template.spec
        assert big.containers[0].resources.limits["cpu"] == "2"
        ingress = net.read_namespaced_ingress("vllm-ingress-router", namespace).spec
        assert ingress.rules[0].host == "llm.example.com" and ingress.tls[0].secret_name == "llm-tls"
    endpoints = vllmctl(tmp_path, kube_env, namespace, "endpoints", env=env)
    assert endpoints.code == 0, endpoints.output
    assert "https://llm.example.com/v1" in endpoints.stdout


def test_node_port_service_is_installed(tmp_path, kube_env, namespace, test_server_chart):
    write_models(tmp_path, model("small"))
    env = {"VLLM_CHART": str(test_server_chart("0.1.12")), "VLLM_ROUTER_EXPOSE": "nodeport",
           "VLLM_ROUTER_NODE_PORT": "31234"}
    r = vllmctl(tmp_path, kube_env, namespace, "install", "--no-wait", env=env)
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        service = client.CoreV1Api(api).read_namespaced_service("vllm-router-service", namespace).spec
    assert service.type == "NodePort" and service.ports[0].node_port == 31234


def test_preflight_refuses_a_gateway_route_without_the_gateway_api(tmp_path, kube_env, helm_bin, namespace,
                                                                   test_server_chart):
    write_models(tmp_path, model("small"))
    env = {"VLLM_CHART": str(test_server_chart("0.1.12")), "VLLM_ROUTER_EXPOSE": "gateway", "VLLM_GATEWAY": "edge"}
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 1, r.output
    assert "HTTPRoute (gateway.networking.k8s.io/v1)" in r.stderr and "Gateway API CRDs" in r.stderr
    pre = vllmctl(tmp_path, kube_env, namespace, "preflight", env=env)
    assert pre.code != 0 and "HTTPRoute" in pre.output
    with kube_env.api_client() as api:  # preflight stops before anything is changed
        assert not client.AppsV1Api(api).list_namespaced_deployment(namespace).items


def test_autoscaling_is_refused_without_keda_and_installed_with_it(tmp_path, kube_env, namespace, test_server_chart,
                                                                   request):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("scaled", autoscaling={"minReplicas": 0, "maxReplicas": 2}))
    env = {"VLLM_CHART": str(test_server_chart("0.1.12"))}
    refused = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert refused.code == 1, refused.output
    assert "ScaledObject (keda.sh/v1alpha1)" in refused.stderr and "install KEDA" in refused.stderr
    request.getfixturevalue("keda_api")
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        so = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "keda.sh", "v1alpha1", namespace, "scaledobjects", "vllm-scaled-scaledobject")
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (0, 2)
    status = vllmctl(tmp_path, kube_env, namespace, "status", "-o", "json", env=env)
    rows = json.loads(status.stdout)
    scaled = next(row for row in rows if row["model"] == "scaled")
    assert scaled["replicas"]["min"] == 0 and scaled["replicas"]["max"] == 2
    # KEDA scaling the model to zero is not a stuck rollout: an upgrade after it succeeds at once.
    with kube_env.api_client() as api:
        client.AppsV1Api(api).patch_namespaced_deployment_scale(
            "vllm-scaled-deployment-vllm", namespace, {"spec": {"replicas": 0}})
    write_models(tmp_path, model("scaled", autoscaling={"minReplicas": 0, "maxReplicas": 3}))
    up = vllmctl(tmp_path, kube_env, namespace, "upgrade", env=env)
    assert up.code == 0, up.output
    rows = json.loads(vllmctl(tmp_path, kube_env, namespace, "status", "-o", "json", env=env).stdout)
    assert next(row for row in rows if row["model"] == "scaled")["status"] == "scaled to zero"

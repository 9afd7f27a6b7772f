"""Routing installed with the real chart on the local control plane: kvaware (LMCache with the controller
on every engine, the router's controller ports) and a disaggregated prefill pair (the namespace labelled
privileged for it). No GPU and no LMCache run here: the tests read the objects the API server stored."""

from __future__ import annotations

import pytest
from kubernetes import client

from tests.integration.deploy_helpers import model, vllmctl, write_models


def _env(container) -> dict:
    return {e.name: e.value for e in container.env or []}


def _after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


@pytest.mark.parametrize("version", ["0.1.8", "0.1.12"])
def test_kvaware_is_installed_with_its_companions(tmp_path, kube_env, namespace, test_server_chart, version):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("chat", replicaCount=2, lmcache={"cpuOffloadingBufferSize": 2}),
                 model("code", lmcache={}))
    env = {"VLLM_CHART": str(test_server_chart(version)), "VLLM_ROUTING_LOGIC": "kvaware"}
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 0, r.output
    replies = version == "0.1.12"
    with kube_env.api_client() as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        for name in ("chat", "code"):
            engine = apps.read_namespaced_deployment(f"vllm-{name}-deployment-vllm", namespace).spec.template.spec
            container = engine.containers[0]
            env_values = _env(container)
            assert '"kv_connector":"LMCacheConnectorV1"' in _after(container.command, "--kv-transfer-config")
            assert env_values["LMCACHE_ENABLE_CONTROLLER"] == "True"
            assert env_values["LMCACHE_CONTROLLER_PULL_URL"] == "vllm-router-service:9000"
            assert env_values.get("LMCACHE_CONTROLLER_REPLY_URL") == ("vllm-router-service:9001" if replies else None)
            instance = next(e for e in container.env if e.name == "LMCACHE_LMCACHE_INSTANCE_ID")
            assert instance.value_from.field_ref.field_path == "metadata.name"
        router = apps.read_namespaced_deployment("vllm-deployment-router", namespace).spec.template.spec.containers[0]
        assert _after(router.args, "--routing-logic") == "kvaware"
        assert _after(router.args, "--lmcache-controller-port") == "9000"
        assert ("--lmcache-controller-reply-port" in router.args) == replies
        ports = {p.port for p in core.read_namespaced_service("vllm-router-service", namespace).spec.ports}
        assert ports >= ({9000, 9001, 9002} if replies else {9000})
    status = vllmctl(tmp_path, kube_env, namespace, "status", env=env)
    assert status.code == 0, status.output


def test_a_disaggregated_pair_is_installed_in_a_namespace_labelled_privileged(tmp_path, kube_env, namespace,
                                                                             test_server_chart):
    kube_env.kubelet.auto_ready(namespace)
    write_models(tmp_path, model("chat-prefill", modelURL="example-org/chat", lmcache={"role": "prefill"}),
                 model("chat", modelURL="example-org/chat", lmcache={"role": "decode"}))
    env = {"VLLM_CHART": str(test_server_chart("0.1.12")), "VLLM_ROUTING_LOGIC": "disaggregated_prefill"}
    # the namespace vllmctl made enforces baseline, which refuses the pair's hostIPC and hostPID
    assert vllmctl(tmp_path, kube_env, namespace, "create-namespace", env=env).code == 0
    refused = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert refused.code == 2 and "set VLLM_POD_SECURITY=privileged" in refused.stderr
    r = vllmctl(tmp_path, kube_env, namespace, "install", env={**env, "VLLM_POD_SECURITY": "privileged"})
    assert r.code == 0, r.output
    assert "namespace" in r.output and "labelled Pod Security privileged" in r.output
    with kube_env.api_client() as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        labels = core.read_namespace(namespace).metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
        assert labels["pod-security.kubernetes.io/warn"] == "baseline"
        for name, role in (("chat-prefill", "kv_producer"), ("chat", "kv_consumer")):
            pod = apps.read_namespaced_deployment(f"vllm-{name}-deployment-vllm", namespace).spec.template.spec
            assert pod.host_ipc and pod.host_pid
            assert f'"kv_role":"{role}"' in _after(pod.containers[0].command, "--kv-transfer-config")
        router = apps.read_namespaced_deployment("vllm-deployment-router", namespace).spec.template.spec
        assert not router.host_ipc
        args = router.containers[0].args
        assert _after(args, "--prefill-model-labels") == "chat-prefill"
        assert _after(args, "--decode-model-labels") == "chat"

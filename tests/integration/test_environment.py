"""Smoke tests of the real local test environment itself (tests/env)."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from tests.helpers import wait_for
from tests.integration.deploy_helpers import BOTH_CHARTS

ES_GROUP, ES_VERSION = "external-secrets.io", "v1"


@pytest.fixture
def api(kube_env):
    with kube_env.api_client() as a:
        yield a


def test_cluster_basics(kube_env, api):
    version = client.VersionApi(api).get_code()
    assert (version.major, version.minor) == ("1", "20")
    node = client.CoreV1Api(api).read_node(kube_env.node_name)
    assert node.status.allocatable["nvidia.com/gpu"] == "2"
    assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
    assert Path(kube_env.kubeconfig).is_file()
    assert kube_env.server.startswith("https://127.0.0.1:")
    cfg = yaml.safe_load(Path(kube_env.kubeconfig).read_text())
    assert cfg["current-context"] == kube_env.context == "vllmctl-test"
    assert kube_env.env()["KUBECONFIG"] == kube_env.kubeconfig


def test_secret_and_custom_object_round_trip(kube_env, api, namespace, eso):
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(namespace, {"metadata": {"name": "s1"}, "stringData": {"k": "v"}})
    assert base64.b64decode(core.read_namespaced_secret("s1", namespace).data["k"]) == b"v"

    custom = client.CustomObjectsApi(api)
    body = {
        "apiVersion": f"{ES_GROUP}/{ES_VERSION}", "kind": "ExternalSecret",
        "metadata": {"name": "round-trip"},
        # no store kind the stand-in knows: it reports an error; we overwrite the status ourselves
        "spec": {"secretStoreRef": {"name": "nope", "kind": "SecretStore"}, "data": []},
    }
    custom.create_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets", body)
    wait_for(lambda: custom.get_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets",
                                                         "round-trip").get("status"), what="stand-in status")
    custom.patch_namespaced_custom_object_status(
        ES_GROUP, ES_VERSION, namespace, "externalsecrets", "round-trip",
        {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Manual"}]}})
    got = custom.get_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets",
                                              "round-trip")
    assert got["status"]["conditions"][0]["reason"] == "Manual"
    assert got["spec"]["secretStoreRef"]["name"] == "nope"


def _deployment(name, gpus="1", replicas=1):
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "main", "image": "example.invalid/none:1",
                    "resources": {"requests": {"cpu": "100m", "nvidia.com/gpu": gpus},
                                  "limits": {"nvidia.com/gpu": gpus}},
                }]},
            },
        },
    }


def test_deployment_becomes_pods_bound_to_the_gpu_node(kube_env, api, namespace):
    client.AppsV1Api(api).create_namespaced_deployment(namespace, _deployment("web", replicas=2))
    core = client.CoreV1Api(api)

    def bound():
        pods = core.list_namespaced_pod(namespace, label_selector="app=web").items
        return len(pods) == 2 and all(p.spec.node_name == kube_env.node_name for p in pods) and pods

    pods = wait_for(bound, what="2 pods bound to gpu-node-1")
    assert all(p.status.phase == "Pending" for p in pods)  # no auto_ready: they stay Pending


def test_too_many_gpus_fails_scheduling(kube_env, api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "greedy"},
        "spec": {"containers": [{"name": "main", "image": "example.invalid/none:1",
                                 "resources": {"limits": {"nvidia.com/gpu": "3"}}}]},
    })

    def failed_event():
        events = core.list_namespaced_event(namespace, field_selector="involvedObject.name=greedy").items
        return [e for e in events if e.reason == "FailedScheduling"]

    events = wait_for(failed_event, what="FailedScheduling event")
    assert "Insufficient nvidia.com/gpu" in events[0].message
    # the scheduler records the event and patches the pod's condition independently
    cond = wait_for(lambda: {c.type: c for c in core.read_namespaced_pod("greedy", namespace).status.conditions
                             or []}.get("PodScheduled"), what="PodScheduled condition")
    assert cond.status == "False" and cond.reason == "Unschedulable"


def test_openbao_kv_v2_round_trip(vault_env):
    vc = vault_env.client()
    assert vc.is_authenticated()
    kv = vc.secrets.kv.v2
    kv.create_or_update_secret(path="smoke/one", secret={"token": "abc"}, mount_point="secret")
    assert kv.read_secret_version(path="smoke/one", mount_point="secret",
                                  raise_on_deleted_version=True)["data"]["data"] == {"token": "abc"}
    kv.delete_metadata_and_all_versions(path="smoke/one", mount_point="secret")
    import hvac.exceptions

    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version(path="smoke/one", mount_point="secret", raise_on_deleted_version=True)
    assert set(vault_env.env()) == {"VAULT_ADDR", "VAULT_TOKEN"}


def test_fresh_vault_can_be_sealed_without_touching_the_session_one(fresh_vault, vault_env):
    fresh_vault.seal()
    assert fresh_vault.client().sys.is_sealed()
    assert not vault_env.client().sys.is_sealed()
    fresh_vault.unseal()
    assert not fresh_vault.client().sys.is_sealed()
    fresh_vault.stop()
    assert not fresh_vault.running


VALUES = """
servingEngineSpec:
  runtimeClassName: ""
  vllmApiKey: {secretName: vllm-api-key, secretKey: api-key}
  modelSpec:
    - name: llama3
      repository: vllm/vllm-openai
      tag: v0.9.1
      modelURL: meta-llama/Llama-3.1-8B-Instruct
      replicaCount: 1
      requestCPU: 4
      requestMemory: 16Gi
      requestGPU: 1
      pvcStorage: 50Gi
      enableTool: true
      toolCallParser: llama3_json
      hf_token: {secretName: hf-token, secretKey: token}
      vllmConfig:
        enableChunkedPrefill: true
        maxModelLen: 4096
        dtype: bfloat16
        tensorParallelSize: 1
        maxNumSeqs: 32
        gpuMemoryUtilization: 0.9
        extraArgs: ["--served-model-name", "llama3"]
      chatTemplate: tool.jinja
routerSpec:
  routingLogic: roundrobin
"""

EXPECTED_ARGV = [
    "vllm", "serve", "meta-llama/Llama-3.1-8B-Instruct", "--host", "0.0.0.0", "--port", "8000",
    "--enable-auto-tool-choice", "--tool-call-parser", "llama3_json",
    "--enable-chunked-prefill", "--no-enable-prefix-caching",
    "--max-model-len", "4096", "--dtype", "bfloat16", "--tensor-parallel-size", "1",
    "--max-num-seqs", "32", "--gpu_memory_utilization", "0.9",
    "--served-model-name", "llama3",
    "--chat-template", "/templates/tool.jinja",
]


@BOTH_CHARTS
def test_helm_install_of_the_real_chart(kube_env, api, namespace, helm_bin, test_server_chart, chart_version):
    kube_env.kubelet.auto_ready(namespace)
    # The chart mounts a chatTemplate from a claim it does not create (`vllm-templates-pvc`): the user's.
    client.CoreV1Api(api).create_namespaced_persistent_volume_claim(namespace, {
        "metadata": {"name": "vllm-templates-pvc"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    cmd = [helm_bin, "upgrade", "--install", "vllm", str(test_server_chart(chart_version)), "--namespace", namespace,
           "--kubeconfig", kube_env.kubeconfig, "--kube-context", kube_env.context,
           "--wait", "--timeout", "90s", "-f", "-"]
    res = subprocess.run(cmd, input=VALUES, text=True, capture_output=True,
                         env={**_base_env(), **kube_env.env()}, timeout=120)
    assert res.returncode == 0, res.stderr
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    dep = apps.read_namespaced_deployment("vllm-llama3-deployment-vllm", namespace)
    assert dep.metadata.labels["model"] == "llama3"
    assert dep.metadata.labels["helm-release-name"] == "vllm"
    container = dep.spec.template.spec.containers[0]
    assert container.command == EXPECTED_ARGV
    env = {e.name: e for e in container.env}
    assert env["HF_HOME"].value == "/data"
    assert env["HF_TOKEN"].value_from.secret_key_ref.name == "hf-token"
    assert env["VLLM_API_KEY"].value_from.secret_key_ref.key == "api-key"
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert dep.spec.strategy.rolling_update.max_surge == "100%"
    assert dep.status.ready_replicas == 1  # helm --wait finished thanks to the fake kubelet
    core.read_namespaced_service("vllm-llama3-engine-service", namespace)
    core.read_namespaced_service("vllm-router-service", namespace)
    apps.read_namespaced_deployment("vllm-deployment-router", namespace)
    pvc = core.read_namespaced_persistent_volume_claim("vllm-llama3-storage-claim", namespace)
    assert pvc.spec.access_modes == ["ReadWriteOnce"]
    assert pvc.status.phase == "Bound"
    assert not core.read_namespaced_secret("vllm-secrets", namespace).data  # rendered always, empty here
    core.read_namespaced_service_account("vllm-router-service-account", namespace)
    client.RbacAuthorizationV1Api(api).read_namespaced_role("vllm-reader", namespace)
    client.ApiextensionsV1Api(api).read_custom_resource_definition("loraadapters.production-stack.vllm.ai")
    # from 0.1.10 on the selectors carry the app.kubernetes.io labels (the reason 0.1.8 -> 0.1.12 cannot patch)
    assert ("app.kubernetes.io/name" in dep.spec.selector.match_labels) == (chart_version != "0.1.8")
    for probe in (container.startup_probe, container.readiness_probe, container.liveness_probe):
        assert probe.http_get.path == "/health"


def _base_env():
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "HELM_"))}


def _external_secret(name, key, prop):
    return {
        "apiVersion": f"{ES_GROUP}/{ES_VERSION}", "kind": "ExternalSecret", "metadata": {"name": name},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": "vault-secret-store", "kind": "ClusterSecretStore"},
            "target": {"name": name.replace("-external-secret", ""), "creationPolicy": "Owner"},
            "data": [{"secretKey": "token", "remoteRef": {"key": key, "property": prop}}],
        },
    }


def _ready(custom, namespace, name):
    obj = custom.get_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets", name)
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conds if c["type"] == "Ready"), None)


def test_eso_stand_in_syncs_and_reports_errors(kube_env, api, namespace, eso, vault_env):
    vault_env.client().secrets.kv.v2.create_or_update_secret(
        path=f"{namespace}/huggingface", secret={"token": "hf_one"}, mount_point="secret")
    custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
    custom.create_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets",
                                           _external_secret("hf-token-external-secret",
                                                            f"{namespace}/huggingface", "token"))
    cond = wait_for(lambda: _ready(custom, namespace, "hf-token-external-secret"), what="Ready condition")
    assert (cond["status"], cond["reason"]) == ("True", "SecretSynced")
    sec = core.read_namespaced_secret("hf-token", namespace)
    assert base64.b64decode(sec.data["token"]) == b"hf_one"
    assert sec.metadata.owner_references[0].kind == "ExternalSecret"

    # updated in place on resync
    vault_env.client().secrets.kv.v2.create_or_update_secret(
        path=f"{namespace}/huggingface", secret={"token": "hf_two"}, mount_point="secret")
    eso.resync()
    sec2 = core.read_namespaced_secret("hf-token", namespace)
    assert base64.b64decode(sec2.data["token"]) == b"hf_two"
    assert sec2.metadata.uid == sec.metadata.uid

    # missing path
    custom.create_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets",
                                           _external_secret("missing-external-secret",
                                                            f"{namespace}/nothing-here", "token"))
    cond = wait_for(lambda: _ready(custom, namespace, "missing-external-secret"), what="Ready condition")
    assert (cond["status"], cond["reason"]) == ("False", "SecretSyncedError")
    assert "nothing-here" in cond["message"]

    # like the real operator, a failed sync is retried: writing the path later heals it
    vault_env.client().secrets.kv.v2.create_or_update_secret(
        path=f"{namespace}/nothing-here", secret={"token": "late"}, mount_point="secret")
    wait_for(lambda: _ready(custom, namespace, "missing-external-secret")["status"] == "True",
             what="retry of a failed sync")
    assert base64.b64decode(core.read_namespaced_secret("missing", namespace).data["token"]) == b"late"

    # a missing property
    custom.create_namespaced_custom_object(ES_GROUP, ES_VERSION, namespace, "externalsecrets",
                                           _external_secret("prop-external-secret",
                                                            f"{namespace}/huggingface", "nope"))
    cond = wait_for(lambda: _ready(custom, namespace, "prop-external-secret"), what="Ready condition")
    assert (cond["status"], cond["reason"]) == ("False", "SecretSyncedError")
    assert "nope" in cond["message"]


def test_eso_absent_removes_the_store(api, eso_absent):
    custom = client.CustomObjectsApi(api)
    items = custom.list_cluster_custom_object(ES_GROUP, ES_VERSION, "clustersecretstores")["items"] \
        if _crd_served(api) else []
    assert not [s for s in items if s["metadata"]["name"] == "vault-secret-store"]


def test_eso_present_again_after_eso_absent(api, eso):
    custom = client.CustomObjectsApi(api)
    store = custom.get_cluster_custom_object(ES_GROUP, ES_VERSION, "clustersecretstores", "vault-secret-store")
    assert store["spec"]["provider"]["vault"]["version"] == "v2"


def _crd_served(api):
    try:
        client.ApiextensionsV1Api(api).read_custom_resource_definition("clustersecretstores.external-secrets.io")
        return True
    except client.ApiException:
        return False


def test_fake_kubelet_serves_logs_through_the_api_server(kube_env, api, namespace):
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "talker"},
        "spec": {"containers": [{"name": "main", "image": "example.invalid/none:1"}]},
    })
    wait_for(lambda: core.read_namespaced_pod("talker", namespace).spec.node_name, what="pod bound")
    text = core.read_namespaced_pod_log("talker", namespace, container="main", tail_lines=2)
    assert text.splitlines() == ["log line 19 from talker/main", "log line 20 from talker/main"]
    text = core.read_namespaced_pod_log("talker", namespace, timestamps=True, tail_lines=1)
    assert text.endswith(" log line 20 from talker/main\n") and text.startswith("2024-")
    streamed = core.read_namespaced_pod_log("talker", namespace, follow=True, tail_lines=1)
    assert streamed.splitlines()[-1] == "follow line 3 from talker/main"
    kube_env.kubelet.mark_pods_running(namespace)
    pod = core.read_namespaced_pod("talker", namespace)
    assert pod.status.phase == "Running"
    assert pod.status.container_statuses[0].ready


def test_runtime_class_fixture(api, runtime_class):
    rc = client.NodeV1Api(api).read_runtime_class(runtime_class)
    assert rc.handler == "nvidia"

"""LoRA adapters installed with the real chart on the local control plane (kube-apiserver 1.20).

Helm installs the chart's LoraAdapter CRD (apiextensions.k8s.io/v1, which 1.20 serves) with a
release's first install; the objects and fields are asserted here. The LoRA controller's pod only
runs as the fake kubelet reports it: no engine answers here, so no adapter is really loaded (that
path, /v1/load_lora_adapter and /v1/models with `parent`, is the fake engine's, tests/cli/test_lora_api.py).
The chart's ClusterRole and ClusterRoleBinding are named after the release, so each test has its own.
"""

from __future__ import annotations

import json
import time

import pytest
from kubernetes import client

from tests.integration.deploy_helpers import model, vllmctl, write_models
from tests.integration.optional_crds import delete_crd

CRD = "loraadapters.production-stack.vllm.ai"
GROUP, VERSION, PLURAL = "production-stack.vllm.ai", "v1alpha1", "loraadapters"
ADAPTERS = {"adapters": [
    {"name": "sql", "source": "huggingface", "repository": "yard1/llama-2-7b-sql-lora-test"},
    {"name": "local-one", "source": "local", "path": "/data/lora-adapters/one", "replicas": 1},
]}


def _adapters(api, namespace) -> dict[str, dict]:
    items = client.CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)["items"]
    return {o["metadata"]["name"]: o["spec"] for o in items}


@pytest.mark.parametrize("version", ["0.1.8", "0.1.12"])
def test_adapters_and_the_controller_are_installed(tmp_path, kube_env, namespace, test_server_chart, version):
    kube_env.kubelet.auto_ready(namespace)
    release = f"lora{version.replace('.', '')}"
    write_models(tmp_path, model("chat", lora={"maxLoraRank": 16, **ADAPTERS}), model("plain"))
    env = {"VLLM_CHART": str(test_server_chart(version)), "VLLM_RELEASE": release}
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 0, r.output
    assert "lora-controller" in r.output  # the rollout watch waited for the controller too
    with kube_env.api_client() as api:
        crd = client.ApiextensionsV1Api(api).read_custom_resource_definition(CRD)
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
        adapters = _adapters(api, namespace)
        assert set(adapters) == {"sql", "local-one"}
        assert all(a["baseModel"] == "chat" for a in adapters.values())
        assert adapters["sql"]["adapterSource"] == {
            "type": "huggingface", "adapterName": "sql", "repository": "yard1/llama-2-7b-sql-lora-test",
            "credentialsSecretRef": {"name": "hf-token", "key": "token"}}
        assert adapters["local-one"]["adapterSource"]["adapterPath"] == "/data/lora-adapters/one"
        assert adapters["local-one"]["loraAdapterDeploymentConfig"] == {"algorithm": "default", "replicas": 1}

        apps, rbac = client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
        controller = apps.read_namespaced_deployment(f"{release}-lora-controller", namespace)
        assert controller.status.ready_replicas == 1
        assert controller.spec.template.spec.service_account_name == f"{release}-lora-controller"
        role = rbac.read_cluster_role(f"{release}-lora-controller")
        assert any("loraadapters" in (rule.resources or []) for rule in role.rules)
        binding = rbac.read_cluster_role_binding(f"{release}-lora-controller")
        assert (binding.subjects[0].name, binding.subjects[0].namespace) == (f"{release}-lora-controller", namespace)

        pod = apps.read_namespaced_deployment(f"{release}-chat-deployment-vllm", namespace).spec.template.spec
        engine = next(c for c in pod.containers if c.name == "vllm")
        argv = (engine.command or []) + (engine.args or [])
        assert "--enable-lora" in argv and argv[argv.index("--max_loras") + 1] == "2"
        assert argv[argv.index("--max-lora-rank") + 1] == "16"
        assert {(e.name, e.value) for e in engine.env} >= {("VLLM_ALLOW_RUNTIME_LORA_UPDATING", "True")}
        assert [c.name for c in pod.containers] == ["vllm", "sidecar"]
        plain = apps.read_namespaced_deployment(f"{release}-plain-deployment-vllm", namespace).spec.template.spec
        assert "--enable-lora" not in (plain.containers[0].command or []) + (plain.containers[0].args or [])

    _status_reports_what_the_controller_loaded(tmp_path, kube_env, namespace, env)

    # removing an adapter from models.yaml removes its LoraAdapter (helm owns them)
    write_models(tmp_path, model("chat", lora={"adapters": ADAPTERS["adapters"][1:]}), model("plain"))
    diff = vllmctl(tmp_path, kube_env, namespace, "diff", env=env)
    assert "LoraAdapter/sql" in diff.output and "LoraAdapter/local-one" not in diff.output, diff.output
    up = vllmctl(tmp_path, kube_env, namespace, "upgrade", env=env)
    assert up.code == 0, up.output
    with kube_env.api_client() as api:
        assert set(_adapters(api, namespace)) == {"local-one"}
    # the same release name in another namespace would collide on the chart's cluster-wide RBAC
    other = namespace[:60] + "-b"
    clash = vllmctl(tmp_path, kube_env, other, "install", env=env)
    assert clash.code == 1, clash.output
    assert f"clusterrole '{release}-lora-controller'" in clash.stderr and f"namespace {namespace!r}" in clash.stderr
    with kube_env.api_client() as api:  # refused before anything was written
        assert other not in [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
    assert vllmctl(tmp_path, kube_env, namespace, "uninstall", "--yes", env=env).code == 0


def _status_reports_what_the_controller_loaded(tmp_path, kube_env, namespace, env) -> None:
    """This test acts as the LoRA controller (no engine answers here): it writes a LoraAdapter's
    status subresource as the controller does after loading it, and `status` reads it back."""
    with kube_env.api_client() as api:
        objects = client.CustomObjectsApi(api)
        pod = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="model=chat").items[0].metadata.name
        sql = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "sql")
        objects.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, "sql", {"status": {
            "observedGeneration": sql["metadata"]["generation"],
            "loadedAdapters": [{"name": "sql", "path": "/data/sql", "status": "Loaded",
                                "podAssignments": {"podName": pod, "namespace": namespace}}]}})
    r = vllmctl(tmp_path, kube_env, namespace, "status", "-o", "json", env=env)
    assert r.code == 0, r.output
    rows = {row["pod"]: row for row in json.loads(r.stdout)}
    assert rows[pod]["adapters"] == {"local-one": False, "sql": True}
    text = vllmctl(tmp_path, kube_env, namespace, "status", env=env)
    assert "adapter sql (model chat): loaded in 1 of 1 pod(s)" in text.output
    assert "adapter local-one (model chat): not reported yet" in text.output  # no status written for it


def test_preflight_refuses_adapters_on_an_installed_release_without_the_lora_api(tmp_path, kube_env, namespace,
                                                                               test_server_chart):
    kube_env.kubelet.auto_ready(namespace)
    env = {"VLLM_CHART": str(test_server_chart("0.1.12")), "VLLM_RELEASE": "lorapre"}
    write_models(tmp_path, model("chat"))
    assert vllmctl(tmp_path, kube_env, namespace, "install", env=env).code == 0
    with kube_env.api_client() as api:
        delete_crd(api, CRD)  # as a cluster where the CRD was removed, or the release installed with --skip-crds
    time.sleep(1)  # discovery lags a moment behind the deletion
    write_models(tmp_path, model("chat", lora=ADAPTERS))
    refused = vllmctl(tmp_path, kube_env, namespace, "upgrade", env=env)
    assert refused.code == 1, refused.output
    assert "LoraAdapter (production-stack.vllm.ai/v1alpha1)" in refused.stderr and "helm show crds" in refused.stderr
    with kube_env.api_client() as api:  # nothing was changed: still revision 1, no controller
        names = [d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment(namespace).items]
        assert "lorapre-lora-controller" not in names
    # a first install brings the CRD with it: no refusal then
    assert vllmctl(tmp_path, kube_env, namespace, "uninstall", "--yes", env=env).code == 0
    r = vllmctl(tmp_path, kube_env, namespace, "install", env=env)
    assert r.code == 0, r.output
    with kube_env.api_client() as api:
        assert set(_adapters(api, namespace)) == {"sql", "local-one"}
    assert vllmctl(tmp_path, kube_env, namespace, "uninstall", "--yes", env=env).code == 0

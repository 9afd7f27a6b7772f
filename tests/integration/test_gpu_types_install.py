"""GPU types against the real API server: preflight counts the resource each model asks for
(requestGPUType) on nodes that advertise it (AMD GPUs, MIG slices; their status patched in as a
kubelet would post it) and in the pods that already hold it, and names it when it is short; the real
chart requests it."""

from __future__ import annotations

import json

from kubernetes import client

from tests.integration.deploy_helpers import model, write_models

AMD, MIG = "amd.com/gpu", "nvidia.com/mig-3g.40gb"


def _findings(r) -> dict[str, str]:
    return {f["rule"]: f["message"] for f in json.loads(r.stdout)["findings"] if f["severity"] == "error"}


def rocm(**kw):
    return model("rocm", requestGPU=2, requestGPUType=AMD, runtimeClassName="", image="rocm/vllm", tag="v0.9.1",
                 pvcStorage="", **kw)


def test_preflight_counts_amd_gpus_and_mig_slices_on_their_nodes(tmp_path, cli, extra_nodes, namespace):
    extra_nodes.create({"amd-node": {AMD: "2"}, "mig-node": {MIG: "2", "nvidia.com/gpu": "0"}})
    sliced = model("sliced", requestGPU=1, requestGPUType=MIG, pvcStorage="", replicaCount=2)
    write_models(tmp_path, rocm(), sliced)
    r = cli("preflight", "-o", "json")
    assert r.code == 0, r.output  # gpu-node-1's two NVIDIA GPUs do not count for either

    extra_nodes.bind_pod(namespace, "training", "amd-node", {AMD: "1"})
    r = cli("preflight", "-o", "json")
    assert r.code == 1, r.output
    assert "the models need 2 amd.com/gpu in all but the cluster has 1 free (2 allocatable" in _findings(r)["gpu-total"]

    write_models(tmp_path, rocm(), model("xe", requestGPU=1, requestGPUType="gpu.intel.com/xe", runtimeClassName="",
                                         image="intel/vllm", tag="0.8.0", pvcStorage=""))
    fit = _findings(cli("preflight", "-o", "json"))["gpu-fit"]
    assert "'xe' asks for 1 GPUs per pod (gpu.intel.com/xe) but no schedulable node has gpu.intel.com/xe" in fit
    assert f"(the nodes offer: {AMD}, nvidia.com/gpu, {MIG})" in fit


def test_two_mig_slices_in_one_pod_are_refused_at_their_line(tmp_path, cli):
    write_models(tmp_path, model("sliced", requestGPU=2, requestGPUType=MIG, pvcStorage=""))
    r = cli("preflight")
    assert r.code == 2, r.output
    line = next(i for i, text in enumerate((tmp_path / "models.yaml").read_text().splitlines(), 1)
                if text.strip().startswith("requestGPU: 2"))
    assert f"models.yaml:{line}:" in r.stderr and "a CUDA process uses only one" in r.stderr


def test_the_real_chart_requests_the_models_resource(tmp_path, cli, extra_nodes, namespace):
    extra_nodes.create({"amd-node": {AMD: "2"}})
    write_models(tmp_path, rocm())
    r = cli("install", "--no-wait")
    assert r.code == 0, r.output
    with cli.kube_env.api_client() as api:
        deployment = client.AppsV1Api(api).read_namespaced_deployment("vllm-rocm-deployment-vllm", namespace)
    spec = deployment.spec.template.spec
    resources = spec.containers[0].resources
    assert resources.limits[AMD] == "2" and resources.requests[AMD] == "2"
    assert "nvidia.com/gpu" not in resources.limits and spec.runtime_class_name is None


def test_cluster_facts_read_pods_only_on_the_nodes_offering_what_the_models_hold(extra_nodes, namespace, kube_env,
                                                                                   monkeypatch):
    """The adapter against the real API server: the pods bound to a node count where the models'
    resource is offered, and are not read at all for CPU-only models."""
    from vllmctl.adapters.kube import cluster_facts
    from vllmctl.adapters.kube_client import connect

    extra_nodes.create({"amd-node": {AMD: "2"}, "plain-node": {}})
    extra_nodes.bind_pod(namespace, "training", "amd-node", {AMD: "1"})
    extra_nodes.bind_pod(namespace, "odd", "plain-node", {AMD: "1"})  # holds what its node does not offer
    for name, value in kube_env.env().items():
        monkeypatch.setenv(name, value)
    cluster = connect()

    def used(resources):
        nodes = cluster_facts(cluster, "vllm", namespace, resources=resources).nodes
        return {n.name: dict(n.used) for n in nodes if n.name in ("amd-node", "plain-node")}

    assert used(frozenset({AMD})) == {"amd-node": {AMD: 1}, "plain-node": {}}
    assert used(None) == {"amd-node": {AMD: 1}, "plain-node": {}}
    assert used(frozenset({"nvidia.com/gpu"})) == {"amd-node": {}, "plain-node": {}}
    assert used(frozenset()) == {"amd-node": {}, "plain-node": {}}

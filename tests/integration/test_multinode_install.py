"""Multi-node models installed with the real chart on the local control plane: preflight refuses
without the RayCluster API; with it (the project's own RayCluster CRD stand-in,
tests/env/optional-crds/ray-raycluster.yaml: no KubeRay operator runs here) the release creates the
RayCluster with the GPUs per node, the shared memory of every pod and the head's start script."""

from __future__ import annotations

import json

import pytest
from kubernetes import client

from tests.integration.deploy_helpers import model, write_models
from tests.integration.optional_crds import served_crd
from vllmctl.core.multinode import start_args


def big(**kw):
    return model("big", requestGPU=1, pvcStorage="", multiNode={"nodes": 2},
                 vllmConfig={"tensorParallelSize": 1, "pipelineParallelSize": 2}, **kw)


def test_preflight_refuses_a_multi_node_model_without_the_ray_cluster_api(tmp_path, cli, namespace):
    write_models(tmp_path, big())
    r = cli("install")
    assert r.code == 1, r.output
    assert "RayCluster (ray.io/v1)" in r.stderr and "install the KubeRay operator" in r.stderr
    with cli.kube_env.api_client() as api:  # preflight stops before anything is changed
        assert not client.AppsV1Api(api).list_namespaced_deployment(namespace).items


@pytest.mark.parametrize("chart_version", ["0.1.8", "0.1.12"])
def test_a_multi_node_model_is_installed_as_a_ray_cluster(tmp_path, cli, namespace, chart_version):
    write_models(tmp_path, big(), model("small", pvcStorage=""))
    with served_crd(cli.kube_env, "ray-raycluster.yaml"):
        r = cli("install", "--no-wait")
        assert r.code == 0, r.output
        with cli.kube_env.api_client() as api:
            rc = client.CustomObjectsApi(api).get_namespaced_custom_object(
                "ray.io", "v1", namespace, "rayclusters", "vllm-big-raycluster")
            deployments = {d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment(namespace).items}
            script = client.CoreV1Api(api).read_namespaced_config_map("big-vllm-start-script", namespace)
    assert "vllm-big-deployment-vllm" not in deployments and "vllm-small-deployment-vllm" in deployments
    head, [workers] = rc["spec"]["headGroupSpec"]["template"]["spec"], rc["spec"]["workerGroupSpecs"]
    assert workers["replicas"] == 1
    for pod in (head, workers["template"]["spec"]):
        container = pod["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        shm = next(v for v in pod["volumes"] if v["name"] == "shm")
        assert shm["emptyDir"]["medium"] == "Memory"
        assert any(m["mountPath"] == "/dev/shm" and m["name"] == "shm" for m in container["volumeMounts"])
    args = start_args(script.data["vllm-entrypoint.sh"])
    assert args[args.index("--pipeline-parallel-size") + 1] == "2"


class KubeRayStandIn:
    """What the KubeRay operator does that the rollout watch reads: for each RayCluster, a head pod and
    its workers' pods from the cluster's own templates, labelled `ray.io/cluster` (a thread; tests only)."""

    def __init__(self, kube_env, namespace: str) -> None:
        import threading

        self.kube_env, self.namespace, self.done = kube_env, namespace, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        made: set[str] = set()
        with self.kube_env.api_client() as api:
            custom, core = client.CustomObjectsApi(api), client.CoreV1Api(api)
            while not self.done.wait(0.3):
                for rc in custom.list_namespaced_custom_object("ray.io", "v1", self.namespace, "rayclusters")["items"]:
                    name = rc["metadata"]["name"]
                    if name in made:
                        continue
                    made.add(name)
                    groups = [("head", rc["spec"]["headGroupSpec"], 1)] + [
                        (g["groupName"], g, g["replicas"]) for g in rc["spec"]["workerGroupSpecs"]]
                    for group, spec, count in groups:
                        for i in range(count):
                            template = spec["template"]
                            labels = {**template["metadata"]["labels"], "ray.io/cluster": name,
                                      "ray.io/node-type": "head" if group == "head" else "worker"}
                            core.create_namespaced_pod(self.namespace, {
                                "metadata": {"name": f"{name}-{group}-{i}", "labels": labels},
                                "spec": template["spec"]})

    def stop(self) -> None:
        self.done.set()
        self.thread.join(10)


def test_the_rollout_waits_for_the_ray_clusters_pods_and_stops_when_one_cannot_schedule(tmp_path, cli, namespace):
    cli.kube_env.kubelet.auto_ready(namespace)
    with served_crd(cli.kube_env, "ray-raycluster.yaml"):
        operator = KubeRayStandIn(cli.kube_env, namespace)
        try:
            write_models(tmp_path, big())  # two pods of one GPU: gpu-node-1 has two
            r = cli("install")
            assert r.code == 0, r.output
            with cli.kube_env.api_client() as api:
                pods = client.CoreV1Api(api).list_namespaced_pod(
                    namespace, label_selector="ray.io/cluster=vllm-big-raycluster").items
            assert len(pods) == 2 and all(p.spec.node_name == "gpu-node-1" for p in pods)
            rows = json.loads(cli("status", "-o", "json").stdout)  # status lists the Ray cluster's pods
            assert sorted(row["pod"] for row in rows if row["model"] == "big") == sorted(p.metadata.name for p in pods)
            assert all(row["ready"] and row["gpus"] == 1 for row in rows if row["model"] == "big")

            write_models(tmp_path, model("wide", requestGPU=2, pvcStorage="", multiNode={"nodes": 2},
                                         vllmConfig={"tensorParallelSize": 2, "pipelineParallelSize": 2}))
            r = cli("upgrade", "--skip-preflight")
            assert r.code != 0, r.output
            assert "model 'wide': pod vllm-wide-raycluster-" in r.stderr and "cannot be scheduled" in r.stderr
        finally:
            operator.stop()

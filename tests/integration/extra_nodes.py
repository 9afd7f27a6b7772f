"""Nodes beside the test environment's `gpu-node-1`, for tests that need other accelerators or more
nodes: a Node object whose status (allocatable, Ready) the test patches in, as a kubelet would post it.
A NoSchedule taint keeps the scheduler from placing other tests' pods there (no kubelet serves these
nodes; preflight counts them, since it reads capacity, not taints). Nodes and the pods bound to them
are deleted when the test ends."""

from __future__ import annotations

import contextlib
import time

import pytest

TAINT = {"key": "vllmctl.test/extra-node", "value": "true", "effect": "NoSchedule"}


class ExtraNodes:
    def __init__(self, kube_env) -> None:
        self.kube_env = kube_env
        self.nodes: list[str] = []
        self.pods: list[tuple[str, str]] = []

    def create(self, nodes: dict[str, dict[str, str]]) -> None:
        """``create({"amd-1": {"amd.com/gpu": "2"}})``: Ready nodes with these extended resources."""
        from kubernetes import client

        with self.kube_env.api_client() as api:
            core = client.CoreV1Api(api)
            for name, resources in nodes.items():
                core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}})
                self.nodes.append(name)
                allocatable = {"cpu": "32", "memory": "256Gi", "pods": "110", **resources}
                now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                core.patch_node_status(name, {"status": {
                    "capacity": allocatable, "allocatable": allocatable,
                    "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                    "message": "test node", "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
                core.patch_node(name, {"spec": {"taints": [TAINT]}})

    def bind_pod(self, namespace: str, name: str, node: str, resources: dict[str, str]) -> None:
        """A pod of another workload bound straight to `node` (no scheduler), holding `resources`."""
        from kubernetes import client

        with self.kube_env.api_client() as api:
            client.CoreV1Api(api).create_namespaced_pod(namespace, {
                "metadata": {"name": name, "labels": {"app": "other-workload"}},
                "spec": {"nodeName": node, "containers": [{
                    "name": "c", "image": "example.invalid/hold:1",
                    "resources": {"limits": resources, "requests": resources}}]},
            })
        self.pods.append((namespace, name))

    def close(self) -> None:
        from kubernetes import client

        with self.kube_env.api_client() as api:
            core = client.CoreV1Api(api)
            for namespace, name in self.pods:  # no kubelet confirms their end: remove them at once
                with contextlib.suppress(client.exceptions.ApiException):
                    core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            for name in self.nodes:
                with contextlib.suppress(client.exceptions.ApiException):
                    core.delete_node(name)


@pytest.fixture
def extra_nodes(kube_env):
    nodes = ExtraNodes(kube_env)
    yield nodes
    nodes.close()

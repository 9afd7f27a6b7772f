"""Kubernetes reads and writes of the deploy and day-two commands: namespaces, nodes, pods, events,
storage and runtime classes, PVCs, logs. Objects come back as the API's own JSON (dicts), which
core/ reads without knowing the kubernetes client's model classes (and which is much faster)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from vllmctl.adapters.kube_client import REQUEST_TIMEOUT, Cluster, api_error
from vllmctl.core.pod_security import NAMESPACE_LABELS as PSA_LABELS
from vllmctl.core.preflight import ClusterFacts, NodeFacts
from vllmctl.core.rollout import pod_gpus

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def _request(cluster: Cluster, method: str, path: str, *, query: dict | None = None, body=None,
             content_type: str | None = None, timeout=REQUEST_TIMEOUT, stream: bool = False,
             accept: str = "application/json"):
    """One API call by path, through the client's configuration (auth, TLS, proxy) but without the
    generated API classes: kubernetes 37 builds pydantic validators for every method of e.g.
    CoreV1Api on import (about 0.4 s), more than a whole deploy's API calls take. Returns the
    decoded JSON, or the streaming urllib3 response with `stream`."""
    from kubernetes.client.exceptions import ApiException

    api = cluster.api_client
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    params = [(k, v) for k, v in (query or {}).items() if v is not None and v != ""]
    method, url, headers, body, _ = api.param_serialize(
        method=method, resource_path=path, query_params=params, header_params=headers, body=body,
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, body=body, _request_timeout=timeout)
    if not 200 <= response.status <= 299:
        data = response.read()
        raise ApiException(status=response.status, reason=response.reason,
                           body=data.decode(errors="replace") if isinstance(data, bytes) else data)
    if stream:
        return response.response
    data = response.read()
    return json.loads(data) if data else {}


def _get(cluster: Cluster, path: str, **query) -> dict:
    return _request(cluster, "GET", path, query=query)


def _items(cluster: Cluster, path: str, **query) -> list[dict]:
    return _get(cluster, path, **query).get("items") or []


def _is_status(e: Exception, *codes: int) -> bool:
    return getattr(e, "status", None) in codes


# ---------------------------------------------------------------------- namespaces
def _ns(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}"


def read_namespace(cluster: Cluster, namespace: str) -> dict | None:
    try:
        return _get(cluster, _ns(namespace))
    except Exception as e:  # noqa: BLE001 - API and transport errors alike
        if _is_status(e, 404):
            return None
        raise api_error(e, cluster, f"read namespace {namespace!r}") from None


def ensure_namespace(cluster: Cluster, namespace: str) -> bool:
    """Create the namespace with the Pod Security labels, or add missing labels; True when created."""
    from vllmctl.errors import OperationFailed

    existing = read_namespace(cluster, namespace)
    try:
        if existing is None:
            _request(cluster, "POST", "/api/v1/namespaces",
                     body={"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": namespace, "labels": PSA_LABELS}})
            return True
        if (existing.get("status") or {}).get("phase") == "Terminating":
            raise OperationFailed(f"namespace {namespace!r} is being deleted; wait until it is gone, then retry.")
        labels = (existing.get("metadata") or {}).get("labels") or {}
        missing = {k: v for k, v in PSA_LABELS.items() if k not in labels}
        if missing:
            _request(cluster, "PATCH", _ns(namespace), body={"metadata": {"labels": missing}},
                     content_type="application/merge-patch+json")
        return False
    except OperationFailed:
        raise
    except Exception as e:  # noqa: BLE001
        if _is_status(e, 409):
            return False
        raise api_error(e, cluster, f"create namespace {namespace!r}") from None


def _delete(cluster: Cluster, path: str, what: str) -> bool:
    """False when it did not exist."""
    try:
        _request(cluster, "DELETE", path)
        return True
    except Exception as e:  # noqa: BLE001
        if _is_status(e, 404):
            return False
        raise api_error(e, cluster, f"delete {what}") from None


def delete_namespace(cluster: Cluster, namespace: str) -> bool:
    return _delete(cluster, _ns(namespace), f"namespace {namespace!r}")


def leftovers(cluster: Cluster, namespace: str) -> list[str]:
    """What else lives in the namespace (besides what Kubernetes puts in every namespace and what is
    already being deleted): the namespace is deleted only when this is empty."""
    apps, batch = f"/apis/apps/v1/namespaces/{namespace}", f"/apis/batch/v1/namespaces/{namespace}"
    core = _ns(namespace)
    found = []
    try:
        checks = [
            ("Deployment", _items(cluster, f"{apps}/deployments")),
            ("StatefulSet", _items(cluster, f"{apps}/statefulsets")),
            ("DaemonSet", _items(cluster, f"{apps}/daemonsets")),
            ("Job", _items(cluster, f"{batch}/jobs")),
            ("Service", _items(cluster, f"{core}/services")),
            ("PersistentVolumeClaim", _items(cluster, f"{core}/persistentvolumeclaims")),
            ("ConfigMap", [c for c in _items(cluster, f"{core}/configmaps")
                           if c["metadata"]["name"] != "kube-root-ca.crt"]),
            ("Secret", [s for s in _items(cluster, f"{core}/secrets")
                        if s.get("type") != "kubernetes.io/service-account-token"]),
            # bare pods (no owner): owned ones go with their Deployment/Job
            ("Pod", [p for p in _items(cluster, f"{core}/pods") if not p["metadata"].get("ownerReferences")]),
        ]
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list what is left in namespace {namespace!r}") from None
    for kind, items in checks:
        for item in items:
            if not item["metadata"].get("deletionTimestamp"):
                found.append(f"{kind}/{item['metadata']['name']}")
    return found


# ---------------------------------------------------------------------- workloads
def _list(cluster: Cluster, path: str, what: str, **query) -> list[dict]:
    try:
        return _items(cluster, path, **query)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list {what}") from None


def node_labels(cluster: Cluster, *, timeout: float = REQUEST_TIMEOUT) -> list[dict[str, str]]:
    try:
        nodes = _request(cluster, "GET", "/api/v1/nodes", timeout=timeout).get("items") or []
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, "list nodes") from None
    return [(n.get("metadata") or {}).get("labels") or {} for n in nodes]


def list_deployments(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"/apis/apps/v1/namespaces/{namespace}/deployments", f"Deployments in {namespace!r}")


def list_pods(cluster: Cluster, namespace: str, selector: str | None = None) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/pods", f"pods in {namespace!r}", labelSelector=selector)


def list_events(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/events", f"events in {namespace!r}", fieldSelector="type=Warning")


def read_service(cluster: Cluster, namespace: str, name: str) -> dict | None:
    try:
        return _get(cluster, f"{_ns(namespace)}/services/{name}")
    except Exception as e:  # noqa: BLE001
        if _is_status(e, 404):
            return None
        raise api_error(e, cluster, f"read Service {name!r}") from None


def list_services(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/services", f"Services in {namespace!r}")


# ---------------------------------------------------------------------- objects by kind
# Where the kinds a chart move may have to recreate live.
_APPS = "/apis/apps/v1/namespaces/{ns}"
_KIND_PATHS = {
    "Deployment": f"{_APPS}/deployments", "ReplicaSet": f"{_APPS}/replicasets",
    "StatefulSet": f"{_APPS}/statefulsets", "DaemonSet": f"{_APPS}/daemonsets",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs", "Service": "/api/v1/namespaces/{ns}/services",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
}


def delete_and_wait(cluster: Cluster, namespace: str, kind: str, name: str, *, timeout: float = 120.0) -> bool:
    """Delete the object and wait until the API server no longer has it; its pods (ReplicaSets,
    Jobs) are garbage-collected in the background, so a new owner can be created at once. False
    when it did not exist."""
    import time

    from vllmctl.errors import OperationFailed

    path = f"{_KIND_PATHS[kind].format(ns=namespace)}/{name}"
    try:
        _request(cluster, "DELETE", path, body={"propagationPolicy": "Background"})
    except Exception as e:  # noqa: BLE001
        if _is_status(e, 404):
            return False
        raise api_error(e, cluster, f"delete {kind}/{name}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _get(cluster, path)
        except Exception as e:  # noqa: BLE001
            if _is_status(e, 404):
                return True
            raise api_error(e, cluster, f"read {kind}/{name}") from None
        time.sleep(0.2)
    raise OperationFailed(f"{kind}/{name} in {namespace!r} was still there {timeout:g} s after it was deleted "
                          "(a finalizer?); nothing else was changed.")


def secret_names(cluster: Cluster, namespace: str) -> set[str]:
    """The names of the namespace's Secrets (their metadata only: no values are read)."""
    meta_only = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
    try:
        items = _request(cluster, "GET", f"{_ns(namespace)}/secrets", accept=meta_only).get("items") or []
    except Exception as e:  # noqa: BLE001
        if _is_status(e, 404):
            return set()
        raise api_error(e, cluster, f"list Secrets in {namespace!r}") from None
    return {item["metadata"]["name"] for item in items}


# ---------------------------------------------------------------------- storage
def list_pvcs(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/persistentvolumeclaims", f"PersistentVolumeClaims in {namespace!r}")


def delete_pvc(cluster: Cluster, namespace: str, name: str) -> None:
    _delete(cluster, f"{_ns(namespace)}/persistentvolumeclaims/{name}", f"PersistentVolumeClaim {name!r}")


# ---------------------------------------------------------------------- preflight facts
def cluster_facts(cluster: Cluster, release: str, release_namespace: str) -> ClusterFacts:
    """Nodes with their free GPUs (not counting this release's own pods, which an update replaces),
    storage classes, runtime classes. The four reads run in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    reads = {
        "nodes": ("/api/v1/nodes", {}),
        "pods": ("/api/v1/pods", {"fieldSelector": "status.phase!=Succeeded,status.phase!=Failed"}),
        "classes": ("/apis/storage.k8s.io/v1/storageclasses", {}),
        "runtimes": ("/apis/node.k8s.io/v1/runtimeclasses", {}),
    }
    try:
        with ThreadPoolExecutor(len(reads)) as pool:
            futures = {k: pool.submit(_items, cluster, path, **q) for k, (path, q) in reads.items()}
            got = {k: f.result() for k, f in futures.items()}
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, "read nodes, storage classes and runtime classes") from None
    used: dict[str, int] = {}
    for pod in got["pods"]:
        meta = pod["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or meta.get("deletionTimestamp"):
            continue
        if meta.get("namespace") == release_namespace and (meta.get("labels") or {}).get(
                "helm-release-name") == release:
            continue
        used[node] = used.get(node, 0) + pod_gpus(pod)
    node_facts = []
    for n in got["nodes"]:
        allocatable = (n.get("status") or {}).get("allocatable") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (n.get("status") or {}).get("conditions") or [])
        try:
            gpus = int(allocatable.get("nvidia.com/gpu", 0))
        except ValueError:
            gpus = 0
        name = n["metadata"]["name"]
        node_facts.append(NodeFacts(name, gpus, used.get(name, 0),
                                    ready and not (n.get("spec") or {}).get("unschedulable")))
    classes = got["classes"]
    default = next((c["metadata"]["name"] for c in classes
                    if any((c["metadata"].get("annotations") or {}).get(a) == "true"
                           for a in DEFAULT_CLASS_ANNOTATIONS)), None)
    return ClusterFacts(
        nodes=node_facts,
        storage_classes=[c["metadata"]["name"] for c in classes],
        default_storage_class=default,
        runtime_classes=[r["metadata"]["name"] for r in got["runtimes"]],
    )


# ---------------------------------------------------------------------- logs
def stream_logs(cluster: Cluster, namespace: str, pod: str, container: str | None, *, follow: bool,
                tail: int | None) -> Iterator[str]:
    """Lines of a container's log; with follow, until the container (or the connection) ends."""
    query = {"container": container, "follow": "true" if follow else None,
             "tailLines": tail if tail is not None and tail >= 0 else None}
    try:
        response = _request(cluster, "GET", f"{_ns(namespace)}/pods/{pod}/log", query=query, stream=True,
                            timeout=None if follow else 60)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"read the logs of pod {pod!r}") from None
    pending = b""
    try:
        for chunk in response.stream(4096, decode_content=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode(errors="replace")
        if pending:
            yield pending.decode(errors="replace")
    finally:
        response.release_conn()

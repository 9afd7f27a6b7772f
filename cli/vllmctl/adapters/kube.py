"""Kubernetes reads and writes of the deploy and day-two commands: namespaces, nodes, pods, events,
storage and runtime classes, PVCs, logs. Objects come back as the API's own JSON (dicts), which
core/ reads without knowing the kubernetes client's model classes (and which is much faster)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from vllmctl.adapters.kube_client import REQUEST_TIMEOUT, Cluster, api_error
from vllmctl.core.preflight import ClusterFacts, NodeFacts
from vllmctl.core.rollout import pod_gpus

# Pod Security labels the seed sets on the namespace: engines need nothing beyond baseline.
PSA_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
}
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)
ES_GROUP, ES_VERSION, ES_PLURAL = "external-secrets.io", "v1", "externalsecrets"


def _core(cluster: Cluster):
    from kubernetes import client

    return client.CoreV1Api(cluster.api_client)


def _json(call, *args, **kwargs):
    """Call a list/read method and return the raw JSON (skips the client's slow model decoding)."""
    response = call(*args, _preload_content=False, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    return json.loads(response.data)


def _items(call, *args, **kwargs) -> list[dict]:
    return _json(call, *args, **kwargs).get("items") or []


def _is_status(e: Exception, *codes: int) -> bool:
    return getattr(e, "status", None) in codes


# ---------------------------------------------------------------------- namespaces
def read_namespace(cluster: Cluster, namespace: str) -> dict | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return _json(_core(cluster).read_namespace, namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise api_error(e, cluster, f"read namespace {namespace!r}") from None
    except Exception as e:  # noqa: BLE001 - transport errors
        raise api_error(e, cluster, f"read namespace {namespace!r}") from None


def ensure_namespace(cluster: Cluster, namespace: str) -> bool:
    """Create the namespace with the Pod Security labels, or add missing labels; True when created."""
    from kubernetes.client.exceptions import ApiException

    existing = read_namespace(cluster, namespace)
    core = _core(cluster)
    try:
        if existing is None:
            core.create_namespace({"metadata": {"name": namespace, "labels": PSA_LABELS}},
                                  _request_timeout=REQUEST_TIMEOUT)
            return True
        if (existing.get("status") or {}).get("phase") == "Terminating":
            from vllmctl.errors import OperationFailed

            raise OperationFailed(f"namespace {namespace!r} is being deleted; wait until it is gone, then retry.")
        labels = (existing.get("metadata") or {}).get("labels") or {}
        missing = {k: v for k, v in PSA_LABELS.items() if k not in labels}
        if missing:
            core.patch_namespace(namespace, {"metadata": {"labels": missing}}, _request_timeout=REQUEST_TIMEOUT)
        return False
    except ApiException as e:
        if e.status == 409:
            return False
        raise api_error(e, cluster, f"create namespace {namespace!r}") from None


def delete_namespace(cluster: Cluster, namespace: str) -> bool:
    """False when it did not exist."""
    from kubernetes.client.exceptions import ApiException

    try:
        _core(cluster).delete_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise api_error(e, cluster, f"delete namespace {namespace!r}") from None


def leftovers(cluster: Cluster, namespace: str) -> list[str]:
    """What else lives in the namespace (besides what Kubernetes puts in every namespace and what is
    already being deleted): the namespace is deleted only when this is empty."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core, apps, batch = _core(cluster), client.AppsV1Api(cluster.api_client), client.BatchV1Api(cluster.api_client)
    found = []
    try:
        checks = [
            ("Deployment", _items(apps.list_namespaced_deployment, namespace)),
            ("StatefulSet", _items(apps.list_namespaced_stateful_set, namespace)),
            ("DaemonSet", _items(apps.list_namespaced_daemon_set, namespace)),
            ("Job", _items(batch.list_namespaced_job, namespace)),
            ("Service", _items(core.list_namespaced_service, namespace)),
            ("PersistentVolumeClaim", _items(core.list_namespaced_persistent_volume_claim, namespace)),
            ("ConfigMap", [c for c in _items(core.list_namespaced_config_map, namespace)
                           if c["metadata"]["name"] != "kube-root-ca.crt"]),
            ("Secret", [s for s in _items(core.list_namespaced_secret, namespace)
                        if s.get("type") != "kubernetes.io/service-account-token"]),
            # bare pods (no owner): owned ones go with their Deployment/Job
            ("Pod", [p for p in _items(core.list_namespaced_pod, namespace)
                     if not p["metadata"].get("ownerReferences")]),
        ]
    except ApiException as e:
        raise api_error(e, cluster, f"list what is left in namespace {namespace!r}") from None
    for kind, items in checks:
        for item in items:
            if not item["metadata"].get("deletionTimestamp"):
                found.append(f"{kind}/{item['metadata']['name']}")
    return found


# ---------------------------------------------------------------------- workloads
def list_deployments(cluster: Cluster, namespace: str) -> list[dict]:
    from kubernetes import client

    try:
        return _items(client.AppsV1Api(cluster.api_client).list_namespaced_deployment, namespace)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list Deployments in {namespace!r}") from None


def list_pods(cluster: Cluster, namespace: str, selector: str | None = None) -> list[dict]:
    try:
        return _items(_core(cluster).list_namespaced_pod, namespace, label_selector=selector or "")
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list pods in {namespace!r}") from None


def list_events(cluster: Cluster, namespace: str) -> list[dict]:
    try:
        return _items(_core(cluster).list_namespaced_event, namespace, field_selector="type=Warning")
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list events in {namespace!r}") from None


def read_service(cluster: Cluster, namespace: str, name: str) -> dict | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return _json(_core(cluster).read_namespaced_service, name, namespace)
    except ApiException as e:
        if e.status == 404:
            return None
        raise api_error(e, cluster, f"read Service {name!r}") from None
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"read Service {name!r}") from None


def list_services(cluster: Cluster, namespace: str) -> list[dict]:
    try:
        return _items(_core(cluster).list_namespaced_service, namespace)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list Services in {namespace!r}") from None


# ---------------------------------------------------------------------- storage
def list_pvcs(cluster: Cluster, namespace: str) -> list[dict]:
    try:
        return _items(_core(cluster).list_namespaced_persistent_volume_claim, namespace)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, f"list PersistentVolumeClaims in {namespace!r}") from None


def delete_pvc(cluster: Cluster, namespace: str, name: str) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        _core(cluster).delete_namespaced_persistent_volume_claim(name, namespace, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as e:
        if e.status != 404:
            raise api_error(e, cluster, f"delete PersistentVolumeClaim {name!r}") from None


# ---------------------------------------------------------------------- secrets (fallback for uninstall)
def delete_secret(cluster: Cluster, namespace: str, name: str) -> bool:
    from kubernetes.client.exceptions import ApiException

    try:
        _core(cluster).delete_namespaced_secret(name, namespace, _request_timeout=REQUEST_TIMEOUT)
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise api_error(e, cluster, f"delete Secret {name!r}") from None


def delete_external_secret(cluster: Cluster, namespace: str, name: str) -> bool:
    """False when it (or the ExternalSecret CRD) does not exist."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    try:
        client.CustomObjectsApi(cluster.api_client).delete_namespaced_custom_object(
            ES_GROUP, ES_VERSION, namespace, ES_PLURAL, name, _request_timeout=REQUEST_TIMEOUT
        )
        return True
    except ApiException as e:
        if e.status == 404:
            return False
        raise api_error(e, cluster, f"delete ExternalSecret {name!r}") from None


# ---------------------------------------------------------------------- preflight facts
def cluster_facts(cluster: Cluster, release: str, release_namespace: str) -> ClusterFacts:
    """Nodes with their free GPUs (not counting this release's own pods, which an update replaces),
    storage classes, runtime classes."""
    from kubernetes import client

    try:
        nodes = _items(_core(cluster).list_node)
        pods = _items(_core(cluster).list_pod_for_all_namespaces,
                      field_selector="status.phase!=Succeeded,status.phase!=Failed")
        classes = _items(client.StorageV1Api(cluster.api_client).list_storage_class)
        runtimes = _items(client.NodeV1Api(cluster.api_client).list_runtime_class)
    except Exception as e:  # noqa: BLE001
        raise api_error(e, cluster, "read nodes, storage classes and runtime classes") from None
    used: dict[str, int] = {}
    for pod in pods:
        meta = pod["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or meta.get("deletionTimestamp"):
            continue
        if meta.get("namespace") == release_namespace and (meta.get("labels") or {}).get(
                "helm-release-name") == release:
            continue
        used[node] = used.get(node, 0) + pod_gpus(pod)
    node_facts = []
    for n in nodes:
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
    default = next((c["metadata"]["name"] for c in classes
                    if any((c["metadata"].get("annotations") or {}).get(a) == "true"
                           for a in DEFAULT_CLASS_ANNOTATIONS)), None)
    return ClusterFacts(
        nodes=node_facts,
        storage_classes=[c["metadata"]["name"] for c in classes],
        default_storage_class=default,
        runtime_classes=[r["metadata"]["name"] for r in runtimes],
    )


# ---------------------------------------------------------------------- logs
def stream_logs(cluster: Cluster, namespace: str, pod: str, container: str | None, *, follow: bool,
                tail: int | None) -> Iterator[str]:
    """Lines of a container's log; with follow, until the container (or the connection) ends."""
    from kubernetes.client.exceptions import ApiException

    kwargs = {"follow": follow, "_preload_content": False}
    if container:
        kwargs["container"] = container
    if tail is not None and tail >= 0:
        kwargs["tail_lines"] = tail
    if not follow:
        kwargs["_request_timeout"] = 60
    try:
        response = _core(cluster).read_namespaced_pod_log(pod, namespace, **kwargs)
    except ApiException as e:
        raise api_error(e, cluster, f"read the logs of pod {pod!r}") from None
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

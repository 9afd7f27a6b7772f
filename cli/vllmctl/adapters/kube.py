"""Kubernetes reads and writes of the deploy and day-two commands: namespaces, nodes, pods, events,
storage and runtime classes, PVCs, logs. Objects come back as the API's own JSON (dicts), which
core/ reads without knowing the kubernetes client's model classes (and which is much faster)."""

from __future__ import annotations

from collections.abc import Iterator

from vllmctl.adapters.kube_client import REQUEST_TIMEOUT, ApiStatus, Cluster, api_error, request, transport_errors
from vllmctl.core.pod_security import ENFORCE, namespace_labels
from vllmctl.core.preflight import ClusterFacts, facts_from_objects, nodes_to_count


def _get(cluster: Cluster, path: str, **query) -> dict:
    return request(cluster, "GET", path, query=query)


def _items(cluster: Cluster, path: str, **query) -> list[dict]:
    return _get(cluster, path, **query).get("items") or []


def _is_status(e: ApiStatus, *codes: int) -> bool:
    return e.status in codes


# ---------------------------------------------------------------------- namespaces
def _ns(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}"


def read_namespace(cluster: Cluster, namespace: str) -> dict | None:
    try:
        return _get(cluster, _ns(namespace))
    except ApiStatus as e:
        if _is_status(e, 404):
            return None
        raise api_error(e, cluster, f"read namespace {namespace!r}") from None


def ensure_namespace(cluster: Cluster, namespace: str, pod_security: str = "baseline") -> bool:
    """Create the namespace with the Pod Security labels, or add missing labels; True when created.
    The enforced level moves between baseline and privileged as VLLM_POD_SECURITY says; a level
    someone else chose (restricted) stays."""
    from vllmctl.errors import OperationFailed

    wanted = namespace_labels(pod_security)
    existing = read_namespace(cluster, namespace)
    try:
        if existing is None:
            request(cluster, "POST", "/api/v1/namespaces",
                    body={"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": namespace, "labels": wanted}})
            return True
        if (existing.get("status") or {}).get("phase") == "Terminating":
            raise OperationFailed(f"namespace {namespace!r} is being deleted; wait until it is gone, then retry.")
        labels = (existing.get("metadata") or {}).get("labels") or {}
        missing = {k: v for k, v in wanted.items() if k not in labels or k == ENFORCE and labels[k] != v
                   and labels[k] in ("baseline", "privileged")}
        if missing:
            request(cluster, "PATCH", _ns(namespace), body={"metadata": {"labels": missing}},
                    content_type="application/merge-patch+json")
        return False
    except ApiStatus as e:
        if _is_status(e, 409):
            return False
        raise api_error(e, cluster, f"create namespace {namespace!r}") from None


def _delete(cluster: Cluster, path: str, what: str) -> bool:
    """False when it did not exist."""
    try:
        request(cluster, "DELETE", path)
        return True
    except ApiStatus as e:
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
    except ApiStatus as e:
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
    except ApiStatus as e:
        raise api_error(e, cluster, f"list {what}") from None


def node_labels(cluster: Cluster, *, timeout: float = REQUEST_TIMEOUT) -> list[dict[str, str]]:
    try:
        nodes = request(cluster, "GET", "/api/v1/nodes", timeout=timeout).get("items") or []
    except ApiStatus as e:
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
    except ApiStatus as e:
        if _is_status(e, 404):
            return None
        raise api_error(e, cluster, f"read Service {name!r}") from None


def list_services(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/services", f"Services in {namespace!r}")


def _list_optional(cluster: Cluster, path: str, what: str) -> list[dict]:
    """Objects of an API the cluster may not serve: none where it does not."""
    try:
        return _items(cluster, path)
    except ApiStatus as e:
        if _is_status(e, 404):
            return []
        raise api_error(e, cluster, f"list {what}") from None


def list_scaled_objects(cluster: Cluster, namespace: str) -> list[dict]:
    """KEDA ScaledObjects in the namespace; none where KEDA's API is not served."""
    return _list_optional(cluster, f"/apis/keda.sh/v1alpha1/namespaces/{namespace}/scaledobjects",
                          f"ScaledObjects in {namespace!r}")


def list_ray_clusters(cluster: Cluster, namespace: str) -> list[dict]:
    """KubeRay RayClusters in the namespace; none where the ray.io API is not served."""
    return _list_optional(cluster, f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters",
                          f"RayClusters in {namespace!r}")


def list_lora_adapters(cluster: Cluster, namespace: str) -> list[dict]:
    """The chart's LoraAdapters in the namespace, with their controller's status; none where the API is not served."""
    return _list_optional(cluster, f"/apis/production-stack.vllm.ai/v1alpha1/namespaces/{namespace}/loraadapters",
                          f"LoraAdapters in {namespace!r}")


def list_ingresses(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses",
                 f"Ingresses in {namespace!r}")

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
        request(cluster, "DELETE", path, body={"propagationPolicy": "Background"})
    except ApiStatus as e:
        if _is_status(e, 404):
            return False
        raise api_error(e, cluster, f"delete {kind}/{name}") from None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _get(cluster, path)
        except ApiStatus as e:
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
        items = request(cluster, "GET", f"{_ns(namespace)}/secrets", accept=meta_only).get("items") or []
    except ApiStatus as e:
        if _is_status(e, 404):
            return set()
        raise api_error(e, cluster, f"list Secrets in {namespace!r}") from None
    return {item["metadata"]["name"] for item in items}


# ---------------------------------------------------------------------- storage
def list_pvcs(cluster: Cluster, namespace: str) -> list[dict]:
    return _list(cluster, f"{_ns(namespace)}/persistentvolumeclaims", f"PersistentVolumeClaims in {namespace!r}")


def delete_pvc(cluster: Cluster, namespace: str, name: str) -> None:
    _delete(cluster, f"{_ns(namespace)}/persistentvolumeclaims/{name}", f"PersistentVolumeClaim {name!r}")


# ---------------------------------------------------------------------- rollout records
ROLLOUTS_LABEL = "vllmctl.io/rollouts-of"


def rollouts_name(release: str) -> str:
    return f"{release}-vllmctl-rollouts"


def read_rollouts(cluster: Cluster, namespace: str, release: str) -> dict[str, str]:
    """The release's rollout records ({revision: JSON}); none when there are none or they cannot be
    read (a role that may read only helm's Secrets): history then shows helm's statuses alone."""
    try:
        return _get(cluster, f"{_ns(namespace)}/configmaps/{rollouts_name(release)}").get("data") or {}
    except ApiStatus as e:
        if _is_status(e, 403, 404):
            return {}
        raise api_error(e, cluster, f"read ConfigMap {rollouts_name(release)!r}") from None


def write_rollouts(cluster: Cluster, namespace: str, release: str, records: dict[str, str]) -> None:
    """Create or replace the release's rollout records (a merge patch of `data`, created on 404)."""
    name = rollouts_name(release)
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {ROLLOUTS_LABEL: release,
                                                  "app.kubernetes.io/managed-by": "vllmctl"}},
            "data": records}
    try:
        try:
            request(cluster, "PUT", f"{_ns(namespace)}/configmaps/{name}", body=body)
        except ApiStatus as e:
            if not _is_status(e, 404):
                raise
            request(cluster, "POST", f"{_ns(namespace)}/configmaps", body=body)
    except ApiStatus as e:
        raise api_error(e, cluster, f"write ConfigMap {name!r}") from None


def delete_rollouts(cluster: Cluster, namespace: str, release: str) -> bool:
    return _delete(cluster, f"{_ns(namespace)}/configmaps/{rollouts_name(release)}",
                   f"ConfigMap {rollouts_name(release)!r}")


# ---------------------------------------------------------------------- preflight facts
def served_kinds(cluster: Cluster, group_version: str) -> frozenset[str]:
    """The kinds the API server serves in `group_version` (none when it does not serve it)."""
    try:
        resources = _get(cluster, f"/apis/{group_version}").get("resources") or []
    except ApiStatus as e:
        if _is_status(e, 404):
            return frozenset()
        raise api_error(e, cluster, f"discover the API {group_version}") from None
    return frozenset(r["kind"] for r in resources if "/" not in r.get("name", ""))


def cluster_facts(cluster: Cluster, release: str, release_namespace: str, group_versions: tuple[str, ...] = (),
                  owned: tuple[str, ...] = (), resources: frozenset[str] | None = None) -> ClusterFacts:
    """Nodes with their free GPUs (not counting this release's own pods, which an update replaces),
    storage classes, runtime classes (core.preflight.facts_from_objects); then the kinds served in
    `group_versions`, and who owns the cluster-scoped objects at `owned`. Free counts are of
    `resources` (None: every GPU kind): the pods are read node by node, as `kubectl describe node`
    does, on the nodes that offer one (core.preflight.nodes_to_count), never cluster-wide (a list
    of every pod grows with the cluster, megabytes in a large one, for a CPU-only install too)."""
    from concurrent.futures import ThreadPoolExecutor

    reads = {
        "nodes": "/api/v1/nodes",
        "classes": "/apis/storage.k8s.io/v1/storageclasses",
        "runtimes": "/apis/node.k8s.io/v1/runtimeclasses",
    }
    try:
        with ThreadPoolExecutor(len(reads)) as pool:
            futures = {k: pool.submit(_items, cluster, path) for k, path in reads.items()}
            got = {k: f.result() for k, f in futures.items()}
            on_nodes = [pool.submit(_items, cluster, "/api/v1/pods", fieldSelector=f"spec.nodeName={node},"
                                    "status.phase!=Succeeded,status.phase!=Failed")
                        for node in nodes_to_count(got["nodes"], resources)]
            pods = [pod for f in on_nodes for pod in f.result()]
    except ApiStatus as e:
        raise api_error(e, cluster, "read nodes, storage classes, runtime classes and the pods on GPU nodes") from None
    import dataclasses

    facts = facts_from_objects(got["nodes"], pods, got["classes"], got["runtimes"],
                               release=release, release_namespace=release_namespace)
    return dataclasses.replace(facts, served={gv: served_kinds(cluster, gv) for gv in group_versions},
                               owners={path: helm_owner_namespace(cluster, path) for path in owned})


def helm_owner_namespace(cluster: Cluster, path: str) -> str | None:
    """The namespace of the helm release that owns the cluster-scoped object at `path` ("" when it
    is not helm's), or None when there is no such object."""
    try:
        meta = _get(cluster, path).get("metadata") or {}
    except ApiStatus as e:
        if _is_status(e, 404):
            return None
        raise api_error(e, cluster, f"read {path}") from None
    return (meta.get("annotations") or {}).get("meta.helm.sh/release-namespace", "")


# ---------------------------------------------------------------------- logs
def stream_logs(cluster: Cluster, namespace: str, pod: str, container: str | None, *, follow: bool,
                tail: int | None) -> Iterator[str]:
    """Lines of a container's log; with follow, until the container (or the connection) ends."""
    query = {"container": container, "follow": "true" if follow else None,
             "tailLines": tail if tail is not None and tail >= 0 else None}
    try:
        response = request(cluster, "GET", f"{_ns(namespace)}/pods/{pod}/log", query=query, stream=True,
                           timeout=None if follow else 60)
    except ApiStatus as e:
        raise api_error(e, cluster, f"read the logs of pod {pod!r}") from None
    pending = b""
    try:
        with transport_errors(cluster):  # the connection can drop mid-stream
            for chunk in response.stream(4096, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode(errors="replace")
        if pending:
            yield pending.decode(errors="replace")
    finally:
        response.release_conn()
class Kube:
    """The reads and writes above bound to one cluster: what workflows take (workflows.ports.KubeObjects)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def describe(self) -> str:
        return self.cluster.describe()

    def cluster_facts(self, release: str, release_namespace: str, group_versions: tuple[str, ...] = (),
                      owned: tuple[str, ...] = (), resources: frozenset[str] | None = None) -> ClusterFacts:
        return cluster_facts(self.cluster, release, release_namespace, group_versions, owned, resources)

    def read_namespace(self, namespace: str) -> dict | None:
        return read_namespace(self.cluster, namespace)

    def ensure_namespace(self, namespace: str, pod_security: str = "baseline") -> bool:
        return ensure_namespace(self.cluster, namespace, pod_security)

    def delete_namespace(self, namespace: str) -> bool:
        return delete_namespace(self.cluster, namespace)

    def list_deployments(self, namespace: str) -> list[dict]:
        return list_deployments(self.cluster, namespace)

    def list_pods(self, namespace: str, selector: str | None = None) -> list[dict]:
        return list_pods(self.cluster, namespace, selector)

    def list_events(self, namespace: str) -> list[dict]:
        return list_events(self.cluster, namespace)

    def list_services(self, namespace: str) -> list[dict]:
        return list_services(self.cluster, namespace)

    def list_ingresses(self, namespace: str) -> list[dict]:
        return list_ingresses(self.cluster, namespace)

    def list_scaled_objects(self, namespace: str) -> list[dict]:
        return list_scaled_objects(self.cluster, namespace)

    def list_ray_clusters(self, namespace: str) -> list[dict]:
        return list_ray_clusters(self.cluster, namespace)

    def list_lora_adapters(self, namespace: str) -> list[dict]:
        return list_lora_adapters(self.cluster, namespace)

    def list_pvcs(self, namespace: str) -> list[dict]:
        return list_pvcs(self.cluster, namespace)

    def delete_pvc(self, namespace: str, name: str) -> None:
        delete_pvc(self.cluster, namespace, name)

    def delete_and_wait(self, namespace: str, kind: str, name: str) -> bool:
        return delete_and_wait(self.cluster, namespace, kind, name)

    def secret_names(self, namespace: str) -> set[str]:
        return secret_names(self.cluster, namespace)

    def node_labels(self) -> list[dict[str, str]]:
        return node_labels(self.cluster)

    def leftovers(self, namespace: str) -> list[str]:
        return leftovers(self.cluster, namespace)

    def read_rollouts(self, namespace: str, release: str) -> dict[str, str]:
        return read_rollouts(self.cluster, namespace, release)

    def write_rollouts(self, namespace: str, release: str, records: dict[str, str]) -> None:
        write_rollouts(self.cluster, namespace, release, records)

    def delete_rollouts(self, namespace: str, release: str) -> bool:
        return delete_rollouts(self.cluster, namespace, release)

    def stream_logs(self, namespace: str, pod: str, container: str | None, *, follow: bool,
                    tail: int | None) -> Iterator[str]:
        return stream_logs(self.cluster, namespace, pod, container, follow=follow, tail=tail)

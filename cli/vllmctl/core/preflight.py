"""Preflight rules: will these models fit this cluster? Pure: cluster facts in, findings out.

The facts are gathered by adapters/kube.py; every rule here can be tested with hand-made facts.
Errors stop install/upgrade (unless --skip-preflight); warnings are printed and the deploy goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from vllmctl.core import gpu_types, multinode, shared_cache
from vllmctl.core.models import ModelEntry
from vllmctl.core.placement import gpu_resource

ERROR = "error"
WARNING = "warning"
DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


@dataclass(frozen=True)
class NodeFacts:
    name: str
    allocatable: Mapping[str, int]  # extended resources (nvidia.com/gpu, amd.com/gpu, MIG profiles) -> count
    used: Mapping[str, int] = field(default_factory=dict)  # held by pods that are not this release's
    schedulable: bool = True  # not cordoned and Ready

    def free(self, resource: str) -> int:
        return max(0, self.allocatable.get(resource, 0) - self.used.get(resource, 0))

    @property
    def free_gpus(self) -> int:
        """Free GPUs of every kind (core.gpu_types), for totals that do not name a resource."""
        return sum(self.free(r) for r in self.allocatable if gpu_types.is_gpu(r))


@dataclass(frozen=True)
class ClusterFacts:
    nodes: list[NodeFacts] = field(default_factory=list)
    storage_classes: list[str] = field(default_factory=list)
    default_storage_class: str | None = None
    runtime_classes: list[str] = field(default_factory=list)
    # models of the deployed release -> (GPUs per pod, replicas): their pods are replaced by an update
    deployed: dict[str, tuple[int, int]] = field(default_factory=dict)
    # group/version -> the kinds the API server serves there (read for the APIs the settings need)
    served: dict[str, frozenset[str]] = field(default_factory=dict)
    # API path of a cluster-scoped object the release would create -> the namespace of the helm
    # release that has it ("" not helm's, None absent)
    owners: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RequiredApi:
    group_version: str
    kind: str
    why: str  # the setting or field that needs it
    fix: str  # what provides it


def required_apis(route_api_version: str | None, *, autoscaled: bool = False,
                  monitoring: bool = False, lora: bool = False, ray: bool = False) -> list[RequiredApi]:
    """The custom APIs the rendered release creates objects of, beyond what every cluster serves.
    `lora`: LoRA adapters on an installed release (a first install brings the chart's CRD along)."""
    from vllmctl.core.lora import KIND, LORA_API
    from vllmctl.core.multinode import RAY_API
    from vllmctl.core.scaling import KEDA_API, MONITORING_API

    out = []
    if route_api_version is not None:
        out.append(RequiredApi(route_api_version, "HTTPRoute", "VLLM_ROUTER_EXPOSE=gateway",
                               "install the Gateway API CRDs and a Gateway controller"))
    if autoscaled:
        out.append(RequiredApi(KEDA_API, "ScaledObject", "autoscaling in models.yaml", "install KEDA"))
    if monitoring:
        out.append(RequiredApi(MONITORING_API, "ServiceMonitor", "VLLM_MONITORING=true",
                               "install the Prometheus Operator (kube-prometheus-stack)"))
    if lora:
        out.append(RequiredApi(LORA_API, KIND, "lora.adapters in models.yaml",
                               "helm installs the chart's CRDs only with a release's first install: apply them "
                               "(`helm show crds <chart> | kubectl apply -f -`)"))
    if ray:
        out.append(RequiredApi(RAY_API, "RayCluster", "multiNode in models.yaml",
                               "install the KubeRay operator (its ray.io CRDs)"))
    return out


def resources_in_use(pods: list[dict], *, release: str, release_namespace: str) -> dict[str, dict[str, int]]:
    """Extended resources that pods on each node already hold (node -> resource -> count): every pod
    bound to a node and not being deleted, except this release's own (an update replaces them; the
    surge rule counts the overlap)."""
    used: dict[str, dict[str, int]] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or meta.get("deletionTimestamp"):
            continue
        if meta.get("namespace") == release_namespace and (meta.get("labels") or {}).get(
                "helm-release-name") == release:
            continue
        held = used.setdefault(node, {})
        for resource, count in gpu_types.pod_requests(pod).items():
            held[resource] = held.get(resource, 0) + count
    return used


def gpu_resources(models: list[ModelEntry]) -> frozenset[str]:
    """The extended resources (GPU kinds) the enabled models hold: the free counts the checks read."""
    return frozenset(_by_resource([m for m in models if m.enabled]))


def nodes_to_count(nodes: list[dict], resources: frozenset[str] | None) -> list[str]:
    """The nodes whose pods' holdings matter: those offering one of `resources` (None: any GPU).
    Elsewhere nothing is free to count, so their pods are never read."""
    def counted(resource: str) -> bool:
        return gpu_types.is_gpu(resource) if resources is None else resource in resources

    return [n["metadata"]["name"] for n in nodes
            if any(counted(r) for r, count in gpu_types.node_allocatable(n).items() if count)]


def facts_from_objects(nodes: list[dict], pods: list[dict], storage_classes: list[dict],
                       runtime_classes: list[dict], *, release: str, release_namespace: str) -> ClusterFacts:
    """ClusterFacts from the API's own JSON: nodes, the pods not yet finished on nodes_to_count's nodes,
    StorageClasses, RuntimeClasses."""
    used = resources_in_use(pods, release=release, release_namespace=release_namespace)
    node_facts = []
    for n in nodes:
        status = n.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        name = n["metadata"]["name"]
        node_facts.append(NodeFacts(name, gpu_types.node_allocatable(n), used.get(name, {}),
                                    ready and not (n.get("spec") or {}).get("unschedulable")))
    default = next((c["metadata"]["name"] for c in storage_classes
                    if any((c["metadata"].get("annotations") or {}).get(a) == "true"
                           for a in DEFAULT_CLASS_ANNOTATIONS)), None)
    return ClusterFacts(
        nodes=node_facts,
        storage_classes=[c["metadata"]["name"] for c in storage_classes],
        default_storage_class=default,
        runtime_classes=[r["metadata"]["name"] for r in runtime_classes],
    )


@dataclass(frozen=True)
class Finding:
    severity: str  # ERROR or WARNING
    rule: str  # a stable id, for JSON output and tests
    message: str

    def as_dict(self) -> dict:
        return {"severity": self.severity, "rule": self.rule, "message": self.message}


def _gpus(m: ModelEntry) -> int:
    """GPUs the model holds once rolled out (its pods: core.multinode.pods)."""
    return m.requestGPU * multinode.pods(m)


def check(models: list[ModelEntry], facts: ClusterFacts, *, storage_class: str, runtime_class: str,
          update_strategy: str, required: list[RequiredApi] | tuple = (), shared=None) -> list[Finding]:
    """Every finding for deploying `models` (the enabled ones) onto the cluster `facts` describes;
    `shared`: the shared model cache (core.shared_cache.SharedCache), if any."""
    models = [m for m in models if m.enabled]
    return (
        _gpu_findings(models, facts, update_strategy)
        + _storage_findings([m for m in models if not shared_cache.uses_shared(m, shared)], facts, storage_class)
        + _shared_cache_findings(shared, facts)
        + _runtime_findings(models, facts, runtime_class)
        + _api_findings(required, facts)
        + _autoscaling_findings(models, facts)
    )


def _api_findings(required, facts: ClusterFacts) -> list[Finding]:
    return [
        Finding(ERROR, "api-missing", f"{api.why} creates a {api.kind} ({api.group_version}), which this cluster "
                                      f"does not serve: {api.fix}, or change {api.why.split('=')[0]}")
        for api in required if api.kind not in facts.served.get(api.group_version, frozenset())
    ]


def _by_resource(models: list[ModelEntry]) -> dict[str, list[ModelEntry]]:
    """The models that hold GPUs, grouped by the resource they ask for (each is counted on its own)."""
    out: dict[str, list[ModelEntry]] = {}
    for m in models:
        if m.requestGPU:
            out.setdefault(gpu_resource(m), []).append(m)
    return out


def _autoscaling_findings(models: list[ModelEntry], facts: ClusterFacts) -> list[Finding]:
    """Room for every autoscaled model at its maximum: a warning, since it only bites under load."""
    findings = []
    for resource, group in _by_resource(models).items():
        scaled = [m for m in group if m.autoscaling]
        if not scaled:
            continue
        at_max = sum(m.requestGPU * (m.autoscaling.maxReplicas if m.autoscaling else m.replicaCount)
                     for m in group)
        free = sum(n.free(resource) for n in facts.nodes if n.schedulable)
        if at_max > free:
            findings.append(Finding(
                WARNING, "gpu-autoscale-max",
                f"at maxReplicas the models need {at_max} {resource} but {free} are free: "
                f"{', '.join(m.name for m in scaled)} cannot reach their maximum; lower maxReplicas or add GPUs"))
    return findings


def _gpu_findings(models: list[ModelEntry], facts: ClusterFacts, update_strategy: str) -> list[Finding]:
    nodes = [n for n in facts.nodes if n.schedulable]
    return [f for resource, group in _by_resource(models).items()
            for f in _resource_findings(resource, group, nodes, facts, update_strategy)]


def _resource_findings(resource: str, models: list[ModelEntry], nodes: list[NodeFacts], facts: ClusterFacts,
                       update_strategy: str) -> list[Finding]:
    """Fit per pod, the total, and the rolling update's overlap, counted in one resource."""
    findings = []
    biggest = max((n.allocatable.get(resource, 0) for n in nodes), default=0)
    if not nodes:
        where = "there is no schedulable node"
    elif not biggest:
        others = gpu_types.offered([n.allocatable for n in nodes])
        where = f"no schedulable node has {resource} (the nodes offer: {', '.join(others) or 'no GPUs'})"
    else:
        where = f"the largest schedulable node has {biggest}"
    fix = ("set requestGPUType to a resource the nodes have, or add nodes with it" if nodes and not biggest else
           f"lower requestGPU (and tensorParallelSize) or add a bigger node with {resource}")
    for m in models:
        if m.replicaCount and m.requestGPU > biggest:
            findings.append(Finding(
                ERROR, "gpu-fit",
                f"model {m.name!r} asks for {m.requestGPU} GPUs per pod ({resource}) but {where}: {fix}"))
    for m in models:
        # a Ray cluster's pods each need a node with requestGPU free (one node may take several)
        places = sum(n.free(resource) // m.requestGPU for n in nodes)
        if m.multiNode and m.requestGPU <= biggest and places < m.multiNode.nodes:
            findings.append(Finding(
                ERROR, "gpu-nodes",
                f"model {m.name!r} runs on {m.multiNode.nodes} nodes of {m.requestGPU} {resource} each, but the "
                f"free GPUs of the schedulable nodes take only {places} such pods: free GPUs or add nodes"))
    needed = sum(_gpus(m) for m in models)
    free = sum(n.free(resource) for n in nodes)
    if needed > free:
        findings.append(Finding(
            ERROR, "gpu-total",
            f"the models need {needed} {resource} in all but the cluster has {free} free "
            f"({sum(n.allocatable.get(resource, 0) for n in nodes)} allocatable on {len(nodes)} schedulable "
            "nodes): disable or shrink models, or add GPU nodes",
        ))
        return findings
    if update_strategy == "RollingUpdate":
        # maxSurge 100%: an updated model starts all its new pods before its old ones stop.
        # KubeRay replaces a Ray cluster's pods itself: only Deployments overlap
        surge = sum(g * r for name, (g, r) in facts.deployed.items()
                    if any(m.name == name and m.multiNode is None for m in models))
        if surge and needed + surge > free:
            findings.append(Finding(
                WARNING, "gpu-surge",
                f"a rolling update needs up to {needed + surge} {resource} while old and new pods overlap, "
                f"but {free} are free: an updated model may never become ready; set "
                "VLLM_UPDATE_STRATEGY=Recreate (or --update-strategy Recreate) to stop old pods first",
            ))
    return findings


def _storage_findings(models: list[ModelEntry], facts: ClusterFacts, storage_class: str) -> list[Finding]:
    findings = []
    cached = [m for m in models if m.pvcStorage]
    missing_default = []
    for m in cached:
        wanted = m.storageClass if m.storageClass is not None else storage_class
        if wanted:
            if wanted not in facts.storage_classes:
                known = ", ".join(facts.storage_classes) or "none"
                findings.append(Finding(
                    ERROR, "storage-class",
                    f"model {m.name!r}: StorageClass {wanted!r} does not exist (the cluster has: {known}); "
                    "set storageClass in models.yaml or VLLM_STORAGE_CLASS",
                ))
        elif facts.default_storage_class is None:
            missing_default.append(m.name)
        if m.replicaCount > 1 and (m.pvcAccessMode or "ReadWriteOnce") != "ReadWriteMany":
            findings.append(Finding(
                WARNING, "rwo-replicas",
                f"model {m.name!r} has {m.replicaCount} replicas sharing one "
                f"{m.pvcAccessMode or 'ReadWriteOnce'} cache volume: replicas on other nodes cannot mount it; "
                "use pvcAccessMode: ReadWriteMany (with a storage class that supports it) or one replica",
            ))
    if missing_default:
        findings.append(Finding(
            WARNING, "default-storage-class",
            f"no default StorageClass: the cache volumes of {', '.join(missing_default)} stay Pending unless "
            "a matching PersistentVolume exists; set VLLM_STORAGE_CLASS or mark a StorageClass as default",
        ))
    return findings


def _shared_cache_findings(cache, facts: ClusterFacts) -> list[Finding]:
    """A shared cache the cluster provisions needs its StorageClass (a volume the release creates does not)."""
    if cache is None or cache.static:
        return []
    if cache.storage_class and cache.storage_class not in facts.storage_classes:
        known = ", ".join(facts.storage_classes) or "none"
        return [Finding(ERROR, "shared-cache-class",
                        f"the shared model cache's StorageClass {cache.storage_class!r} does not exist (the cluster "
                        f"has: {known}); set VLLM_SHARED_CACHE_STORAGE_CLASS to one that provisions ReadWriteMany "
                        "volumes, or VLLM_SHARED_CACHE_NFS / VLLM_SHARED_CACHE_HOST_PATH")]
    if not cache.storage_class and facts.default_storage_class is None:
        return [Finding(ERROR, "shared-cache-class",
                        "the shared model cache names no StorageClass and the cluster has no default one, so its "
                        "claim would stay Pending: set VLLM_SHARED_CACHE_STORAGE_CLASS (a class that provisions "
                        "ReadWriteMany) or VLLM_SHARED_CACHE_NFS / VLLM_SHARED_CACHE_HOST_PATH")]
    return [Finding(WARNING, "shared-cache-rwx",
                    f"the shared model cache is provisioned by StorageClass "
                    f"{cache.storage_class or facts.default_storage_class!r}: it must make ReadWriteMany volumes "
                    "(NFS, CephFS, EFS, Filestore, Azure Files), else the claim stays Pending")]


def _runtime_findings(models: list[ModelEntry], facts: ClusterFacts, runtime_class: str) -> list[Finding]:
    if not runtime_class or not models or runtime_class in facts.runtime_classes:
        return []
    known = ", ".join(facts.runtime_classes) or "none"
    return [Finding(
        ERROR, "runtime-class",
        f"RuntimeClass {runtime_class!r} does not exist (the cluster has: {known}): engine pods would be "
        "rejected; install the NVIDIA container toolkit / GPU operator, or set VLLM_RUNTIME_CLASS "
        "(empty for none)",
    )]


def errors_of(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == ERROR]

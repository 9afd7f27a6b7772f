"""Accelerators as Kubernetes counts them: extended resources (`vendor-domain/name`) on nodes and in
pods, per resource name, so preflight counts the resource a model asks for (`requestGPUType`:
`nvidia.com/gpu`, a MIG profile such as `nvidia.com/mig-3g.40gb`, `amd.com/gpu`) and never mixes
one kind with another. Pure: the API's own Node/Pod JSON in, counts out."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping

# The resource names the device plugins of NVIDIA (whole GPUs, time-sliced GPUs, MIG profiles), AMD and
# Intel advertise: what `status` counts as a pod's GPUs. Preflight compares exact names instead.
GPU_NAME = re.compile(r"^(nvidia\.com/(gpu(\.shared)?|mig-[^/]+)|amd\.com/gpu|gpu\.intel\.com/[^/]+)$")
MIG = re.compile(r"^nvidia\.com/mig-[^/]+$")


def is_gpu(resource: str) -> bool:
    return bool(GPU_NAME.match(resource))


def is_mig(resource: str) -> bool:
    return bool(MIG.match(resource))


def _count(value) -> int:
    with contextlib.suppress(TypeError, ValueError):
        return max(0, int(str(value)))
    return 0


def extended(resources: Mapping | None) -> dict[str, int]:
    """The extended resources of a resource list (`cpu`, `memory`, `hugepages-*` have no domain)."""
    return {k: _count(v) for k, v in (resources or {}).items() if "/" in k and _count(v)}


def node_allocatable(node: dict) -> dict[str, int]:
    return extended((node.get("status") or {}).get("allocatable"))


def _container(c: dict) -> dict[str, int]:
    # Extended resources are not overcommitted: a request equals the limit, which defaults it.
    resources = c.get("resources") or {}
    return {**extended(resources.get("limits")), **extended(resources.get("requests"))}


def pod_requests(pod: dict) -> dict[str, int]:
    """What the scheduler holds for a pod, per extended resource: the larger of its containers' sum
    and its biggest init container (init containers run one at a time, before the others)."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for c in spec.get("containers") or []:
        for k, v in _container(c).items():
            total[k] = total.get(k, 0) + v
    for c in spec.get("initContainers") or []:
        for k, v in _container(c).items():
            total[k] = max(total.get(k, 0), v)
    return total


def pod_gpus(pod: dict) -> int:
    """The GPUs (of any kind above) a pod holds, for display."""
    return sum(v for k, v in pod_requests(pod).items() if is_gpu(k))


def offered(allocatable: list[Mapping[str, int]]) -> list[str]:
    """The GPU resources some node offers, for messages that name what the cluster has instead."""
    return sorted({k for a in allocatable for k, v in a.items() if v and is_gpu(k)})


def short_of_gpus(message: str) -> bool:
    """Whether a scheduler message says a pod lacks GPUs ("0/3 nodes are available: 3 Insufficient amd.com/gpu.")."""
    return any(is_gpu(r) for r in re.findall(r"Insufficient ([-a-z0-9./]*[a-z0-9])", message))

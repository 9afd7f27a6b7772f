"""GPU node pools from node labels: how much memory one GPU has, and which label selects the pool.

NVIDIA's GPU feature discovery labels every GPU node with `nvidia.com/gpu.memory` (MiB per GPU),
`nvidia.com/gpu.product` and `nvidia.com/gpu.count`; managed Kubernetes adds a node-pool label.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vllmctl.core.gpu_memory import GiB, MiB, gpu_memory_from_labels

PRODUCT_LABEL = "nvidia.com/gpu.product"
COUNT_LABEL = "nvidia.com/gpu.count"
# The label each platform puts on a node to name its pool; the first one present wins.
POOL_LABELS = (
    "cloud.google.com/gke-nodepool", "eks.amazonaws.com/nodegroup", "karpenter.sh/nodepool",
    "kubernetes.azure.com/agentpool", "node.kubernetes.io/instance-type",
)
# Products whose names do not carry their memory (GFD's own label wins when present).
_PRODUCT_MEMORY = {"T4": 15360 * MiB, "L4": 23034 * MiB, "A10G": 23028 * MiB, "A10": 23028 * MiB,
                   "L40S": 46068 * MiB, "L40": 46068 * MiB, "V100": 16384 * MiB}


@dataclass(frozen=True)
class GpuPool:
    name: str  # the pool's label value (or the GPU product when nodes name no pool)
    label: str  # the label key that selects it in nodeSelectorTerms
    memory_bytes: int  # one GPU
    product: str | None = None
    gpus_per_node: int | None = None
    nodes: int = 1

    def as_dict(self) -> dict:
        return {"name": self.name, "label": self.label, "memory_bytes": self.memory_bytes,
                "product": self.product, "gpus_per_node": self.gpus_per_node, "nodes": self.nodes}


def product_memory(product: str | None) -> int | None:
    """Memory of one GPU from its product name: 'NVIDIA-A100-SXM4-80GB' -> 80 GB, 'Tesla-T4' -> 15 GiB."""
    if not product:
        return None
    m = re.search(r"(\d+)\s*GB", product, re.IGNORECASE)
    if m:
        return int(m.group(1)) * GiB
    for name, size in _PRODUCT_MEMORY.items():
        if re.search(rf"(^|[-_ ]){name}($|[-_ ])", product, re.IGNORECASE):
            return size
    return None


def gpu_memory_of(labels: Mapping[str, str]) -> int | None:
    return gpu_memory_from_labels(labels) or product_memory(labels.get(PRODUCT_LABEL))


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def pools(nodes_labels: Iterable[Mapping[str, str]]) -> list[GpuPool]:
    """One entry per pool of GPU nodes, smallest GPU of the pool, sorted by memory then name."""
    found: dict[tuple[str, str], GpuPool] = {}
    for labels in nodes_labels:
        memory = gpu_memory_of(labels)
        if not memory:
            continue
        label = next((k for k in POOL_LABELS if labels.get(k)), PRODUCT_LABEL)
        name = labels.get(label) or "unknown"
        key = (label, name)
        old = found.get(key)
        count = _int(labels.get(COUNT_LABEL))
        if old is None:
            found[key] = GpuPool(name, label, memory, labels.get(PRODUCT_LABEL), count)
        else:
            counts = [c for c in (old.gpus_per_node, count) if c is not None]
            found[key] = GpuPool(name, label, min(old.memory_bytes, memory), old.product,
                                 min(counts) if counts else None, old.nodes + 1)
    return sorted(found.values(), key=lambda p: (p.memory_bytes, p.name))


def _matches(labels: Mapping[str, str], term: Mapping) -> bool:
    for expr in term.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        have = labels.get(key)
        # Gt/Lt compare integers; a label or bound that is not one matches neither.
        number, bound = _int(have), _int(str(values[0])) if values else None
        ok = {
            "In": have in values, "NotIn": have not in values, "Exists": key in labels,
            "DoesNotExist": key not in labels,
            "Gt": number is not None and bound is not None and number > bound,
            "Lt": number is not None and bound is not None and number < bound,
        }.get(op, False)
        if not ok:
            return False
    return True


def selected(nodes_labels: Iterable[Mapping[str, str]], terms: list | None) -> list[Mapping[str, str]]:
    """The nodes a model's nodeSelectorTerms allow (terms are ORed, expressions ANDed)."""
    nodes = list(nodes_labels)
    if not terms:
        return nodes
    return [n for n in nodes if any(_matches(n, t) for t in terms)]


def smallest_gpu(nodes_labels: Iterable[Mapping[str, str]]) -> int | None:
    """One GPU of the smallest kind among these nodes: a model may land on any of them."""
    sizes = [m for m in (gpu_memory_of(n) for n in nodes_labels) if m]
    return min(sizes) if sizes else None


def selector_for(pool: GpuPool) -> list[dict]:
    """nodeSelectorTerms that pin a model to this pool."""
    return [{"matchExpressions": [{"key": pool.label, "operator": "In", "values": [pool.name]}]}]

"""One shared ReadWriteMany model cache for all models (the chart's `sharedPvcStorage`) instead of
a cache volume per model: every engine pod mounts the release's claim
`<release>-shared-pvc-storage-claim` at /data/shared-pvc-storage, which the chart makes HF_HOME.

Facts of the chart: every version 0.1.8-0.1.12 has templates/shared-storage.yaml, but only from
0.1.11 does the engine's HF_HOME point at the shared volume (0.1.8-0.1.10 mount it beside the
model's own cache, where the weights still go; 0.1.8 also creates a PersistentVolume whenever the
key is present). With `hostPath` or `nfs` the chart creates a PersistentVolume
`<release>-shared-pvc-storage` (cluster-wide) and binds the claim to it by name; otherwise the
claim is provisioned by its StorageClass, which must be one that makes ReadWriteMany volumes
(NFS, CephFS, EFS, Filestore, Azure Files). The chart's Ray template mounts no shared cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllmctl.core import chart

if TYPE_CHECKING:
    from vllmctl.core.models import ModelEntry
    from vllmctl.core.settings import Settings

SINCE = "0.1.11"
MOUNT = "/data/shared-pvc-storage"
NFS = re.compile(r"^(?P<server>[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?|\[[0-9A-Fa-f:]+\]):(?P<path>/[^\s]*)$")


@dataclass(frozen=True)
class SharedCache:
    size: str
    storage_class: str  # "" = the cluster's default (dynamic) or none (a volume vllmctl's release creates)
    nfs_server: str = ""
    nfs_path: str = ""
    host_path: str = ""

    @property
    def static(self) -> bool:
        """The release creates the PersistentVolume itself (NFS export or node directory)."""
        return bool(self.host_path or self.nfs_server)


def of(s: Settings) -> SharedCache | None:
    """The shared cache the settings ask for, or None (a cache volume per model)."""
    if not s.shared_cache_size:
        return None
    m = NFS.match(s.shared_cache_nfs)
    return SharedCache(s.shared_cache_size, s.shared_cache_storage_class or s.storage_class,
                       m.group("server").strip("[]") if m else "", m.group("path") if m else "",
                       s.shared_cache_host_path)


def problems(s: Settings, chart_version: str) -> list[str]:
    """Why the shared cache settings cannot work, each a line naming the variable to change."""
    out = []
    rest = [name for name, value in (("VLLM_SHARED_CACHE_NFS", s.shared_cache_nfs),
                                     ("VLLM_SHARED_CACHE_HOST_PATH", s.shared_cache_host_path),
                                     ("VLLM_SHARED_CACHE_STORAGE_CLASS", s.shared_cache_storage_class)) if value]
    if not s.shared_cache_size:
        if rest:
            out.append(f"{rest[0]} is set but VLLM_SHARED_CACHE_SIZE is not: give the shared cache a size (500Gi) "
                       "or unset it")
        return out
    if not chart.at_least(chart_version, SINCE):
        out.append(f"VLLM_SHARED_CACHE_SIZE needs vllm-stack chart {SINCE} or newer (before it the engines keep "
                   f"caching on their own volumes); VLLM_CHART_VERSION is {chart_version}")
    if s.shared_cache_nfs and s.shared_cache_host_path:
        out.append("VLLM_SHARED_CACHE_NFS and VLLM_SHARED_CACHE_HOST_PATH both name the shared cache's volume: "
                   "keep one")
    if s.shared_cache_nfs and not NFS.match(s.shared_cache_nfs):
        out.append(f"VLLM_SHARED_CACHE_NFS={s.shared_cache_nfs!r}: give the export as SERVER:/PATH "
                   "(nfs.example.com:/exports/models)")
    if s.shared_cache_host_path and not s.shared_cache_host_path.startswith("/"):
        out.append(f"VLLM_SHARED_CACHE_HOST_PATH={s.shared_cache_host_path!r} must be an absolute directory")
    return out


def entry_problems(m: ModelEntry) -> list[tuple[tuple, str]]:
    """A model's own cache volume while the shared one is on: it would sit unused."""
    if m.multiNode is None and "pvcStorage" in m.model_fields_set and m.pvcStorage:
        return [(("pvcStorage",), "the engines cache models on the shared volume (VLLM_SHARED_CACHE_SIZE), so this "
                                  "model's own cache volume would sit unused: remove pvcStorage")]
    return []


def warnings(m: ModelEntry) -> list[str]:
    if m.multiNode is not None:
        return [f"model {m.name!r}: the chart's Ray template does not mount the shared cache; this multi-node "
                "model caches on " + ("its own volume (pvcStorage)" if m.pvcStorage else "/tmp of each pod")]
    return []


def uses_shared(m: ModelEntry, cache: SharedCache | None) -> bool:
    """Whether the model caches on the shared volume (instead of a claim of its own)."""
    return cache is not None and m.multiNode is None


def values(cache: SharedCache, release: str) -> dict:
    """The chart's `sharedPvcStorage`."""
    out: dict = {"enabled": True, "size": cache.size, "accessModes": ["ReadWriteMany"]}
    # A volume the release creates is bound by name; a class name keeps the cluster's default
    # StorageClass from being stamped on the claim (a class mismatch would leave it Pending).
    storage_class = cache.storage_class or (f"{release}-shared-cache" if cache.static else "")
    if storage_class:
        out["storageClass"] = storage_class
    if cache.host_path:
        out["hostPath"] = cache.host_path
    if cache.nfs_server:
        out["nfs"] = {"server": cache.nfs_server, "path": cache.nfs_path}
    return out

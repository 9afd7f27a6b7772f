"""What an upgrade does to the running models: who restarts and why, the GPUs the surge needs, and
how long until every model serves again. Pure: deployed and new Helm values in, a plan out.

A model's pods are replaced when anything in their pod template changes: engine arguments,
image, environment, resources, placement, or the chart itself (its templates may differ).
replicaCount only scales, and pvcStorage only resizes the claim: neither restarts a pod.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vllmctl.core.fit import FitReport

# modelSpec key -> why a change to it restarts the model's pods
_REASONS = {
    "modelURL": "args", "modelRevision": "args", "vllmConfig": "args", "chatTemplate": "args",
    "toolCallParser": "args", "repository": "image", "tag": "image", "imagePullPolicy": "image",
    "env": "env", "requestCPU": "resources", "requestMemory": "resources", "requestGPU": "resources",
    "limitCPU": "resources", "limitMemory": "resources", "shmSize": "resources",
    "nodeSelectorTerms": "placement", "tolerations": "placement", "runtimeClassName": "placement",
    "priorityClassName": "placement", "podAnnotations": "annotations",
}
_NO_RESTART = {"name", "replicaCount", "pvcStorage", "pvcAccessMode", "storageClass"}


@dataclass(frozen=True)
class ModelChange:
    name: str
    action: str  # "restart", "start" (new), "remove", "scale", "unchanged"
    reasons: tuple[str, ...] = ()
    gpus: int = 0  # GPUs of its new pods (requestGPU x replicaCount)
    back_after_seconds: float | None = None  # until it serves again

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "reasons": list(self.reasons), "gpus": self.gpus,
                "back_after_seconds": None if self.back_after_seconds is None else round(self.back_after_seconds)}


@dataclass
class UpgradePlan:
    changes: list[ModelChange] = field(default_factory=list)
    surge_gpus: int = 0  # extra GPUs while old and new pods overlap
    extra_gpus_needed: int = 0  # beyond what the cluster has free now
    free_gpus: int | None = None
    seconds_until_all_back: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"changes": [c.as_dict() for c in self.changes], "surge_gpus": self.surge_gpus,
                "extra_gpus_needed": self.extra_gpus_needed, "free_gpus": self.free_gpus,
                "seconds_until_all_back": None if self.seconds_until_all_back is None
                else round(self.seconds_until_all_back)}


def _specs(values: Mapping[str, Any] | None) -> dict[str, dict]:
    specs = ((values or {}).get("servingEngineSpec") or {}).get("modelSpec") or []
    return {s["name"]: s for s in specs if isinstance(s, dict) and s.get("name")}


def _engine_level(values: Mapping[str, Any] | None) -> dict:
    """servingEngineSpec keys outside modelSpec (runtime class, strategy, ...): they reach every pod."""
    spec = dict((values or {}).get("servingEngineSpec") or {})
    spec.pop("modelSpec", None)
    return spec


def _gpus(spec: Mapping[str, Any]) -> int:
    return int(spec.get("requestGPU") or 0) * int(spec.get("replicaCount") or 0)


def reasons(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    found = []
    for key in sorted(set(old) | set(new)):
        if key in _NO_RESTART or old.get(key) == new.get(key):
            continue
        reason = _REASONS.get(key, "spec")
        if reason not in found:
            found.append(reason)
    return tuple(found)


def plan(deployed_values: Mapping[str, Any] | None, new_values: Mapping[str, Any], *, deployed_chart: str,
         new_chart: str, reports: list[FitReport], free_gpus: int | None, update_strategy: str) -> UpgradePlan:
    old, new = _specs(deployed_values), _specs(new_values)
    chart_changed = deployed_chart != new_chart
    engine_changed = _engine_level(deployed_values) != _engine_level(new_values)
    by_name = {r.name: r for r in reports}
    out = UpgradePlan(free_gpus=free_gpus)
    for name, spec in new.items():
        before = old.get(name)
        why: tuple[str, ...]
        if before is None:
            action, why = "start", ("new",)
        else:
            why = reasons(before, spec)
            if chart_changed:
                why += (f"chart {deployed_chart} -> {new_chart}",)
            elif engine_changed:
                why += ("engine settings",)
            action = "restart" if why else ("scale" if _gpus(before) != _gpus(spec) else "unchanged")
        report = by_name.get(name)
        back = None
        if action in ("restart", "start") and report and report.startup:
            same_files = before is not None and (before.get("modelURL"), before.get("modelRevision")) == (
                spec.get("modelURL"), spec.get("modelRevision"))
            back = report.startup.seconds - (report.startup.download_seconds if same_files else 0.0)
        out.changes.append(ModelChange(name, action, why, _gpus(spec), back))
    for name in old.keys() - new.keys():
        out.changes.append(ModelChange(name, "remove"))
    needed = sum(_gpus(s) for s in new.values())
    if update_strategy == "RollingUpdate":
        out.surge_gpus = sum(_gpus(old[c.name]) for c in out.changes if c.action == "restart")
    if free_gpus is not None:
        out.extra_gpus_needed = max(0, needed + out.surge_gpus - free_gpus)
    waits = [c.back_after_seconds for c in out.changes if c.back_after_seconds is not None]
    moving = [c for c in out.changes if c.action in ("restart", "start")]
    out.seconds_until_all_back = max(waits) if waits and len(waits) == len(moving) else (0.0 if not moving else None)
    return out

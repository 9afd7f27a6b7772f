"""Whether each LoRA adapter is loaded, as the chart's LoRA controller reports it on its
LoraAdapter object (production-stack operator, LoraAdapterStatus):

- `status.loadedAdapters`: one entry per pod the adapter was loaded into (`name` = the adapter's
  API model id, `podAssignments.podName`, `status: Loaded`), from the engines' /v1/models;
- a `WaitingForPods` condition (`status: "True"`, reason NoReadyPods) while no engine pod of the
  base model is ready;
- `status.observedGeneration` below `metadata.generation` while the controller has not yet
  reconciled the newest spec (what it reports then is about the previous one).
"""

from __future__ import annotations

from dataclasses import dataclass

LOADED = "Loaded"


@dataclass(frozen=True)
class AdapterState:
    name: str  # the adapter's API model id (its LoraAdapter's name)
    model: str  # the base model (models.yaml name)
    loaded_in: tuple[str, ...]  # pods the controller reports it loaded into
    wanted: int | None  # loraAdapterDeploymentConfig.replicas; None: every pod of the model
    waiting: str  # the controller's WaitingForPods message, "" when not waiting
    reported: bool  # the controller has written a status for the newest spec

    def wanted_in(self, model_pods: int) -> int:
        """How many pods the controller loads it into: `replicas` of the model's ready pods, else all."""
        return model_pods if self.wanted is None else min(self.wanted, model_pods)

    def describe(self, model_pods: int) -> str:
        if not self.reported:
            return "not reported yet (the LoRA controller has not reconciled the newest spec)"
        if self.waiting:
            return f"not loaded: the LoRA controller is waiting for pods ({self.waiting.rstrip('.')})"
        if model_pods == 0:
            return f"not loaded: {self.model!r} has no pods"
        return f"loaded in {len(self.loaded_in)} of {self.wanted_in(model_pods)} pod(s)"

    def complete(self, model_pods: int) -> bool:
        """Loaded wherever the controller should load it (nothing to load into counts as complete)."""
        return self.reported and not self.waiting and len(self.loaded_in) >= self.wanted_in(model_pods)

    def as_dict(self, model_pods: int) -> dict:
        return {"adapter": self.name, "model": self.model, "loadedIn": list(self.loaded_in), "wanted": self.wanted,
                "state": self.describe(model_pods), "complete": self.complete(model_pods)}


def state_of(obj: dict) -> AdapterState:
    """One LoraAdapter object (the API's JSON) as its controller last reported it."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    name = str((spec.get("adapterSource") or {}).get("adapterName") or meta.get("name", ""))
    loaded = tuple(sorted({
        str((entry.get("podAssignments") or {}).get("podName", ""))
        for entry in status.get("loadedAdapters") or []
        if isinstance(entry, dict) and entry.get("name") == name and entry.get("status") == LOADED
    } - {""}))
    waiting = next((str(c.get("message") or c.get("reason") or "no ready pods")
                    for c in status.get("conditions") or []
                    if isinstance(c, dict) and c.get("type") == "WaitingForPods" and c.get("status") == "True"), "")
    replicas = (spec.get("loraAdapterDeploymentConfig") or {}).get("replicas")
    generation = meta.get("generation") or 0
    reported = bool(status) and (status.get("observedGeneration") or 0) >= generation
    return AdapterState(name, str(spec.get("baseModel", "")), loaded,
                        replicas if isinstance(replicas, int) and replicas >= 0 else None, waiting, reported)

"""Rollout progress and stuck detection. Pure: Deployment/Pod/Event dicts (API JSON) in, states out.

A pod is *stuck* when it shows a problem that does not fix itself while we wait: unschedulable (the
scheduler said why, e.g. `Insufficient nvidia.com/gpu`), an image that cannot be pulled, a
container config error (a missing Secret), or a crash loop. The watcher (workflows/rollout.py) stops
once a problem has lasted longer than the --stuck-after threshold instead of sitting out the timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllmctl.core.gpu_types import pod_gpus

IMAGE_PULL = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
CONFIG = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
CRASH = {"CrashLoopBackOff"}
@dataclass(frozen=True)
class Problem:
    kind: str  # "unschedulable", "image-pull", "config", "crash-loop"
    reason: str  # the Kubernetes reason, e.g. Unschedulable, ImagePullBackOff
    message: str

    def describe(self) -> str:
        return f"{self.reason}: {self.message}" if self.message else self.reason


@dataclass(frozen=True)
class PodState:
    name: str
    phase: str
    ready: bool
    node: str
    restarts: int
    gpus: int
    created: str
    problem: Problem | None
    terminating: bool = False


def _conditions(obj: dict) -> dict[str, dict]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def pod_state(pod: dict) -> PodState:
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    conditions = _conditions(pod)
    ready = (conditions.get("Ready") or {}).get("status") == "True"
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    problem = None
    scheduled = conditions.get("PodScheduled") or {}
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        problem = Problem("unschedulable", "Unschedulable", (scheduled.get("message") or "").strip())
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason") or ""
        kind = ("image-pull" if reason in IMAGE_PULL else "config" if reason in CONFIG
                else "crash-loop" if reason in CRASH else None)
        if kind and problem is None:
            problem = Problem(kind, reason, (waiting.get("message") or "").strip().splitlines()[0][:300]
                              if waiting.get("message") else "")
    phase = status.get("phase") or "Unknown"
    waiting_reasons = [((cs.get("state") or {}).get("waiting") or {}).get("reason") for cs in statuses]
    shown = next((r for r in waiting_reasons if r), None) or phase
    return PodState(
        name=meta.get("name", "?"),
        phase=shown,
        ready=ready,
        node=spec.get("nodeName") or "",
        restarts=sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or []),
        gpus=pod_gpus(pod),
        created=meta.get("creationTimestamp") or "",
        problem=problem,
        terminating=bool(meta.get("deletionTimestamp")),
    )


def selects(selector: dict, labels: dict) -> bool:
    """Whether a Deployment's `matchLabels` selector selects a pod with these labels."""
    match = (selector or {}).get("matchLabels") or {}
    return bool(match) and all((labels or {}).get(k) == v for k, v in match.items())


@dataclass(frozen=True)
class DeploymentProgress:
    name: str
    desired: int
    updated: int
    ready: int
    available: int
    done: bool


def deployment_progress(dep: dict) -> DeploymentProgress:
    """As `kubectl rollout status` decides it: the controller saw the newest spec, every replica is
    updated and available, and no old replica is left."""
    meta, spec, status = dep.get("metadata") or {}, dep.get("spec") or {}, dep.get("status") or {}
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    total = int(status.get("replicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    done = observed and updated >= desired and available >= desired and total <= desired
    return DeploymentProgress(meta.get("name", "?"), desired, updated, int(status.get("readyReplicas") or 0),
                              available, done)


def latest_warning(events: list[dict], names: set[str]) -> dict | None:
    """The newest Warning event about any of `names` (pods, ReplicaSets, the Deployment)."""

    def when(e: dict) -> str:
        return e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or ""

    warnings = [
        e for e in events
        if e.get("type") == "Warning" and (e.get("involvedObject") or {}).get("name") in names
    ]
    return max(warnings, key=when) if warnings else None


@dataclass
class ModelProgress:
    """One row of the progress display: a model (or the router)."""

    model: str
    deployment: str
    ready: int
    desired: int
    phase: str
    warning: str  # "Reason: message" of the latest warning event, or ""
    done: bool
    pods: list[PodState] = field(default_factory=list)

    def line(self) -> str:
        text = f"{self.model}: {self.ready}/{self.desired} ready, {self.phase}"
        return text + (f" ({self.warning})" if self.warning else "")


def model_progress(model: str, deployment: dict | None, pods: list[dict], events: list[dict]) -> ModelProgress:
    if deployment is None:
        return ModelProgress(model, "", 0, 0, "no Deployment yet", "", False)
    progress = deployment_progress(deployment)
    selector = (deployment.get("spec") or {}).get("selector") or {}
    mine = [p for p in pods if selects(selector, (p.get("metadata") or {}).get("labels") or {})]
    states = [pod_state(p) for p in mine if not (p.get("metadata") or {}).get("deletionTimestamp")]
    not_ready = [s for s in states if not s.ready]
    phase = "Ready" if progress.done else (not_ready[0].phase if not_ready else "Progressing")
    names = {s.name for s in states} | {progress.name}
    names |= {ref.get("name") for p in mine for ref in (p.get("metadata") or {}).get("ownerReferences") or []}
    event = latest_warning(events, names)
    warning = f"{event.get('reason')}: {(event.get('message') or '').strip()}" if event else ""
    return ModelProgress(model, progress.name, progress.ready, progress.desired, phase, warning, progress.done,
                         states)


@dataclass
class StuckTracker:
    """Remembers since when each pod has shown its current problem (times from the caller's clock)."""

    threshold: float
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def observe(self, rows: list[ModelProgress], now: float) -> str | None:
        """The reason to stop waiting, once some pod's problem has lasted `threshold` seconds."""
        current = {}
        for row in rows:
            for pod in row.pods:
                if pod.problem is None or pod.ready:
                    continue
                key = (pod.name, pod.problem.kind)
                current[key] = self.first_seen.get(key, now)
                if now - current[key] >= self.threshold:
                    return stuck_reason(row.model, pod, now - current[key])
        self.first_seen = current
        return None


def stuck_reason(model: str, pod: PodState, seconds: float) -> str:
    problem = pod.problem
    assert problem is not None
    what = {
        "unschedulable": "cannot be scheduled",
        "image-pull": "cannot pull its image",
        "config": "cannot start its container",
        "crash-loop": "keeps crashing",
    }[problem.kind]
    return f"model {model!r}: pod {pod.name} {what} for {seconds:.0f}s: {problem.describe()}"

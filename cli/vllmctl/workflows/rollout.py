"""Watching a rollout: helm applies the objects without --wait, then this loop polls the release's
Deployments, pods and warning events until every Deployment is rolled out, a pod is stuck for longer
than --stuck-after (unschedulable, image pull, config error, crash loop), or the timeout passes.

Why not `helm --wait`: helm waits silently and cannot tell "pulling a 20 GB image" from "will never
schedule", so a missing GPU costs the full 30-minute timeout. Polling (not a watch) keeps the loop
simple and robust to API server restarts; three list calls a second are cheap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from vllmctl.core import multinode
from vllmctl.core.rollout import ModelProgress, StuckTracker, model_progress
from vllmctl.workflows.ports import KubeObjects


@dataclass(frozen=True)
class Target:
    model: str  # what the user calls it: the models.yaml name, or "router"
    deployment: str  # or the RayCluster of a multi-node model
    ray_nodes: int = 0  # a multi-node model: the pods its RayCluster must have Ready


@dataclass
class Outcome:
    ok: bool
    reason: str  # why it failed ("" when ok)
    rows: list[ModelProgress]
    timed_out: bool = False


def snapshot(kube: KubeObjects, namespace: str, targets: list[Target]) -> list[ModelProgress]:
    deployments = {d["metadata"]["name"]: d for d in kube.list_deployments(namespace)}
    pods = kube.list_pods(namespace)
    events = kube.list_events(namespace)
    return [multinode.progress(t.model, t.deployment, t.ray_nodes, pods, events) if t.ray_nodes else
            model_progress(t.model, deployments.get(t.deployment), pods, events) for t in targets]


def watch(kube: KubeObjects, namespace: str, targets: list[Target], *, timeout_s: float, stuck_after_s: float,
          on_progress: Callable[[list[ModelProgress]], None] | None = None, poll_s: float = 0.5,
          clock=time.monotonic, sleep=time.sleep) -> Outcome:
    tracker = StuckTracker(stuck_after_s)
    deadline = clock() + timeout_s
    rows: list[ModelProgress] = []
    while True:
        rows = snapshot(kube, namespace, targets)
        if on_progress:
            on_progress(rows)
        if all(r.done for r in rows):
            return Outcome(True, "", rows)
        now = clock()
        reason = tracker.observe(rows, now)
        if reason:
            return Outcome(False, reason, rows)
        if now >= deadline:
            waiting = ", ".join(r.line() for r in rows if not r.done)
            return Outcome(False, f"not ready after {timeout_s:.0f}s: {waiting}", rows, timed_out=True)
        sleep(poll_s)

"""Pod and Deployment states from API JSON; stuck detection with a fake clock."""

from __future__ import annotations

from vllmctl.core.rollout import StuckTracker, deployment_progress, model_progress, pod_state

UNSCHEDULABLE = {
    "metadata": {"name": "p1", "labels": {"model": "a"}, "ownerReferences": [{"name": "rs1"}]},
    "spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "3"}}}]},
    "status": {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}]},
}
PULL = {
    "metadata": {"name": "p2", "labels": {"model": "a"}},
    "spec": {"nodeName": "n1", "containers": [{}]},
    "status": {"phase": "Pending", "containerStatuses": [{
        "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}}}]},
}
READY = {
    "metadata": {"name": "p3", "labels": {"model": "a"}},
    "spec": {"nodeName": "n1", "containers": [{}]},
    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"restartCount": 2, "state": {"running": {}}}]},
}
DEPLOYMENT = {
    "metadata": {"name": "d", "generation": 2},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"model": "a"}}},
    "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1,
               "availableReplicas": 1},
}


def test_pod_states():
    s = pod_state(UNSCHEDULABLE)
    assert s.problem.kind == "unschedulable" and "Insufficient nvidia.com/gpu" in s.problem.message
    assert s.gpus == 3 and not s.ready
    p = pod_state(PULL)
    assert p.problem.kind == "image-pull" and p.phase == "ImagePullBackOff"
    r = pod_state(READY)
    assert r.ready and r.problem is None and r.restarts == 2 and r.phase == "Running"


def test_deployment_done_only_without_old_replicas():
    assert not deployment_progress(DEPLOYMENT).done  # an old replica is still there
    done = {**DEPLOYMENT, "status": {**DEPLOYMENT["status"], "replicas": 1}}
    assert deployment_progress(done).done
    stale = {**done, "metadata": {"name": "d", "generation": 3}}
    assert not deployment_progress(stale).done


def test_model_progress_picks_latest_warning():
    events = [
        {"type": "Warning", "reason": "Old", "message": "x", "lastTimestamp": "2024-01-01T00:00:00Z",
         "involvedObject": {"name": "p1"}},
        {"type": "Warning", "reason": "FailedScheduling", "message": "0/1 nodes", "lastTimestamp":
         "2024-01-01T00:01:00Z", "involvedObject": {"name": "p1"}},
        {"type": "Warning", "reason": "Other", "message": "y", "lastTimestamp": "2024-01-01T00:02:00Z",
         "involvedObject": {"name": "someone-else"}},
    ]
    row = model_progress("a", DEPLOYMENT, [UNSCHEDULABLE, READY], events)
    assert row.warning == "FailedScheduling: 0/1 nodes"
    assert row.line() == "a: 1/1 ready, Pending (FailedScheduling: 0/1 nodes)"
    assert model_progress("a", None, [], []).phase == "no Deployment yet"


def test_stuck_after_threshold_only():
    tracker = StuckTracker(threshold=10)
    row = model_progress("a", DEPLOYMENT, [UNSCHEDULABLE], [])
    assert tracker.observe([row], now=100) is None
    assert tracker.observe([row], now=105) is None
    reason = tracker.observe([row], now=110)
    assert reason.startswith("model 'a': pod p1 cannot be scheduled for 10s: Unschedulable: 0/1 nodes")


def test_problem_that_clears_resets_the_clock():
    tracker = StuckTracker(threshold=10)
    stuck = model_progress("a", DEPLOYMENT, [PULL], [])
    fine = model_progress("a", DEPLOYMENT, [READY], [])
    assert tracker.observe([stuck], now=0) is None
    assert tracker.observe([fine], now=8) is None
    assert tracker.observe([stuck], now=12) is None
    assert "cannot pull its image" in tracker.observe([stuck], now=22)

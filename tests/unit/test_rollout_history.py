"""core.rollout_history: the watch's verdicts beside helm's history."""

from __future__ import annotations

import json

from vllmctl.core import rollout_history as rh

ROWS = [{"revision": 1, "status": "superseded", "description": "Install complete"},
        {"revision": 2, "status": "deployed", "description": "Upgrade complete"},
        {"revision": 3, "status": "failed", "description": "Upgrade failed: timed out"}]


def test_a_failed_rollout_shows_as_failed_with_its_reason():
    records = rh.recorded({}, 1, rh.READY, "", "2026-12-01T10:00:00+00:00")
    records = rh.recorded(records, 2, rh.FAILED, "pod greedy: 0/1 nodes: Insufficient nvidia.com/gpu", "t")
    rows = rh.annotated(ROWS, records)
    assert [(r["revision"], r["status"], r["rollout"]) for r in rows] == [
        (1, "superseded", "ready"), (2, "failed", "failed"), (3, "failed", None)]
    assert rows[1]["helm_status"] == "deployed"
    assert rows[1]["description"] == "rollout failed: pod greedy: 0/1 nodes: Insufficient nvidia.com/gpu"
    assert "helm_status" not in rows[0] and rows[2]["description"] == "Upgrade failed: timed out"


def test_records_are_bounded_and_keep_the_newest():
    records: dict[str, str] = {}
    for revision in range(1, rh.KEEP + 6):
        records = rh.recorded(records, revision, rh.READY, "x" * 1000, "t")
    assert sorted(map(int, records)) == list(range(6, rh.KEEP + 6))
    assert len(json.loads(records[str(rh.KEEP + 5)])["reason"]) == rh.REASON_CHARS


def test_records_not_written_by_vllmctl_change_nothing():
    rows = rh.annotated(ROWS, {"2": "not json", "1": json.dumps({"outcome": "exploded"}), "3": "[]"})
    assert [(r["status"], r["rollout"]) for r in rows] == [("superseded", None), ("deployed", None), ("failed", None)]

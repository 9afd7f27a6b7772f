"""What happened to each watched rollout, beside helm's history.

helm marks a revision `deployed` as soon as the API server accepts its objects, before a pod has
started; vllmctl's own watch (workflows.rollout) learns whether the pods came up. Its verdict is
kept per revision (the release's rollout records, a ConfigMap) and `history` shows a revision whose
pods never became ready as failed, with the reason.
"""

from __future__ import annotations

import json

KEEP = 20  # helm keeps 10 revisions (adapters.helm.HISTORY_MAX); older records are dropped
REASON_CHARS = 300
FAILED, READY = "failed", "ready"


def recorded(records: dict[str, str], revision: int, outcome: str, reason: str, at: str) -> dict[str, str]:
    """The records with this revision's outcome, the oldest dropped beyond KEEP."""
    out = {**records, str(revision): json.dumps({"outcome": outcome, "reason": reason[:REASON_CHARS], "at": at})}
    newest = sorted(out, key=lambda k: int(k) if k.isdigit() else -1)[-KEEP:]
    return {k: out[k] for k in newest}


def _record(records: dict[str, str], revision) -> dict | None:
    try:
        found = json.loads(records.get(str(revision), ""))
    except ValueError:
        return None  # not ours, or edited by hand: helm's status stands
    return found if isinstance(found, dict) and found.get("outcome") in (FAILED, READY) else None


def annotated(rows: list[dict], records: dict[str, str]) -> list[dict]:
    """helm's history rows with `rollout` (ready / failed / null when not watched, as with --no-wait)
    and, for a rollout that failed, status `failed` (helm's own kept as `helm_status`)."""
    out = []
    for row in rows:
        record = _record(records, row.get("revision"))
        row = {**row, "rollout": record["outcome"] if record else None}
        if record and record["outcome"] == FAILED and row.get("status") in ("deployed", "superseded"):
            row["helm_status"] = row["status"]
            row["status"] = FAILED
            row["description"] = f"rollout failed: {record.get('reason') or 'pods did not become ready'}"
        out.append(row)
    return out

"""The upgrade part of `plan`: who restarts and why, the surge's GPUs, the time until all are back."""

from __future__ import annotations

import copy

from vllmctl.core import fit, upgrade_plan
from vllmctl.core import model_facts as mf


def spec(name, **kw):
    base = {"name": name, "modelURL": f"org/{name}", "repository": "vllm/vllm-openai", "tag": "v0.32.0",
            "requestGPU": 1, "replicaCount": 1, "pvcStorage": "50Gi", "vllmConfig": {"maxModelLen": 4096}}
    base.update(kw)
    return base


def values(*specs, **engine):
    return {"servingEngineSpec": {"modelSpec": list(specs), **engine}}


def report(name, download_s=300.0):
    r = fit.FitReport(name, f"org/{name}", "main", "cache", mf.NOT_KNOWN, mf.NOT_KNOWN, mf.NOT_KNOWN, mf.NOT_KNOWN,
                      1, 1, 1, 4096)
    r.startup = fit.StartupEstimate(download_s, 30.0, 60.0)
    return r


OLD = values(spec("a"), spec("b"), spec("c"), spec("gone"))


def test_reasons_and_surge():
    new = copy.deepcopy(OLD)
    a, b, c, _ = new["servingEngineSpec"]["modelSpec"]
    a["vllmConfig"] = {"maxModelLen": 8192}
    b["tag"], b["env"] = "v0.33.0", {"X": "1"}
    c["replicaCount"], c["pvcStorage"] = 2, "80Gi"  # scaling and a bigger claim restart nothing
    new["servingEngineSpec"]["modelSpec"] = [a, b, c, spec("fresh", requestGPU=2)]
    reports = [report(n) for n in ("a", "b", "c", "fresh")]
    plan = upgrade_plan.plan(OLD, new, deployed_chart="0.1.8", new_chart="0.1.8", reports=reports, free_gpus=6,
                             update_strategy="RollingUpdate")
    by = {c.name: c for c in plan.changes}
    assert by["a"].action == "restart" and by["a"].reasons == ("args",)
    assert by["b"].reasons == ("env", "image")
    assert by["c"].action == "scale" and by["gone"].action == "remove"
    assert by["fresh"].action == "start" and by["fresh"].reasons == ("new",)
    assert plan.surge_gpus == 2  # a and b start new pods before their old ones stop
    assert plan.extra_gpus_needed == (1 + 1 + 2 + 2) + 2 - 6
    # a restart reuses the cached download; a new model downloads first
    assert by["a"].back_after_seconds == 90 and by["fresh"].back_after_seconds == 390
    assert plan.seconds_until_all_back == 390


def test_a_chart_change_restarts_every_model_and_recreate_needs_no_surge():
    plan = upgrade_plan.plan(OLD, copy.deepcopy(OLD), deployed_chart="0.1.8", new_chart="0.1.12",
                             reports=[report(n) for n in "abc"] + [report("gone")], free_gpus=4,
                             update_strategy="Recreate")
    assert {c.action for c in plan.changes} == {"restart"}
    assert all(c.reasons == ("chart 0.1.8 -> 0.1.12",) for c in plan.changes)
    assert plan.surge_gpus == 0 and plan.extra_gpus_needed == 0


def test_nothing_changes():
    plan = upgrade_plan.plan(OLD, copy.deepcopy(OLD), deployed_chart="0.1.8", new_chart="0.1.8", reports=[],
                             free_gpus=None, update_strategy="RollingUpdate")
    assert {c.action for c in plan.changes} == {"unchanged"} and plan.seconds_until_all_back == 0.0

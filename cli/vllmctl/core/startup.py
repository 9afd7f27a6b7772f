"""The engines' start-up budget: how long the startup probe lets a pod load before it is killed.

The chart has one startup probe for all models (`servingEngineSpec.startupProbe`; every version
0.1.8..0.1.12 defaults to 15 s + 60 x 10 s, about 10 minutes), so the slowest model sets it. A
model's budget is its `startupTimeout` when given; otherwise an estimate of a cold start from what
models.yaml itself says: the cache volume (`pvcStorage`) has to hold the weights, so its size
bounds the download, read at the download bandwidth setting; never below the chart's default.
Only models.yaml and the settings decide what is rendered, so a render stays the same bytes
wherever it runs; the Hub's figures (exact weight sizes) feed the fit check (core/fit.py), which
warns when a model's estimated cold start exceeds the rendered probe's window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from vllmctl.core import fit
from vllmctl.core.quantity import parse_quantity

INITIAL_DELAY_S = fit.STARTUP_PROBE_INITIAL_DELAY
PERIOD_S = fit.STARTUP_PROBE_PERIOD
CHART_DEFAULT_S = fit.startup_budget_seconds()
# /health stays answered during long generations, but a loaded engine answers slowly: give each
# probe 5 s and let the liveness probe miss for a minute before the pod is restarted.
PROBE_TIMEOUT_S = 5
LIVENESS = {"initialDelaySeconds": INITIAL_DELAY_S, "periodSeconds": PERIOD_S, "failureThreshold": 6,
            "timeoutSeconds": PROBE_TIMEOUT_S, "httpGet": {"path": "/health", "port": 8000}}
READINESS = {"initialDelaySeconds": INITIAL_DELAY_S, "periodSeconds": 5, "failureThreshold": 3,
             "timeoutSeconds": PROBE_TIMEOUT_S, "httpGet": {"path": "/health", "port": 8000}}


@dataclass(frozen=True)
class Budget:
    model: str
    seconds: int
    source: str  # "startupTimeout", "estimate" (from pvcStorage) or "chart default" (no cache volume)


def model_budget(name: str, startup_timeout_s: float | None, pvc_storage: str, bandwidth: str) -> Budget:
    if startup_timeout_s is not None:
        return Budget(name, math.ceil(startup_timeout_s), "startupTimeout")
    if pvc_storage:
        # An estimate never shortens the chart's own default; only an explicit startupTimeout can.
        size = int(parse_quantity(pvc_storage))
        estimate = math.ceil(fit.startup_estimate(size, size, float(parse_quantity(bandwidth))).seconds)
        return Budget(name, max(estimate, CHART_DEFAULT_S), "estimate")
    return Budget(name, CHART_DEFAULT_S, "chart default")


def startup_probe(budget_s: int) -> dict:
    """The chart's startupProbe values allowing at least `budget_s` before the first kill."""
    failures = max(1, math.ceil((budget_s - INITIAL_DELAY_S) / PERIOD_S))
    return {"initialDelaySeconds": INITIAL_DELAY_S, "periodSeconds": PERIOD_S, "failureThreshold": failures,
            "timeoutSeconds": PROBE_TIMEOUT_S, "httpGet": {"path": "/health", "port": 8000}}


def probe_window_s(probe: dict) -> int:
    """How long a startup probe waits before the kubelet kills the container."""
    return int(probe.get("initialDelaySeconds", 0)) + int(probe.get("periodSeconds", 10)) * int(
        probe.get("failureThreshold", 3))

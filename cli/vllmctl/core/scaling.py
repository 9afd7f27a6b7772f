"""Autoscaling (the chart's KEDA ScaledObject, `modelSpec[].keda`, chart 0.1.9+) and metrics (the
chart's engine and router ServiceMonitors and Grafana dashboards, chart 0.1.11+).

A model scales on its engines' queue: `vllm:num_requests_waiting` summed over the model's pods
(the engine labels it with the served model name, which vllmctl sets to the models.yaml name).
At zero replicas there are no engines to report a queue, so a model that may scale to zero also
gets the router's request counter (`vllm:num_incoming_requests_total{model=...}`) as a trigger:
the first request for it wakes it, as the chart's own scale-to-zero tutorial does.
"""

from __future__ import annotations

import math

from vllmctl.core import chart
from vllmctl.core.duration import seconds

KEDA_API = "keda.sh/v1alpha1"
MONITORING_API = "monitoring.coreos.com/v1"
MONITORING_SINCE = "0.1.11"


def queue_query(model: str) -> str:
    return f'sum(vllm:num_requests_waiting{{model_name="{model}"}})'


def wake_query(model: str) -> str:
    return f'sum(rate(vllm:num_incoming_requests_total{{model="{model}"}}[1m]) > bool 0)'


def keda_values(model: str, autoscaling, prometheus_url: str) -> dict:
    """The chart's `keda` block for one model's `autoscaling` entry."""
    a = autoscaling
    triggers = [{"type": "prometheus", "metadata": {
        "serverAddress": prometheus_url, "metricName": f"{model}_queue", "query": queue_query(model),
        "threshold": str(a.targetQueueLength)}}]
    if a.minReplicas == 0:
        triggers.append({"type": "prometheus", "metadata": {
            "serverAddress": prometheus_url, "metricName": f"{model}_wake", "query": wake_query(model),
            "threshold": "1"}})
    return {
        "enabled": True, "minReplicaCount": a.minReplicas, "maxReplicaCount": a.maxReplicas,
        "pollingInterval": math.ceil(seconds(a.pollingInterval)), "cooldownPeriod": math.ceil(seconds(a.idleAfter)),
        "triggers": triggers,
    }


def monitoring_problems(chart_version: str, monitoring: bool, labels: str) -> list[str]:
    """Why VLLM_MONITORING / VLLM_SERVICE_MONITOR_LABELS cannot work (models' autoscaling is gated
    per entry, like every versioned models.yaml key)."""
    out = []
    if monitoring and not chart.at_least(chart_version, MONITORING_SINCE):
        out.append(f"VLLM_MONITORING needs vllm-stack chart {MONITORING_SINCE} or newer (ServiceMonitors, "
                   f"dashboards); VLLM_CHART_VERSION is {chart_version}")
    try:
        parse_labels(labels)
    except ValueError as e:
        out.append(f"VLLM_SERVICE_MONITOR_LABELS: {e}; give KEY=VALUE pairs separated by commas")
    return out


def monitoring_values(labels: dict[str, str]) -> tuple[dict, dict]:
    """(servingEngineSpec.serviceMonitor, routerSpec.serviceMonitor) when metrics are on."""
    monitor = {"enabled": True, **({"additionalLabels": labels} if labels else {})}
    return monitor, dict(monitor)


def parse_labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2` (VLLM_SERVICE_MONITOR_LABELS): the labels Prometheus selects ServiceMonitors by."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{part!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out

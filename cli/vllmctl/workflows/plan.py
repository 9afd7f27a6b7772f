"""`vllmctl plan`: every model's fit, and with a deployed release what an upgrade would do.

The cluster is optional: without a kubeconfig (or with --no-cluster) the plan uses --gpu-memory
and no node pools; with one, the nodes' GPU labels, the free GPUs and the deployed release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vllmctl.core import upgrade_plan
from vllmctl.core.models_file import InvalidModels
from vllmctl.core.settings import Settings
from vllmctl.errors import VllmctlError
from vllmctl.workflows import fit as fit_wf
from vllmctl.workflows import models as models_wf
from vllmctl.workflows import render as render_wf


@dataclass
class PlanResult:
    fit: fit_wf.FitRun
    chart_version: str
    upgrade: upgrade_plan.UpgradePlan | None = None
    deployed_chart: str | None = None
    cluster: str = "not used"
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "chart_version": self.chart_version, "cluster": self.cluster,
            "gpu_memory_source": self.fit.gpu_memory_source,
            "node_pools": [p.as_dict() for p in self.fit.pools],
            "models": [r.as_dict() for r in self.fit.reports],
            "deployed_chart": self.deployed_chart,
            "upgrade": self.upgrade.as_dict() if self.upgrade else None,
            "warnings": self.warnings,
        }


def _cluster_state(settings: Settings):
    """(node labels, free GPUs, deployed values, deployed chart) from the cluster, or raises."""
    from vllmctl.workflows.connection import connect

    ctx = connect(settings)
    s = ctx.settings
    labels = ctx.kube.node_labels()
    facts = ctx.kube.cluster_facts(s.release, s.namespace)
    free = sum(n.free_gpus for n in facts.nodes if n.schedulable)
    current = ctx.helm.run(ctx.helm.latest(s.release, s.namespace))
    values = chart = None
    if current is not None and not current.pending:
        values = ctx.helm.run(ctx.helm.values(s.release, s.namespace))
        chart = current.chart.removeprefix("vllm-stack-")
    return labels, free, values, chart


def plan(settings: Settings, *, use_cluster: bool = True, fetch=None) -> PlanResult:
    settings, _ = render_wf.for_chart(settings)  # VLLM_CHART's own version when it names a local chart
    try:
        loaded, rendered = render_wf.render_models(settings, loaded=models_wf.load_for_reading(settings))
    except InvalidModels:
        loaded = None
    if loaded is None or loaded.warnings:  # problems and warnings get their lines from the full parser
        loaded, rendered = render_wf.render_models(settings, allow_example=False)
    warnings = list(loaded.warnings)
    labels, free, deployed, chart, cluster = None, None, None, None, "not used"
    if use_cluster and fit_wf.kubeconfig_present():
        try:
            labels, free, deployed, chart = _cluster_state(settings)
            cluster = "reachable"
        except VllmctlError as e:
            cluster = "unreachable"
            warnings.append(f"cluster not used: {e}")
    run = fit_wf.run(settings, rendered.values, loaded.chart_version, nodes_labels=labels, fetch=fetch)
    result = PlanResult(run, loaded.chart_version, cluster=cluster, warnings=warnings)
    if deployed is not None:
        result.deployed_chart = chart
        result.upgrade = upgrade_plan.plan(deployed, rendered.values, deployed_chart=chart or "?",
                                           new_chart=loaded.chart_version, reports=run.reports, free_gpus=free,
                                           update_strategy=settings.update_strategy)
    return result

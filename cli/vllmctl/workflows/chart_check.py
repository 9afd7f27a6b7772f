"""The chart check in its setting: `helm template` of the pinned chart with the rendered values, the
chart's own defaults beside it, then core.chart_lint over the manifests it produces.

`validate` runs it when a chart is at hand (VLLM_CHART, or the charts/ cache `vllmctl chart pull`
writes); `render`, `diff`, `install` and `upgrade` always run it (they have a chart or fetch it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vllmctl.core.models_file import InvalidModels
from vllmctl.core.settings import Settings
from vllmctl.errors import OperationFailed, Unreachable

if TYPE_CHECKING:
    from vllmctl.adapters.chart_source import ChartRef
    from vllmctl.workflows.ports import HelmReleases, KubeObjects

UNREACHABLE = ("chart check skipped: the chart repository {repo} cannot be reached; run `vllmctl chart pull` where "
               "it can (or set VLLM_CHART to a chart .tgz or directory) and render also checks what `helm template` "
               "of the pinned chart would deploy")
SKIPPED = ("chart check skipped: no chart at hand; run `vllmctl chart pull` (or set VLLM_CHART to a chart .tgz or "
           "directory) and validate also checks what `helm template` of the pinned chart would deploy")


@dataclass
class ChartCheck:
    chart: ChartRef
    manifest: str  # what `helm template` rendered
    warnings: list[str] = field(default_factory=list)


def _defaults(text: str) -> dict:
    import yaml

    try:
        data = yaml.load(text or "", Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


async def _template_and_defaults(helm: HelmReleases, chart: ChartRef, settings: Settings, values: dict,
                                 manifest: str | None) -> tuple[str, str]:
    import asyncio

    from vllmctl.adapters import chart_source

    async def defaults() -> str:
        return chart_source.local_values_text(Path(chart.ref)) if chart.local else await helm.default_values(chart)

    if manifest is not None:
        return manifest, await defaults()
    template = helm.template(settings.release, chart, values, settings.namespace, post_render=False)
    rendered, chart_defaults = await asyncio.gather(template, defaults())
    return rendered, chart_defaults


def check(rendered, document, chart: ChartRef, *, values: dict | None = None, manifest: str | None = None,
          claims: frozenset[str] | None = None, helm: HelmReleases | None = None) -> ChartCheck:
    """Template `values` (default: the rendered values) with `chart`, unless the caller templated them
    already (`manifest`), and lint the manifests: InvalidModels listing every error (exit 2, nothing
    applied), else the manifest and the warnings. `claims`: the cluster's PVC names in the namespace,
    when there is a cluster."""
    from vllmctl.adapters.helm import Helm
    from vllmctl.core.chart_lint import WARNING, LintInput, errors, lint

    settings = rendered.request.settings
    helm = helm or Helm(None)
    try:
        manifest, defaults = helm.run(_template_and_defaults(helm, chart, settings, values or rendered.values,
                                                             manifest))
    except (OperationFailed, Unreachable) as e:
        if chart.local:
            raise
        raise type(e)(e.message, hint="To work without the chart repository, run `vllmctl chart pull` once "
                      "(or set VLLM_CHART to a local chart).") from None
    findings = lint(LintInput(manifest, rendered.request, document, _defaults(defaults), claims))
    failed = errors(findings)
    if failed:
        raise InvalidModels(failed)
    return ChartCheck(chart, manifest, [str(f) for f in findings if f.severity == WARNING])


def cluster_claims(kube: KubeObjects, namespace: str) -> frozenset[str] | None:
    """The PVC names in the namespace, or None when they cannot be read (say, diff's read-only role,
    which may only read Secrets): then only the claims the release creates count."""
    from vllmctl.errors import VllmctlError

    try:
        return frozenset(name for p in kube.list_pvcs(namespace)
                         if isinstance(name := (p.get("metadata") or {}).get("name"), str))
    except VllmctlError:
        return None

"""What `render --format` writes: Helm values, an Argo CD Application or Flux objects, from one render.

Pure: the rendered values and the settings in, file name -> YAML text out. Every format carries
the ExternalSecrets (secret REFERENCES only); the GitOps formats add the Namespace with its Pod
Security labels, because the controllers are told not to create it (CreateNamespace=false).
The values go inline, as the very text of values.yaml re-indented, so a pull request shows the
same lines whatever the format. Nothing here reads a clock: same input, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from vllmctl.core.pod_security import namespace_labels
from vllmctl.errors import InvalidInput

if TYPE_CHECKING:  # core.render imports pydantic models: keep `--help` from paying for them
    from vllmctl.core.render import Rendered, RenderRequest
    from vllmctl.core.settings import Settings

CHART_NAME = "vllm-stack"
NAMESPACE_FILE = "namespace.yaml"
ARGOCD_FILE = "argocd-application.yaml"
FLUX_REPOSITORY_FILE = "flux-helmrepository.yaml"
FLUX_RELEASE_FILE = "flux-helmrelease.yaml"



class RenderFormat(StrEnum):
    helm = "helm"
    argocd = "argocd"
    flux = "flux"


@dataclass(frozen=True)
class ChartSource:
    """Where a GitOps controller pulls the chart from."""

    repo_url: str  # https://... or oci://host/path (the repository, without the chart name)
    name: str
    version: str
    source_name: str  # metadata.name of the Flux HelmRepository

    @property
    def oci(self) -> bool:
        return self.repo_url.startswith("oci://")

    @property
    def argocd_repo_url(self) -> str:
        # Argo CD names an OCI Helm repository without its scheme (and the chart separately).
        return self.repo_url.removeprefix("oci://") if self.oci else self.repo_url


def chart_source(settings: Settings) -> ChartSource:
    """The pinned chart as repository + name + version; a local chart cannot be pulled by a controller."""
    if not settings.chart:
        return ChartSource(settings.chart_repo.rstrip("/"), CHART_NAME, settings.chart_version, CHART_NAME)
    reference = settings.chart
    if not reference.startswith("oci://"):
        raise InvalidInput(
            f"VLLM_CHART={reference} is a local chart, which Argo CD or Flux cannot pull: unset VLLM_CHART "
            "(the chart then comes from VLLM_CHART_REPO at VLLM_CHART_VERSION), push the chart to a Helm "
            "or OCI repository, or render with --format helm."
        )
    repo, _, name = reference.rstrip("/").rpartition("/")
    if not name or repo == "oci:/" or ":" in name or "@" in name:
        raise InvalidInput(
            f"VLLM_CHART={reference} must be oci://REGISTRY/PATH/CHART without a tag or digest; "
            "the version comes from VLLM_CHART_VERSION."
        )
    return ChartSource(repo, name, settings.chart_version, name)


def _values_body(request: RenderRequest, rendered: Rendered) -> str:
    from vllmctl.core.render import header

    head = header(request)
    if not rendered.values_text.startswith(head):  # a template change that would misplace the values
        raise AssertionError("values text does not start with its header")
    # Every line of the values text is structure: the `y` filter keeps each value on one line, so
    # indenting all lines by the same amount nests the whole document safely.
    return rendered.values_text[len(head):].rstrip("\n")


def files(fmt: RenderFormat, request: RenderRequest, rendered: Rendered) -> dict[str, str]:
    """File name -> text of every file a render in this format writes (nothing else belongs there)."""
    from vllmctl.core.render import header, render_template

    if fmt is RenderFormat.helm:
        return rendered.files()
    settings = request.settings
    chart = chart_source(settings)
    from vllmctl.core.lora import uses_adapters

    context = {"header": header(request), "s": settings, "chart": chart, "values_body": _values_body(request, rendered),
               # Flux skips a chart's CRDs on upgrade by default: LoraAdapters need theirs served
               "crds": "CreateReplace" if uses_adapters(request.models) else None}
    labels = namespace_labels(settings.pod_security)
    out = {NAMESPACE_FILE: render_template("namespace.yaml.j2", labels=labels, **context)}
    if fmt is RenderFormat.argocd:
        out[ARGOCD_FILE] = render_template("argocd-application.yaml.j2", **context)
    else:
        out[FLUX_REPOSITORY_FILE] = render_template("flux-helmrepository.yaml.j2", **context)
        out[FLUX_RELEASE_FILE] = render_template("flux-helmrelease.yaml.j2", **context)
    out.update(rendered.manifests)
    return out

"""What every release command works with: the chart, helm, and the cluster's objects and secrets
(workflows.ports), built once by `connect`; and the names the chart gives the release's objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vllmctl.core.release import ReleaseInfo
from vllmctl.core.settings import Settings
from vllmctl.errors import OperationFailed
from vllmctl.workflows.ports import HelmReleases, KubeObjects, SecretObjects

if TYPE_CHECKING:
    from vllmctl.adapters.chart_source import ChartRef


@dataclass
class Context:
    settings: Settings
    chart: ChartRef
    helm: HelmReleases  # the release's revisions, and the chart rendered or applied (workflows.ports)
    kube: KubeObjects  # the cluster's objects (workflows.ports)
    secrets: SecretObjects  # the cluster's Secrets and ExternalSecrets (workflows.ports)


def connect(settings: Settings, chart: ChartRef | None = None) -> Context:
    """The real chart, helm and cluster of the settings (the cluster checked reachable)."""
    from vllmctl.adapters import chart_source
    from vllmctl.adapters.helm import Helm
    from vllmctl.adapters.kube import Kube
    from vllmctl.adapters.kube_client import connect as kube_connect
    from vllmctl.adapters.kube_secrets import KubeSecrets

    chart = chart or chart_source.resolve(settings)
    settings = chart_source.settings_for(settings, chart)
    cluster = kube_connect(settings.kube_context)
    return Context(settings, chart, Helm(cluster), Kube(cluster), KubeSecrets(cluster))


def endpoint_of(settings: Settings) -> str:
    return f"http://{settings.release}-router-service.{settings.namespace}.svc.cluster.local"


def engine_deployment(release: str, model: str) -> str:
    return f"{release}-{model}-deployment-vllm"


def router_deployment(release: str) -> str:
    return f"{release}-deployment-router"


def pending_error(info: ReleaseInfo, settings: Settings) -> OperationFailed:
    r, ns = settings.release, settings.namespace
    way_out = (f"If no other helm command is running: `vllmctl rollback` (or `helm rollback {r} -n {ns}`)"
               if info.revision > 1 else f"If no other helm command is running: `vllmctl uninstall` "
               f"(or `helm uninstall {r} -n {ns}`), then install again")
    return OperationFailed(
        f"release {r!r} in namespace {ns!r} is stuck in {info.status} (revision {info.revision}): "
        "another helm operation is running or was interrupted.", hint=way_out + ".")

"""The release's day two through helm: rollback, history (with the rollout records), uninstall,
and vendoring the pinned chart."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vllmctl.core import rollout_history
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed
from vllmctl.workflows.connection import connect
from vllmctl.workflows.ports import KubeObjects


def rollback(settings: Settings, revision: int | None, *, wait: bool = False) -> int:
    ctx = connect(settings)
    s, helm = ctx.settings, ctx.helm
    current = helm.run(helm.latest(s.release, s.namespace))
    if current is None:
        raise InvalidInput(f"no release {s.release!r} in namespace {s.namespace!r}: nothing to roll back.")
    if revision is None and current.revision <= 1:
        raise InvalidInput(f"release {s.release!r} has only revision 1: there is nothing earlier to roll back to.")
    helm.run(helm.rollback(s.release, s.namespace, revision, timeout=s.helm_timeout, wait=wait))
    after = helm.run(helm.latest(s.release, s.namespace))
    return after.revision if after else 0


def history(settings: Settings) -> list[dict]:
    """helm's revisions, each with what vllmctl's rollout watch saw (core.rollout_history)."""
    ctx = connect(settings)
    s = ctx.settings
    rows = ctx.helm.run(ctx.helm.history(s.release, s.namespace))
    if not rows:
        raise InvalidInput(f"no release {s.release!r} in namespace {s.namespace!r}.")
    return rollout_history.annotated(rows, ctx.kube.read_rollouts(s.namespace, s.release))


@dataclass
class UninstallResult:
    release_removed: bool = False
    secrets_removed: list[str] = field(default_factory=list)
    claims_kept: list[str] = field(default_factory=list)
    claims_deleted: list[str] = field(default_factory=list)
    namespace_deleted: bool = False
    namespace_left: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def release_claims(kube: KubeObjects, settings: Settings) -> list[dict]:
    """The release's claims by helm's own ownership annotation (kept claims keep it after an
    uninstall); the chart labels them with nothing release-specific, and a name prefix would also
    match the claims of a release `<release>-b`."""
    return [p for p in kube.list_pvcs(settings.namespace)
            if (p["metadata"].get("annotations") or {}).get("meta.helm.sh/release-name") == settings.release]


def uninstall(settings: Settings, *, delete_data: bool,
              confirm_delete: Callable[[list[str]], bool] | None = None) -> UninstallResult:
    from vllmctl.core.secret_layout import LAYOUTS

    ctx = connect(settings)
    s, helm, kube = ctx.settings, ctx.helm, ctx.kube
    out = UninstallResult()
    current = None if kube.read_namespace(s.namespace) is None else helm.run(helm.latest(s.release, s.namespace))
    claims = release_claims(kube, s) if current is not None or kube.read_namespace(s.namespace) else []
    names = [c["metadata"]["name"] for c in claims]
    if delete_data and names and confirm_delete is not None and not confirm_delete(names):
        raise OperationFailed("uninstall cancelled: nothing was changed.")
    if current is not None:
        helm.run(helm.uninstall(s.release, s.namespace, timeout=s.helm_timeout))
        out.release_removed = True
    if kube.read_namespace(s.namespace) is None:
        return out
    kube.delete_rollouts(s.namespace, s.release)
    for layout in LAYOUTS:
        if ctx.secrets.delete_external_secret(s.namespace, layout.external_secret):
            out.secrets_removed.append(f"ExternalSecret/{layout.external_secret}")
        if ctx.secrets.delete_secret(s.namespace, layout.secret_name):
            out.secrets_removed.append(f"Secret/{layout.secret_name}")
    if delete_data:
        for name in names:
            kube.delete_pvc(s.namespace, name)
        out.claims_deleted = names
    else:
        out.claims_kept = names
    out.namespace_left = kube.leftovers(s.namespace)
    if not out.namespace_left:
        out.namespace_deleted = kube.delete_namespace(s.namespace)
    return out


def chart_pull(settings: Settings, vendor_dir: Path | None = None) -> Path:
    """Vendor the pinned chart (repo + version, or an oci:// VLLM_CHART) into charts/."""
    from vllmctl.adapters import chart_source
    from vllmctl.adapters.helm import Helm

    vendor_dir = vendor_dir or chart_source.VENDOR_DIR
    if settings.chart and not settings.chart.startswith("oci://"):
        raise InvalidInput(f"VLLM_CHART={settings.chart} is already a local chart: nothing to pull.")
    chart = chart_source.ChartRef(settings.chart or chart_source.CHART_NAME,
                                  None if settings.chart else settings.chart_repo,
                                  settings.chart_version, settings.chart_version, False)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    helm = Helm(None)
    helm.run(helm.pull(chart, vendor_dir))
    target = chart_source.vendored_path(settings.chart_version, vendor_dir)
    if not target.is_file():
        raise OperationFailed(f"helm pulled the chart but {target} is not there; check {vendor_dir}.")
    return target

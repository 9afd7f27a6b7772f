"""install / upgrade / diff / rollback / history / uninstall / preflight / chart pull.

install and upgrade: validate -> release state -> preflight -> namespace (PSA baseline) -> secrets
(workflows.secrets.prepare_secrets) -> render -> plan (no revision when nothing changes) ->
`helm upgrade --install` without --wait -> our own rollout watch (workflows.rollout), which stops
early when a pod is stuck and, with --atomic, rolls back (or uninstalls a first install).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vllmctl.adapters import chart_source, kube
from vllmctl.adapters.chart_source import ChartRef
from vllmctl.adapters.helm import Helm, ReleaseInfo
from vllmctl.core import plan as plan_core
from vllmctl.core import preflight as preflight_core
from vllmctl.core.duration import seconds
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed, RolloutFailed
from vllmctl.workflows import models as models_wf
from vllmctl.workflows.rollout import Target, watch


@dataclass
class DeployOptions:
    mode: str = "install"  # or "upgrade"
    atomic: bool = False
    wait: bool = True
    dry_run: bool = False
    skip_preflight: bool = False
    yes: bool = False
    # None: keep what the deployed release does (a first install: settings.api_key_enabled)
    api_key: bool | None = None
    prompt: Callable[[str], str] | None = None  # hidden prompt for a missing secret (TTY only)
    on_progress: Callable | None = None
    on_step: Callable[[str], None] | None = None


@dataclass
class DeployResult:
    release: str
    namespace: str
    chart: str
    models: list[str]
    changed: bool
    revision: int | None = None
    dry_run: bool = False
    plan: plan_core.Plan | None = None
    findings: list[preflight_core.Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    endpoint: str = ""

    def as_dict(self) -> dict:
        return {
            "release": self.release, "namespace": self.namespace, "chart": self.chart, "models": self.models,
            "changed": self.changed, "revision": self.revision, "dry_run": self.dry_run,
            "plan": self.plan.as_dict() if self.plan else None,
            "findings": [f.as_dict() for f in self.findings], "notes": self.notes, "warnings": self.warnings,
            "endpoint": self.endpoint,
        }


@dataclass
class Context:
    settings: Settings
    chart: ChartRef
    cluster: object
    helm: Helm


def _step(opts: DeployOptions, text: str) -> None:
    if opts.on_step:
        opts.on_step(text)


def connect(settings: Settings, chart: ChartRef | None = None) -> Context:
    from vllmctl.adapters.kube_client import connect as kube_connect

    chart = chart or chart_source.resolve(settings)
    settings = chart_source.settings_for(settings, chart)
    cluster = kube_connect(settings.kube_context)
    return Context(settings, chart, cluster, Helm(cluster))


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


def _deployed_models(values: dict) -> dict[str, tuple[int, int]]:
    specs = ((values or {}).get("servingEngineSpec") or {}).get("modelSpec") or []
    out = {}
    for spec in specs:
        if isinstance(spec, dict) and spec.get("name"):
            out[spec["name"]] = (int(spec.get("requestGPU") or 0), int(spec.get("replicaCount") or 0))
    return out


def check_facts(s: Settings, facts, models, deployed_values: dict | None) -> list[preflight_core.Finding]:
    import dataclasses

    facts = dataclasses.replace(facts, deployed=_deployed_models(deployed_values or {}))
    return preflight_core.check(models, facts, storage_class=s.storage_class, runtime_class=s.runtime_class,
                                update_strategy=s.update_strategy)


def preflight_failure(findings) -> OperationFailed | None:
    errors = preflight_core.errors_of(findings)
    if not errors:
        return None
    return OperationFailed("preflight: " + "; ".join(f.message for f in errors) + ".",
                           hint="Fix it, or pass --skip-preflight to deploy anyway.")


def _render(settings: Settings, hf_token_models, loaded: models_wf.LoadedModels):
    from vllmctl.workflows.render import render_models

    # render_models decides per model from hfTokenRequired, else this answer: the secrets step's
    gated = {m.modelURL: m.name in hf_token_models for m in loaded.models}
    _, rendered = render_models(settings, gated=gated, loaded=loaded)
    return rendered


async def _release_state(helm: Helm, s: Settings):
    """(newest revision, its values, its manifest): one helm history, then the two reads in parallel."""
    import asyncio

    current = await helm.latest(s.release, s.namespace)
    if current is None or current.pending or current.status == "uninstalled":
        return current, None, ""
    values, manifest = await asyncio.gather(helm.values(s.release, s.namespace),
                                            helm.manifest(s.release, s.namespace))
    return current, values, manifest


def deploy(settings: Settings, opts: DeployOptions) -> DeployResult:
    from concurrent.futures import ThreadPoolExecutor

    chart = chart_source.resolve(settings)
    settings = chart_source.settings_for(settings, chart)
    loaded = models_wf.load(settings)
    ctx = connect(settings, chart)
    s, helm = ctx.settings, ctx.helm
    enabled = [m for m in loaded.models if m.enabled]
    # warnings is loaded.warnings itself, so the engine-flag warnings rendering adds later show too
    result = DeployResult(s.release, s.namespace, chart.label, [m.name for m in enabled], changed=False,
                          dry_run=opts.dry_run, warnings=loaded.warnings, endpoint=endpoint_of(s))

    # The cluster facts (API server) and the release state (helm) are read at the same time.
    with ThreadPoolExecutor(1) as pool:
        facts = None if opts.skip_preflight else pool.submit(
            kube.cluster_facts, ctx.cluster, s.release, s.namespace)
        current, deployed_values, deployed_manifest = helm.run(_release_state(helm, s))
        facts = facts.result() if facts is not None else None
    if current is not None and current.pending:
        raise pending_error(current, s)
    if current is not None and current.status == "uninstalled":
        current = None
    if opts.mode == "upgrade" and current is None:
        raise InvalidInput(f"no release {s.release!r} in namespace {s.namespace!r} on {ctx.cluster.describe()}: "
                           "run `vllmctl install` first.")
    s = _with_api_key_choice(s, opts.api_key, deployed_values if current is not None else None)

    if facts is not None:
        _step(opts, "checking the cluster (preflight)")
        result.findings = check_facts(s, facts, enabled, deployed_values)
        failure = preflight_failure(result.findings)
        if failure:
            raise failure

    if opts.dry_run:
        rendered = _render(s, _offline_hf_models(loaded.models, deployed_values), loaded)
    else:
        _step(opts, f"namespace {s.namespace}")
        if kube.ensure_namespace(ctx.cluster, s.namespace):
            result.notes.append(f"created namespace {s.namespace} (Pod Security baseline)")
        _step(opts, "secrets")
        from vllmctl.workflows.secrets import prepare_secrets

        secrets = prepare_secrets(s, ctx.cluster, loaded.models, api_key=s.api_key_enabled, yes=opts.yes,
                                  prompt=opts.prompt)
        result.notes += secrets.notes
        result.warnings += secrets.warnings
        rendered = _render(s, secrets.hf_token_models, loaded)

    values = rendered.values
    if current is not None and current.status == "deployed" and plan_core.same_release(
            deployed_values, values, current.chart, chart.label):
        result.plan = plan_core.Plan()
        result.revision = current.revision
        return result
    if current is not None or opts.dry_run:  # a first install needs no plan: everything is new
        _step(opts, "rendering the chart")
        new_manifest = helm.run(helm.template(s.release, chart, values, s.namespace))
        result.plan = plan_core.plan(deployed_manifest, new_manifest)
        if result.plan.empty and current is not None and current.status == "deployed":
            result.revision = current.revision
            return result
    result.changed = True
    if opts.dry_run:
        return result

    timeout = s.helm_timeout
    _step(opts, f"helm upgrade --install {s.release} ({chart.describe()})")
    try:
        applied = helm.run(helm.upgrade_install(s.release, chart, values, s.namespace, timeout=timeout,
                                                description=f"vllmctl {opts.mode}"))
    except OperationFailed as e:
        if opts.atomic:
            undone = _undo(ctx, current)
            raise OperationFailed(f"{e.message} ({undone})") from None
        raise
    result.revision = int(applied.get("version") or 0) or None
    if not opts.wait:
        return result

    targets = [Target(m.name, engine_deployment(s.release, m.name)) for m in enabled]
    if s.router_enabled:
        targets.append(Target("router", router_deployment(s.release)))
    outcome = watch(ctx.cluster, s.namespace, targets, timeout_s=seconds(timeout),
                    stuck_after_s=seconds(s.stuck_after), on_progress=opts.on_progress)
    if not outcome.ok:
        reason = outcome.reason.rstrip(".")
        if opts.atomic:
            undone = _undo(ctx, current)
            raise RolloutFailed(f"rollout failed: {reason}; {undone}.")
        raise RolloutFailed(f"rollout failed: {reason}.",
                            hint=f"Fix it and upgrade again, or `vllmctl rollback` to revision "
                                 f"{current.revision}." if current else "Fix it and install again, or "
                                 "`vllmctl uninstall`.")
    return result


def _with_api_key_choice(s: Settings, asked: bool | None, deployed_values: dict | None) -> Settings:
    """--api-key/--no-api-key (or VLLM_API_KEY_ENABLED) when given; else what the deployed release
    does, so an upgrade never turns the key on or off unasked; else the settings' default."""
    import dataclasses

    if asked is None and deployed_values is not None:
        asked = bool((deployed_values.get("servingEngineSpec") or {}).get("vllmApiKey"))
    return s if asked is None else dataclasses.replace(s, api_key_enabled=asked)


def _offline_hf_models(models, deployed_values: dict | None) -> frozenset[str]:
    """Which models get the token reference, without asking the Hub or touching secrets (dry run,
    diff): what the deployed release decided for a model, else models.yaml / the offline guess."""
    from vllmctl.core.hf_policy import needs_hf_token

    specs = ((deployed_values or {}).get("servingEngineSpec") or {}).get("modelSpec") or []
    deployed = {spec.get("name"): bool(spec.get("hf_token")) for spec in specs if isinstance(spec, dict)}
    return frozenset(
        m.name for m in models
        if (needs_hf_token(m)[0] if m.hfTokenRequired is not None or m.name not in deployed else deployed[m.name])
    )


def _undo(ctx: Context, previous: ReleaseInfo | None) -> str:
    """--atomic: back to the revision before this command, or no release when this was the first."""
    s, helm = ctx.settings, ctx.helm
    if previous is None:
        helm.run(helm.uninstall(s.release, s.namespace))
        return "the release was uninstalled (--atomic); the model cache volumes were kept"
    helm.run(helm.rollback(s.release, s.namespace, previous.revision))
    return f"rolled back to revision {previous.revision} (--atomic)"


# ---------------------------------------------------------------------- diff
def diff(settings: Settings, api_key: bool | None = None) -> DeployResult:
    return deploy(settings, DeployOptions(mode="diff", dry_run=True, skip_preflight=True, api_key=api_key))


# ---------------------------------------------------------------------- preflight
def preflight(settings: Settings) -> list[preflight_core.Finding]:
    chart = chart_source.resolve(settings)
    settings = chart_source.settings_for(settings, chart)
    loaded = models_wf.load(settings)
    ctx = connect(settings)
    s = ctx.settings
    current = ctx.helm.run(ctx.helm.latest(s.release, s.namespace))
    values = ctx.helm.run(ctx.helm.values(s.release, s.namespace)) if current and not current.pending else None
    facts = kube.cluster_facts(ctx.cluster, s.release, s.namespace)
    return check_facts(s, facts, [m for m in loaded.models if m.enabled], values)


# ---------------------------------------------------------------------- rollback / history
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
    ctx = connect(settings)
    s = ctx.settings
    rows = ctx.helm.run(ctx.helm.history(s.release, s.namespace))
    if not rows:
        raise InvalidInput(f"no release {s.release!r} in namespace {s.namespace!r}.")
    return rows


# ---------------------------------------------------------------------- uninstall
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


def release_claims(cluster, settings: Settings) -> list[dict]:
    return [p for p in kube.list_pvcs(cluster, settings.namespace)
            if (p["metadata"].get("labels") or {}).get("helm-release-name") == settings.release
            or p["metadata"]["name"].startswith(f"{settings.release}-") and p["metadata"]["name"].endswith(
                "-storage-claim")]


def uninstall(settings: Settings, *, delete_data: bool,
              confirm_delete: Callable[[list[str]], bool] | None = None) -> UninstallResult:
    from vllmctl.adapters import kube_secrets
    from vllmctl.core.secret_layout import LAYOUTS

    ctx = connect(settings)
    s, helm, cluster = ctx.settings, ctx.helm, ctx.cluster
    out = UninstallResult()
    if kube.read_namespace(cluster, s.namespace) is None:
        current = None
    else:
        current = helm.run(helm.latest(s.release, s.namespace))
    claims = release_claims(cluster, s) if current is not None or kube.read_namespace(cluster, s.namespace) else []
    names = [c["metadata"]["name"] for c in claims]
    if delete_data and names and confirm_delete is not None and not confirm_delete(names):
        raise OperationFailed("uninstall cancelled: nothing was changed.")
    if current is not None:
        helm.run(helm.uninstall(s.release, s.namespace, timeout=s.helm_timeout))
        out.release_removed = True
    if kube.read_namespace(cluster, s.namespace) is None:
        return out
    for layout in LAYOUTS:
        if kube_secrets.delete_external_secret(cluster, s.namespace, layout.external_secret):
            out.secrets_removed.append(f"ExternalSecret/{layout.external_secret}")
        if kube_secrets.delete_secret(cluster, s.namespace, layout.secret_name):
            out.secrets_removed.append(f"Secret/{layout.secret_name}")
    if delete_data:
        for name in names:
            kube.delete_pvc(cluster, s.namespace, name)
        out.claims_deleted = names
    else:
        out.claims_kept = names
    out.namespace_left = kube.leftovers(cluster, s.namespace)
    if not out.namespace_left:
        out.namespace_deleted = kube.delete_namespace(cluster, s.namespace)
    return out


# ---------------------------------------------------------------------- chart pull
def chart_pull(settings: Settings, vendor_dir: Path = chart_source.VENDOR_DIR) -> Path:
    """Vendor the pinned chart (repo + version, or an oci:// VLLM_CHART) into charts/."""
    if settings.chart and not settings.chart.startswith("oci://"):
        raise InvalidInput(f"VLLM_CHART={settings.chart} is already a local chart: nothing to pull.")
    chart = ChartRef(settings.chart or chart_source.CHART_NAME, None if settings.chart else settings.chart_repo,
                     settings.chart_version, settings.chart_version, False)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    helm = Helm(None)
    helm.run(helm.pull(chart, vendor_dir))
    target = chart_source.vendored_path(settings.chart_version, vendor_dir)
    if not target.is_file():
        raise OperationFailed(f"helm pulled the chart but {target} is not there; check {vendor_dir}.")
    return target

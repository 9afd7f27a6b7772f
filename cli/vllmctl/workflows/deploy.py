"""install / upgrade / diff / rollback / history / uninstall / preflight / chart pull.

install and upgrade: validate -> release state -> preflight -> namespace (PSA baseline) -> secrets
(workflows.secrets.prepare_secrets) -> render -> plan (no revision when nothing changes) ->
`helm upgrade --install` without --wait -> our own rollout watch (workflows.rollout), which stops
early when a pod is stuck and, with --atomic, rolls back (or uninstalls a first install).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vllmctl.core import chart_move, lora
from vllmctl.core import plan as plan_core
from vllmctl.core import preflight as preflight_core
from vllmctl.core.duration import seconds
from vllmctl.core.release import ReleaseInfo
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput, OperationFailed, RolloutFailed, VllmctlError
from vllmctl.workflows import models as models_wf
from vllmctl.workflows import release_state
from vllmctl.workflows.connection import (
    Context,
    connect,
    endpoint_of,
    engine_deployment,
    pending_error,
    router_deployment,
)
from vllmctl.workflows.rollout import Target, watch

if TYPE_CHECKING:
    from concurrent.futures import Future

    from vllmctl.adapters.chart_source import ChartRef


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
    recreate: bool = False  # delete and recreate the objects the API server refuses to patch
    confirm: Callable[[str], bool] | None = None  # asks (TTY) or answers --yes; raises without either
    # None: keep what the deployed release does (a first install: settings.update_strategy)
    update_strategy: str | None = None
    on_findings: Callable[[list], None] | None = None  # preflight's warnings, shown before the wait


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
    conflicts: list[chart_move.Conflict] = field(default_factory=list)
    default_changes: list[chart_move.DefaultChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    endpoint: str = ""

    def as_dict(self) -> dict:
        return {
            "release": self.release, "namespace": self.namespace, "chart": self.chart, "models": self.models,
            "changed": self.changed, "revision": self.revision, "dry_run": self.dry_run,
            "plan": self.plan.as_dict() if self.plan else None,
            "findings": [f.as_dict() for f in self.findings], "notes": self.notes, "warnings": self.warnings,
            "conflicts": [c.as_dict() for c in self.conflicts],
            "defaultChanges": [c.as_dict() for c in self.default_changes],
            "endpoint": self.endpoint,
        }


def _step(opts: DeployOptions, text: str) -> None:
    if opts.on_step:
        opts.on_step(text)


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
    from vllmctl.core import shared_cache

    return preflight_core.check(models, facts, storage_class=s.storage_class, runtime_class=s.runtime_class,
                                update_strategy=s.update_strategy,
                                required=required_apis(s, models, installed=deployed_values is not None),
                                shared=shared_cache.of(s)) + [
        preflight_core.Finding(preflight_core.ERROR, "cluster-object-owner", message)
        for message in lora.owner_problems(s.release, s.namespace, facts.owners)]


def required_apis(s: Settings, models, *, installed: bool = True) -> list[preflight_core.RequiredApi]:
    from vllmctl.core.exposure import route_api_version

    return preflight_core.required_apis(route_api_version(s), autoscaled=any(m.autoscaling for m in models),
                                        monitoring=s.monitoring, lora=installed and lora.uses_adapters(models),
                                        ray=any(m.multiNode and m.enabled for m in models))


def facts_of(ctx: Context, models):
    """The cluster facts preflight needs, the custom APIs the release uses included."""
    s = ctx.settings
    owned = tuple(lora.cluster_scoped(s.release)) if lora.uses_adapters(models) else ()
    return ctx.kube.cluster_facts(s.release, s.namespace, tuple(api.group_version for api in required_apis(s, models)),
                                  owned, preflight_core.gpu_resources(models))


def preflight_failure(findings) -> OperationFailed | None:
    errors = preflight_core.errors_of(findings)
    if not errors:
        return None
    return OperationFailed("preflight: " + "; ".join(f.message for f in errors) + ".",
                           hint="Fix it, or pass --skip-preflight to deploy anyway.")


@dataclass
class _Renders:
    """vllmctl's renderings of the models: the same settings and token answers (the offline guess
    and the secrets step agree, as on every no-op upgrade) reuse one rendering."""

    loaded: models_wf.LoadedModels
    last: tuple | None = None  # ((settings, token answers), the rendering)

    def of(self, s: Settings, hf_token_models):
        from vllmctl.workflows.render import render_models

        key = (s, frozenset(hf_token_models))
        if self.last and self.last[0] == key:
            return self.last[1]
        loaded = self.loaded
        # render_models decides per model from hfTokenRequired, else this answer: the secrets step's
        gated = {m.modelURL: m.name in hf_token_models for m in loaded.models}
        _, rendered = render_models(s, gated=gated, loaded=loaded)
        # a second rendering (offline for the move check, then with the secrets' answers) adds the
        # same engine-flag warnings again
        loaded.warnings[:] = list(dict.fromkeys(loaded.warnings))
        self.last = (key, rendered)
        return rendered


def _render(run: _Run, hf_token_models):
    return run.renders.of(run.s, hf_token_models)


@dataclass
class _Run:
    """One install/upgrade/diff as the steps below see it: what was read, what this run did."""

    opts: DeployOptions
    ctx: Context
    loaded: models_wf.LoadedModels
    result: DeployResult
    current: ReleaseInfo | None = None
    deployed_values: dict | None = None
    deployed_manifest: str = ""
    facts: object = None
    rendered: tuple[dict, str] | None = None  # values the move check templated, and their manifest
    renders: _Renders = field(init=False)
    ahead: tuple[dict, Future] | None = None  # values, and their `helm template` started early: see _start
    manifest: str = ""
    confirmed: frozenset[str] = frozenset()  # objects --recreate was allowed to delete
    created_namespace: bool = False
    secrets_before: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.renders = _Renders(self.loaded)

    @property
    def s(self) -> Settings:
        return self.ctx.settings

    @property
    def enabled(self) -> list:
        return [m for m in self.loaded.models if m.enabled]

    def step(self, text: str) -> None:
        _step(self.opts, text)


def deploy(settings: Settings, opts: DeployOptions, ctx: Context | None = None,
           reading: release_state.Reading | None = None) -> DeployResult:
    """validate -> release state -> preflight -> chart-move check -> namespace + secrets -> render
    -> plan (no revision when nothing changes) -> recreate (--recreate) -> helm -> rollout watch.
    `ctx`: a chart, helm and cluster already at hand (the in-process tests' fakes) instead of the
    settings' real ones; every step after the start is the same. `reading`: helm already reading
    the settings' release (release_state.start), else it starts here."""
    run = _start(settings, opts, reading) if ctx is None else _start_on(ctx, opts)
    _check_release(run)
    _preflight(run)
    _check_move(run)  # before anything is written: a refused move changes nothing
    _check_chart(run)  # likewise: what the chart would deploy, checked against what each model needs
    values = _offline_values(run) if opts.dry_run else _prepare_cluster(run)
    if _same_values(run, values):
        return _unchanged(run)
    if run.current is not None or opts.dry_run:  # a first install needs no plan: everything is new
        run.manifest = _render_chart(run, values)
        if _nothing_to_change(run):
            return _unchanged(run)
    run.result.changed = True
    if opts.dry_run:
        return run.result
    _recreate(run)
    _apply(run, values)
    if opts.wait:
        _watch(run)
    return run.result


def _start(settings: Settings, opts: DeployOptions, reading: release_state.Reading | None) -> _Run:
    """The chart, the models, the release state, the connection, the cluster facts. helm works on
    the other core meanwhile: it reads the release while this one loads the models and compiles
    the templates, then renders the chart for the offline values (which the chart check needs)
    while this one imports the kubernetes client."""
    from vllmctl.adapters import chart_source
    from vllmctl.core import render as render_core

    reading = reading or release_state.start(settings)
    try:
        chart = chart_source.resolve(settings)
        settings = chart_source.settings_for(settings, chart)
        renders = _Renders(models_wf.load(settings))
        render_core.warm()  # while helm reads the release
        current, deployed_values, deployed_manifest = _state_or_connection_error(reading.state, settings, chart)
        ahead = _template_ahead(reading, chart, opts, renders, current, deployed_values, settings)
        run = _begin(opts, connect(settings, chart), renders.loaded)
    finally:
        reading.pool.shutdown(wait=False)  # the early `helm template` goes on; its result is read when needed
    run.current, run.deployed_values, run.deployed_manifest = current, deployed_values, deployed_manifest
    run.renders, run.ahead = renders, ahead
    return run


def _state_or_connection_error(state, settings: Settings, chart: ChartRef):
    """The release state; where helm could not read it, the connection's own error comes first
    (it names the server and the context, or what is wrong with the kubeconfig), else helm's."""
    try:
        return state.result()
    except VllmctlError:
        connect(settings, chart)
        raise


def _template_ahead(reading: release_state.Reading, chart: ChartRef, opts: DeployOptions, renders: _Renders,
                    current: ReleaseInfo | None, deployed_values: dict | None, s: Settings):
    """The offline values and their `helm template`, started in the pool; None where no step will
    template them (a release to wait for or to create first, or already made from these values)."""
    if (current is None and opts.mode == "upgrade") or (current is not None and current.pending):
        return None
    s = _chosen(s, opts, deployed_values)
    values = renders.of(s, _offline_hf_models(renders.loaded.models, deployed_values)).values
    if _made_from(current, deployed_values, values, chart.label):
        return None
    helm = reading.helm
    return values, reading.pool.submit(helm.run, helm.template(s.release, chart, values, s.namespace))


def _start_on(ctx: Context, opts: DeployOptions) -> _Run:
    """_start with the context given: the models, then the cluster facts and the release state in turn."""
    run = _begin(opts, ctx, models_wf.load(ctx.settings))
    s = ctx.settings
    run.current, run.deployed_values, run.deployed_manifest = ctx.helm.run(release_state.read(ctx.helm, s.release,
                                                                                              s.namespace))
    return run


def _begin(opts: DeployOptions, ctx: Context, loaded: models_wf.LoadedModels) -> _Run:
    """The run's result so far, and the cluster facts preflight checks."""
    s = ctx.settings
    names = [m.name for m in loaded.models if m.enabled]
    # warnings is loaded.warnings itself, so the engine-flag warnings rendering adds later show too
    result = DeployResult(s.release, s.namespace, ctx.chart.label, names, changed=False, dry_run=opts.dry_run,
                          warnings=loaded.warnings, endpoint=endpoint_of(s),
                          notes=[f"values overlay: {path}" for path in loaded.overlay.names])
    run = _Run(opts, ctx, loaded, result)
    run.facts = None if opts.skip_preflight else facts_of(ctx, run.enabled)
    return run


def _check_release(run: _Run) -> None:
    """A release stuck in a pending state stops everything; an uninstalled one counts as none."""
    s, current = run.s, run.current
    if current is not None and current.pending:
        raise pending_error(current, s)
    if current is not None and current.status == "uninstalled":
        run.current = current = None
    if run.opts.mode == "upgrade" and current is None:
        raise InvalidInput(f"no release {s.release!r} in namespace {s.namespace!r} on {run.ctx.kube.describe()}: "
                           "run `vllmctl install` first.")
    run.ctx.settings = _chosen(s, run.opts, run.deployed_values if current else None)


def _chosen(s: Settings, opts: DeployOptions, deployed_values: dict | None) -> Settings:
    """The settings with the API key and update strategy the command, else the deployed release, decides."""
    return _with_strategy_choice(_with_api_key_choice(s, opts.api_key, deployed_values), opts.update_strategy,
                                 deployed_values)


def _preflight(run: _Run) -> None:
    if run.facts is None:
        return
    run.step("checking the cluster (preflight)")
    run.result.findings = check_facts(run.s, run.facts, run.enabled, run.deployed_values)
    if run.opts.on_findings:
        run.opts.on_findings(run.result.findings)
    failure = preflight_failure(run.result.findings)
    if failure:
        raise failure


def _offline_values(run: _Run) -> dict:
    """The values without touching secrets or the Hub (dry run, diff, the move check)."""
    return _render(run, _offline_hf_models(run.loaded.models, run.deployed_values)).values


def _check_move(run: _Run) -> None:
    """Across chart versions: render the new manifest before anything is written and compare it
    with the deployed one for fields the API server refuses to patch; in a dry run, also the chart
    defaults that change underneath vllmctl's values. (Within one chart version the same check
    runs on the plan, before helm: a no-op upgrade then renders only once.)"""
    current = run.current
    if current is None or current.chart == run.ctx.chart.label:
        return
    values = _offline_values(run)
    run.rendered = (values, _render_chart(run, values))
    _refuse_or_confirm(run, run.rendered[1])
    if run.opts.dry_run:
        run.result.default_changes = _default_changes(run, values)


def _check_chart(run: _Run) -> None:
    """The chart check (workflows.chart_check) on the offline values' manifest, which the plan reuses."""
    from vllmctl.workflows import chart_check

    rendered = _render(run, _offline_hf_models(run.loaded.models, run.deployed_values))
    if _same_values(run, rendered.values):
        return  # nothing will be applied (the release guard below returns), so nothing to check
    if run.rendered is None or run.rendered[0] != rendered.values:
        run.rendered = (rendered.values, _render_chart(run, rendered.values))
    checked = chart_check.check(rendered, run.loaded.document, run.ctx.chart, manifest=run.rendered[1],
                                claims=chart_check.cluster_claims(run.ctx.kube, run.s.namespace), helm=run.ctx.helm)
    run.result.warnings.extend(checked.warnings)


def _refuse_or_confirm(run: _Run, manifest: str) -> None:
    """Objects the API server would refuse to change: a dry run lists them; an upgrade stops (exit 1,
    nothing changed) unless --recreate, which asks first (TTY) or needs --yes."""
    found = chart_move.conflicts(run.deployed_manifest, manifest)
    run.result.conflicts = found
    labels = frozenset(c.label for c in found)
    s, current = run.s, run.current
    if not found or current is None or run.opts.dry_run or labels <= run.confirmed:  # conflicts need a release
        return
    what = (f"release {s.release!r} cannot be upgraded in place ({current.chart} -> {run.ctx.chart.label}): "
            f"the API server refuses to change {chart_move.summary(found)}; nothing was changed.")
    kept = [c.label for c in found if not c.recreatable]
    if kept:
        raise OperationFailed(what, hint=f"--recreate never deletes {', '.join(sorted(set(kept)))} (model caches "
                              "and keys): change models.yaml back, or move the data by hand.")
    if not run.opts.recreate:
        raise OperationFailed(what, hint=f"`vllmctl {run.opts.mode} --recreate` deletes and recreates exactly these "
                              "objects (PVCs, Secrets and the other objects are kept); or stay on "
                              f"VLLM_CHART_VERSION={current.chart.removeprefix('vllm-stack-')}.")
    question = (f"Delete and recreate {', '.join(sorted(labels))}? Their pods stop until the new ones are "
                "ready; PVCs and Secrets are kept")
    if run.opts.confirm is None or not run.opts.confirm(question):
        raise OperationFailed("--recreate cancelled: nothing was changed.")
    run.confirmed = labels


def _default_changes(run: _Run, values: dict) -> list[chart_move.DefaultChange]:
    import asyncio

    import yaml

    s, helm = run.s, run.ctx.helm

    async def both():
        return await asyncio.gather(helm.values(s.release, s.namespace, computed=True),
                                    helm.default_values(run.ctx.chart))

    computed, defaults = helm.run(both())
    return chart_move.default_changes(computed, yaml.safe_load(defaults) or {}, values)


def _recreate(run: _Run) -> None:
    """--recreate: delete the confirmed objects (their pods go in the background); helm then
    creates them anew from the new chart. Nothing else is touched."""
    for conflict in run.result.conflicts:
        if conflict.label in run.confirmed:
            run.step(f"deleting {conflict.label} (--recreate)")
            if run.ctx.kube.delete_and_wait(run.s.namespace, conflict.kind, conflict.name):
                run.result.notes.append(f"recreated {conflict.label} ({conflict.field} changed)")
            run.confirmed -= {conflict.label}


def _prepare_cluster(run: _Run) -> dict:
    """The namespace (Pod Security baseline) and the secrets, then the values that point at them."""
    from vllmctl.workflows.secrets import prepare_secrets

    s, result = run.s, run.result
    run.step(f"namespace {s.namespace}")
    if run.current is None and run.ctx.kube.read_namespace(s.namespace) is not None:
        run.secrets_before = _secrets_present(run.ctx)  # what an --atomic undo of a first install keeps
    if run.ctx.kube.ensure_namespace(s.namespace, s.pod_security):
        run.created_namespace = True
        result.notes.append(f"created namespace {s.namespace} (Pod Security {s.pod_security})")
    run.step("secrets")
    secrets = prepare_secrets(s, run.ctx.secrets, run.loaded.models, api_key=s.api_key_enabled, yes=run.opts.yes,
                              prompt=run.opts.prompt)
    result.notes += secrets.notes
    result.warnings += secrets.warnings
    return _render(run, secrets.hf_token_models).values


def _same_values(run: _Run, values: dict) -> bool:
    """First guard: the deployed revision was made from exactly these values and this chart."""
    return _made_from(run.current, run.deployed_values, values, run.ctx.chart.label)


def _made_from(current: ReleaseInfo | None, deployed_values: dict | None, values: dict, chart_label: str) -> bool:
    return current is not None and current.status == "deployed" and plan_core.same_release(
        deployed_values, values, current.chart, chart_label)


def _unchanged(run: _Run) -> DeployResult:
    assert run.current is not None, "both no-change guards need a deployed release"
    run.result.plan = run.result.plan or plan_core.Plan()
    run.result.revision = run.current.revision
    return run.result


def _nothing_to_change(run: _Run) -> bool:
    """Second guard: the values differ but the manifest is the same (e.g. a key the chart ignores)."""
    run.result.plan = plan_core.plan(run.deployed_manifest, run.manifest)
    _refuse_or_confirm(run, run.manifest)
    return run.result.plan.empty and run.current is not None and run.current.status == "deployed"


def _render_chart(run: _Run, values: dict) -> str:
    """`helm template` of these values (the chart-move check's manifest when it rendered the same)."""
    if run.rendered is not None and run.rendered[0] == values:
        return run.rendered[1]
    if run.ahead is not None and run.ahead[0] == values:
        return run.ahead[1].result()
    run.step("rendering the chart")
    helm = run.ctx.helm
    return helm.run(helm.template(run.s.release, run.ctx.chart, values, run.s.namespace))


def _apply(run: _Run, values: dict) -> None:
    """`helm upgrade --install` (values on stdin, no --wait: the rollout watch follows)."""
    s, helm, chart = run.s, run.ctx.helm, run.ctx.chart
    run.step(f"helm upgrade --install {s.release} ({chart.describe()})")
    try:
        applied = helm.run(helm.upgrade_install(s.release, chart, values, s.namespace, timeout=s.helm_timeout,
                                                description=f"vllmctl {run.opts.mode}",
                                                post_render=not plan_core.claims_kept(values, s.chart_version)))
    except OperationFailed as e:
        if run.opts.atomic:
            raise OperationFailed(f"{e.message.rstrip('.')}; {_undo(run)}.") from None
        raise
    run.result.revision = int(applied.get("version") or 0) or None


def _watch(run: _Run) -> None:
    """Our own rollout watch: stops early when a pod is stuck; --atomic undoes the release."""
    s, current = run.s, run.current
    from vllmctl.core.multinode import cluster_name

    targets = [Target(m.name, cluster_name(s.release, m.name), m.multiNode.nodes) if m.multiNode else
               Target(m.name, engine_deployment(s.release, m.name)) for m in run.enabled]
    if s.router_enabled:
        targets.append(Target("router", router_deployment(s.release)))
    if lora.uses_adapters(run.enabled):
        targets.append(Target("lora-controller", f"{s.release}-lora-controller"))
    outcome = watch(run.ctx.kube, s.namespace, targets, timeout_s=seconds(s.helm_timeout),
                    stuck_after_s=seconds(s.stuck_after), on_progress=run.opts.on_progress)
    reason = outcome.reason.rstrip(".")
    if current is not None or not run.opts.atomic:  # an undone first install leaves no release to annotate
        _record_rollout(run, outcome.ok, reason)
    if outcome.ok:
        return
    surge = _surge_hint(run, reason)
    if run.opts.atomic:
        raise RolloutFailed(f"rollout failed: {reason}; {_undo(run)}.", hint=surge)
    fix = (f"Fix it and upgrade again, or `vllmctl rollback` to revision {current.revision}."
           if current else "Fix it and install again, or `vllmctl uninstall`.")
    raise RolloutFailed(f"rollout failed: {reason}.", hint=f"{surge} {fix}" if surge else fix)


def _record_rollout(run: _Run, ok: bool, reason: str) -> None:
    """The watch's verdict on this revision, beside helm's history (core.rollout_history). A record
    that cannot be written costs only that line of `history`, never the command's own outcome."""
    import datetime as dt

    from vllmctl.core import rollout_history

    s, kube, revision = run.s, run.ctx.kube, run.result.revision
    if revision is None:
        return
    outcome = rollout_history.READY if ok else rollout_history.FAILED
    try:
        records = rollout_history.recorded(kube.read_rollouts(s.namespace, s.release), revision, outcome, reason,
                                           dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        kube.write_rollouts(s.namespace, s.release, records)
    except VllmctlError as e:
        run.result.warnings.append(f"`vllmctl history` will not show how revision {revision} rolled out: {e.message}")


def _surge_hint(run: _Run, reason: str) -> str | None:
    """Pods short of GPUs during a rolling update: the way out is Recreate (preflight's warning again)."""
    from vllmctl.core.gpu_types import short_of_gpus

    if not short_of_gpus(reason) or run.s.update_strategy != "RollingUpdate" or run.current is None:
        return None
    warned = next((f.message for f in run.result.findings if f.rule == "gpu-surge"), None)
    return (f"Preflight warned: {warned}." if warned else
            "A rolling update starts new pods before the old ones stop, so it needs spare GPUs: upgrade with "
            "--update-strategy Recreate (VLLM_UPDATE_STRATEGY=Recreate) to stop old pods first.")


def _with_api_key_choice(s: Settings, asked: bool | None, deployed_values: dict | None) -> Settings:
    """--api-key/--no-api-key (or VLLM_API_KEY_ENABLED) when given; else what the deployed release
    does, so an upgrade never turns the key on or off unasked; else the settings' default."""
    import dataclasses

    if asked is None and deployed_values is not None:
        asked = bool((deployed_values.get("servingEngineSpec") or {}).get("vllmApiKey"))
    return s if asked is None else dataclasses.replace(s, api_key_enabled=asked)


def _with_strategy_choice(s: Settings, asked: str | None, deployed_values: dict | None) -> Settings:
    """--update-strategy (or VLLM_UPDATE_STRATEGY) when given; else what the deployed release does, so
    a Recreate stays in force for later diff and upgrade; else the settings' default."""
    import dataclasses

    if asked is None and deployed_values is not None:
        strategy = ((deployed_values.get("servingEngineSpec") or {}).get("strategy") or {}).get("type")
        asked = "Recreate" if strategy == "Recreate" else "RollingUpdate"
    return s if asked is None else dataclasses.replace(s, update_strategy=asked)


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


def _secrets_present(ctx: Context) -> frozenset[str]:
    """Which of vllmctl's Secrets and ExternalSecrets already exist in the (existing) namespace."""
    from vllmctl.core.secret_layout import LAYOUTS

    s = ctx.settings
    present = {f"Secret/{n}" for n in ctx.kube.secret_names(s.namespace)}
    if ctx.secrets.external_secret_api_served():
        present |= {f"ExternalSecret/{layout.external_secret}" for layout in LAYOUTS
                    if ctx.secrets.read_external_secret(s.namespace, layout.external_secret)}
    return frozenset(present)


def _undo(run: _Run) -> str:
    """--atomic: back to the revision before this command; after a failed first install, remove
    what this run created (the release if helm made one, the namespace if this run created it,
    else the Secrets/ExternalSecrets it created). Says what was done; a failing step is reported,
    never raised, so the caller's error (helm's own) stays the one the user reads."""
    s, helm = run.s, run.ctx.helm
    try:
        if run.current is not None:
            helm.run(helm.rollback(s.release, s.namespace, run.current.revision))
            return f"rolled back to revision {run.current.revision} (--atomic)"
        done = []
        if helm.run(helm.latest(s.release, s.namespace)) is not None:
            helm.run(helm.uninstall(s.release, s.namespace))
            done.append("the release was uninstalled")
        if run.created_namespace:
            run.ctx.kube.delete_namespace(s.namespace)
            done.append(f"namespace {s.namespace} (created by this run) was deleted")
        else:
            done += _delete_new_secrets(run)
            if done and done[0] == "the release was uninstalled":
                done.append("the model cache volumes were kept")
        done = done or ["nothing was left to remove"]
        return "; ".join([f"{done[0]} (--atomic)", *done[1:]])
    except VllmctlError as e:
        return f"--atomic could not undo it: {e.message}"


def _delete_new_secrets(run: _Run) -> list[str]:
    from vllmctl.core.secret_layout import LAYOUTS

    secrets, ns, deleted = run.ctx.secrets, run.s.namespace, []
    for layout in LAYOUTS:
        if f"ExternalSecret/{layout.external_secret}" not in run.secrets_before and \
                secrets.external_secret_api_served() and \
                secrets.delete_external_secret(ns, layout.external_secret):
            deleted.append(f"ExternalSecret/{layout.external_secret}")
        if f"Secret/{layout.secret_name}" not in run.secrets_before and \
                secrets.delete_secret(ns, layout.secret_name):
            deleted.append(f"Secret/{layout.secret_name}")
    return [f"deleted {', '.join(deleted)} (created by this run)"] if deleted else []


# ---------------------------------------------------------------------- diff
def diff(settings: Settings, api_key: bool | None = None, update_strategy: str | None = None) -> DeployResult:
    return deploy(settings, DeployOptions(mode="diff", dry_run=True, skip_preflight=True, api_key=api_key,
                                          update_strategy=update_strategy))


# ---------------------------------------------------------------------- preflight
def preflight(settings: Settings, update_strategy: str | None = None) -> list[preflight_core.Finding]:
    from vllmctl.adapters import chart_source

    chart = chart_source.resolve(settings)
    settings = chart_source.settings_for(settings, chart)
    loaded = models_wf.load(settings)
    ctx = connect(settings, chart)
    s = ctx.settings
    current = ctx.helm.run(ctx.helm.latest(s.release, s.namespace))
    values = ctx.helm.run(ctx.helm.values(s.release, s.namespace)) if current and not current.pending else None
    s = _with_strategy_choice(s, update_strategy, values)
    enabled = [m for m in loaded.models if m.enabled]
    findings = check_facts(s, facts_of(ctx, enabled), enabled, values)
    from vllmctl.workflows import fit as fit_wf  # model facts: the cache, else the Hub

    return findings + fit_wf.for_preflight(s, loaded, ctx.kube.node_labels())

"""install, upgrade, uninstall, diff, rollback, history, preflight, chart pull."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import confirm, hidden_prompt, interactive
from vllmctl.commands.options import (
    ApiKeyOpt,
    ChartOpt,
    ChartVersionOpt,
    ContextOpt,
    ModelsFileOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    TimeoutOpt,
    UrlOpt,
    YesOpt,
    settings_from,
)
from vllmctl.errors import NO_CHANGES

AtomicOpt = Annotated[
    bool | None,
    typer.Option("--atomic/--no-atomic",
                 help="roll back (or uninstall a first install) when the rollout fails [default: on without a TTY]"),
]
WaitOpt = Annotated[bool, typer.Option("--wait/--no-wait", help="wait for the pods to become ready")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="read the cluster, show what would change, write nothing")]
SkipPreflightOpt = Annotated[bool, typer.Option("--skip-preflight", help="do not check GPUs, storage, runtime class")]
StuckAfterOpt = Annotated[
    str | None,
    typer.Option("--stuck-after", envvar="VLLM_STUCK_AFTER",
                 help="stop waiting when a pod stays unschedulable / cannot pull its image this long [default: 2m]"),
]
StrategyOpt = Annotated[
    str | None,
    typer.Option("--update-strategy", envvar="VLLM_UPDATE_STRATEGY",
                 help="RollingUpdate or Recreate (needs no spare GPUs) [default: the deployed release's, "
                 "else RollingUpdate]"),
]
DetailedOpt = Annotated[
    bool, typer.Option("--detailed-exit-code", help="exit 5 when there was nothing to change")
]
RecreateOpt = Annotated[
    bool, typer.Option("--recreate", help="delete and recreate the objects the API server refuses to change "
                       "(e.g. selectors across chart versions); PVCs and Secrets are kept; asks first (--yes in CI)")
]
SmokeOpt = Annotated[
    bool, typer.Option("--smoke", help="then check every model answers through the router (as `vllmctl smoke`)")
]


class Progress:
    """Rollout progress on stderr: a live table on a TTY, otherwise a line per change."""

    def __init__(self) -> None:
        self.live: console.LiveText | None = None
        self.last: dict[str, str] = {}
        self.tty = sys.stderr.isatty()

    def __call__(self, rows) -> None:
        if self.tty:
            text = "\n".join(r.line() for r in rows)
            if self.live is None:
                self.live = console.live(lambda: text)
                self.live.start()
            self.live.update(text)
            return
        for row in rows:
            line = row.line()
            if self.last.get(row.model) != line:
                self.last[row.model] = line
                console.info(line)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _print_findings(findings) -> None:
    for f in findings:
        if f.severity == "warning":
            console.warn(f"preflight: {f.message}")


def _run_deploy(mode: str, *, models_file, namespace, release, chart_version, chart, context, timeout, atomic,
                wait, dry_run, skip_preflight, stuck_after, update_strategy, api_key, detailed_exit_code, smoke,
                url, yes, output, recreate=False) -> int:
    from vllmctl.workflows import release_state

    settings = settings_from(models_file=models_file, namespace=namespace, release=release,
                             chart_version=chart_version, chart=chart, kube_context=context, helm_timeout=timeout,
                             stuck_after=stuck_after, update_strategy=update_strategy, url=url)
    if api_key is None and mode == "install" and not dry_run and interactive(yes):
        api_key = typer.confirm("Protect the endpoint with an API key (kept in Vault / the vllm-api-key Secret)?",
                                default=True, err=True)
    reading = release_state.start(settings)  # before the workflow's own imports: see release_state
    from vllmctl.workflows import deploy as wf

    progress = Progress() if output is Output.text else None
    opts = wf.DeployOptions(
        mode=mode, atomic=atomic if atomic is not None else not interactive(yes), wait=wait, dry_run=dry_run,
        skip_preflight=skip_preflight, yes=yes, api_key=api_key, prompt=hidden_prompt(yes), on_progress=progress,
        on_step=(lambda text: console.info(f"→ {text}")) if output is Output.text else None,
        recreate=recreate, confirm=lambda question: confirm(question, yes=yes), update_strategy=update_strategy,
        # before the wait, so a warning that explains a failure is on screen while it happens
        on_findings=_print_findings if output is Output.text else None,
    )
    try:
        result = wf.deploy(settings, opts, reading=reading)
    finally:
        if progress:
            progress.close()
    checks = None
    if smoke and not dry_run:
        from vllmctl.workflows.api import smoke_models

        if output is Output.text:
            console.info("→ smoke test through the router")
        checks = smoke_models(settings, timeout=120.0)
    if output is Output.json:
        smoked = {"smoke": [c.as_dict() for c in checks]} if checks is not None else {}
        console.emit_json({**result.as_dict(), **smoked})
    else:
        for w in result.warnings:
            console.warn(w)
        for note in result.notes:
            console.info(note)
        _report(result)
        if checks is not None:
            from vllmctl.commands.smoke_report import print_smoke

            print_smoke(checks)
    if checks is not None:
        from vllmctl.workflows.api import raise_if_smoke_failed

        raise_if_smoke_failed(checks)
    if detailed_exit_code and not result.changed:
        return NO_CHANGES
    return 0


def _print_move(result) -> None:
    """What the API server would refuse to patch, and chart defaults that change (dry run, diff)."""
    from vllmctl.core.chart_move import summary

    if result.conflicts:
        console.warn(f"the API server will refuse to change {summary(result.conflicts)}: a plain upgrade stops; "
                     "`vllmctl upgrade --recreate` deletes and recreates these objects (PVCs and Secrets kept).")
    if result.default_changes:
        console.warn("chart defaults that change for this models.yaml (vllmctl does not set them):")
        for change in result.default_changes:
            console.info(f"  {change.line()}")


def _report(result) -> None:
    if result.dry_run:
        _print_plan(result.plan)
        _print_move(result)
        console.info(f"dry run: {result.plan.summary() if result.plan else 'no changes'}; nothing was written.")
        return
    if not result.changed:
        console.success(f"no changes: release {result.release} is up to date (revision {result.revision}).")
        return
    console.success(f"release {result.release} revision {result.revision} in namespace {result.namespace} "
                    f"({result.chart}).")
    console.info(f"endpoint (in the cluster): {result.endpoint}/v1  - from here: `vllmctl port-forward`")
    console.info("model names for the API: " + (", ".join(result.models) or "none"))


def _print_plan(plan) -> None:
    if plan is None:
        return
    for change in plan.changes:
        console.diff(change.diff if change.diff.endswith("\n") else change.diff + "\n")


def _deploy_command(mode: str, doc: str):
    """install and upgrade take the same flags; only the mode differs."""

    def command(
        models_file: ModelsFileOpt = None, namespace: NamespaceOpt = None, release: ReleaseOpt = None,
        chart_version: ChartVersionOpt = None, chart: ChartOpt = None, context: ContextOpt = None,
        timeout: TimeoutOpt = None, atomic: AtomicOpt = None, wait: WaitOpt = True, dry_run: DryRunOpt = False,
        skip_preflight: SkipPreflightOpt = False, stuck_after: StuckAfterOpt = None,
        update_strategy: StrategyOpt = None, api_key: ApiKeyOpt = None, detailed_exit_code: DetailedOpt = False,
        smoke: SmokeOpt = False, url: UrlOpt = None, recreate: RecreateOpt = False, yes: YesOpt = False,
        output: OutputOpt = Output.text,
    ) -> int:
        flags = {k: v for k, v in locals().items() if k != "mode"}
        return _run_deploy(mode, **flags)

    command.__doc__ = doc
    command.__name__ = mode
    return command


install = _deploy_command(
    "install", "Install (or bring up to date) the stack: preflight, namespace, secrets, helm upgrade --install, wait.")
upgrade = _deploy_command(
    "upgrade", "Upgrade the existing release from models.yaml (no new revision when nothing changed).")


def diff(
    models_file: ModelsFileOpt = None, namespace: NamespaceOpt = None, release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None, chart: ChartOpt = None, context: ContextOpt = None,
    api_key: ApiKeyOpt = None, update_strategy: StrategyOpt = None,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="exit 1 when there are changes (for CI)")] = False,
    output: OutputOpt = Output.text,
) -> int:
    """Show what upgrade would change, object by object (Secret values masked)."""
    from vllmctl.workflows import deploy as wf

    settings = settings_from(models_file=models_file, namespace=namespace, release=release,
                             chart_version=chart_version, chart=chart, kube_context=context,
                             update_strategy=update_strategy)
    result = wf.diff(settings, api_key, update_strategy)
    plan = result.plan
    if output is Output.json:
        console.emit_json({**(plan.as_dict() if plan else {"changed": False, "changes": []}),
                           "conflicts": [c.as_dict() for c in result.conflicts],
                           "defaultChanges": [c.as_dict() for c in result.default_changes]})
    else:
        for w in result.warnings:
            console.warn(w)
        _print_plan(plan)
        _print_move(result)
        console.info(plan.summary() if plan else "no changes")
    return 1 if exit_code and plan is not None and not plan.empty else 0


def rollback(
    revision: Annotated[int | None, typer.Argument(help="revision to return to [default: the previous one]")] = None,
    namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
    timeout: TimeoutOpt = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="let helm wait for the pods")] = False,
) -> None:
    """Roll the release back to a revision (a new revision with the old one's content)."""
    from vllmctl.workflows import release_ops as wf

    settings = settings_from(namespace=namespace, release=release, kube_context=context, helm_timeout=timeout)
    new = wf.rollback(settings, revision, wait=wait)
    target = f"revision {revision}" if revision else "the previous revision"
    console.success(f"release {settings.release} rolled back to {target} (now revision {new}).")


def history(
    namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """List the release's revisions."""
    from vllmctl.workflows import release_ops as wf

    settings = settings_from(namespace=namespace, release=release, kube_context=context)
    rows = wf.history(settings)
    if output is Output.json:
        console.emit_json(rows)
        return
    console.table(["REVISION", "UPDATED", "STATUS", "CHART", "DESCRIPTION"],
                  [[r.get("revision"), r.get("updated", "")[:19], r.get("status"), r.get("chart"),
                    r.get("description")] for r in rows])


def preflight(
    models_file: ModelsFileOpt = None, namespace: NamespaceOpt = None, release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None, chart: ChartOpt = None, context: ContextOpt = None,
    update_strategy: StrategyOpt = None, output: OutputOpt = Output.text,
) -> int:
    """Check GPUs, storage classes, cache volumes and the runtime class before deploying."""
    from vllmctl.workflows import deploy as wf

    settings = settings_from(models_file=models_file, namespace=namespace, release=release,
                             chart_version=chart_version, chart=chart, kube_context=context,
                             update_strategy=update_strategy)
    findings = wf.preflight(settings, update_strategy)
    failure = wf.preflight_failure(findings)
    if output is Output.json:
        console.emit_json({"ok": failure is None, "findings": [f.as_dict() for f in findings]})
        return 1 if failure else 0
    for f in findings:
        (console.error if f.severity == "error" else console.warn)(f"{f.rule}: {f.message}")
    if failure:
        return 1
    console.success("preflight passed" + (" with warnings." if findings else "."))
    return 0


def uninstall(
    namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
    timeout: TimeoutOpt = None,
    delete_data: Annotated[bool, typer.Option(
        "--delete-data", help="also delete the model cache volumes (asks first; --yes in CI)")] = False,
    yes: YesOpt = False, output: OutputOpt = Output.text,
) -> None:
    """Remove the release and its secrets; keeps the model caches unless --delete-data."""
    from vllmctl.workflows import release_ops as wf

    settings = settings_from(namespace=namespace, release=release, kube_context=context, helm_timeout=timeout)
    # On a terminal a person confirms; scripts and CI (no TTY, CI=true, --yes) are not asked.
    if interactive(yes) and not confirm(f"Uninstall release {settings.release} from namespace {settings.namespace} "
                                        "(its pods and secrets; model caches are kept)?", yes=yes):
        console.info("Cancelled; nothing changed.")
        return

    def confirm_delete(names: list[str]) -> bool:
        return confirm(f"Delete the model cache volumes {', '.join(names)} (downloaded models are lost)?",
                       yes=yes)

    out = wf.uninstall(settings, delete_data=delete_data, confirm_delete=confirm_delete)
    if output is Output.json:
        console.emit_json(out.as_dict())
        return
    console.success(f"release {settings.release} uninstalled." if out.release_removed
                    else f"no release {settings.release} in namespace {settings.namespace}.")
    if out.secrets_removed:
        console.info("removed " + ", ".join(out.secrets_removed))
    if out.claims_deleted:
        console.info("deleted model caches: " + ", ".join(out.claims_deleted))
    if out.claims_kept:
        console.info("kept model caches (reused by the next install; --delete-data removes them): "
                     + ", ".join(out.claims_kept))
    if out.namespace_deleted:
        console.info(f"deleted namespace {settings.namespace} (nothing else was left in it).")
    elif out.namespace_left:
        console.info(f"kept namespace {settings.namespace}: it still holds " + ", ".join(out.namespace_left[:5])
                     + (" ..." if len(out.namespace_left) > 5 else ""))


def chart_pull(chart_version: ChartVersionOpt = None, chart: ChartOpt = None) -> None:
    """Vendor the pinned chart into charts/ (later commands use it: air-gapped clusters, CI)."""
    from vllmctl.workflows import release_ops as wf

    settings = settings_from(chart_version=chart_version, chart=chart)
    path = wf.chart_pull(settings)
    console.success(f"chart saved to {path}; install and upgrade use it while it is there.")


def register(app: typer.Typer) -> None:
    app.command("install")(install)
    app.command("upgrade")(upgrade)
    app.command("uninstall")(uninstall)
    app.command("diff")(diff)
    app.command("rollback")(rollback)
    app.command("history")(history)
    app.command("preflight")(preflight)
    chart_app = typer.Typer(help="The pinned chart: its cache in charts/ and its values interface.",
                            no_args_is_help=True)
    chart_app.command("pull")(chart_pull)
    from vllmctl.commands.chart_values import values

    chart_app.command("values")(values)
    app.add_typer(chart_app, name="chart")

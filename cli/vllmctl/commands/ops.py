"""Day-two commands: status, endpoints, logs, port-forward, namespace and helm repo housekeeping."""

from __future__ import annotations

from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import choose, confirm
from vllmctl.commands.options import (
    ContextOpt,
    ModelsFileOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    YesOpt,
    settings_from,
)

FollowOpt = Annotated[bool, typer.Option("--follow", "-F", help="keep streaming new lines")]
TailOpt = Annotated[int | None, typer.Option("--tail", help="only the last N lines [default: all]")]


def status(namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
           output: OutputOpt = Output.text) -> None:
    """Pods per model: ready, restarts, age, node, GPUs; whether each LoRA adapter is loaded."""
    from vllmctl.workflows import ops

    settings = settings_from(namespace=namespace, release=release, kube_context=context)
    kube = ops.connect(settings)
    adapters = ops.lora_adapters(kube, settings)
    rows = ops.status(settings, kube, adapters)
    if output is Output.json:
        console.emit_json(rows)  # a pod's row has "adapters" (name -> loaded) where its model has any
        return
    console.table(["MODEL", "POD", "READY", "STATUS", "RESTARTS", "AGE", "NODE", "GPUS"],
                  [[r["model"], r["pod"], "yes" if r["ready"] else "no", r["status"], r["restarts"], r["age"],
                    r["node"], r["gpus"]] for r in rows])
    for r in rows:
        if r["problem"]:
            console.warn(f"{r['pod']}: {r['problem']}")
    for complete, line in ops.adapter_lines(adapters, rows):
        (console.info if complete else console.warn)(line)
    scaled = {r["model"]: r["replicas"] for r in rows if r.get("replicas")}
    for model, rep in scaled.items():
        console.info(f"{model}: {rep['current']} replicas, autoscaled between {rep['min']} and {rep['max']}")


def endpoints(namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
              output: OutputOpt = Output.text) -> None:
    """Show the router and engine endpoints, and the model names to use."""
    from vllmctl.workflows import ops

    result = ops.endpoints(settings_from(namespace=namespace, release=release, kube_context=context))
    if output is Output.json:
        console.emit_json(result)
        return
    router = result["router"]
    rows = []
    if router:
        rows.append(["router", router["service"], router["url"]])
        rows += [["router (external)", router["service"], url] for url in router["external"]]
    rows += [[f"engine {e['model']}", e["service"], e["url"]] for e in result["engines"]]
    rows += [["metrics router", router["service"], router["metrics"]]] if router else []
    rows += [[f"metrics {e['model']}", e["service"], e["metrics"]] for e in result["engines"]]
    console.table(["ENDPOINT", "SERVICE", "URL"], rows)
    console.info("model names: " + (", ".join(result["models"]) or "none"))
    if router:
        console.info(f"from this machine: {router['port_forward']}")


def _print_lines(lines) -> None:
    for line in lines:
        console.data(line)


def logs(
    model: Annotated[str | None, typer.Argument(help="model name (chosen interactively when omitted)")] = None,
    follow: FollowOpt = False, tail: TailOpt = None, namespace: NamespaceOpt = None, release: ReleaseOpt = None,
    context: ContextOpt = None, yes: YesOpt = False,
) -> None:
    """Show a model's engine logs."""
    from vllmctl.workflows import ops

    settings = settings_from(namespace=namespace, release=release, kube_context=context)
    kube = ops.connect(settings)
    if model is None:
        model = choose("Which model's logs", ops.deployed_models(kube, settings), flag="the MODEL argument",
                       yes=yes)
    _print_lines(ops.logs(kube, settings, model, follow=follow, tail=tail))


def router_logs(follow: FollowOpt = False, tail: TailOpt = None, namespace: NamespaceOpt = None,
                release: ReleaseOpt = None, context: ContextOpt = None) -> None:
    """Show the router's logs."""
    from vllmctl.workflows import ops

    settings = settings_from(namespace=namespace, release=release, kube_context=context)
    _print_lines(ops.logs(ops.connect(settings), settings, "router", follow=follow, tail=tail))


def port_forward(
    port: Annotated[int, typer.Argument(help="local port", min=0, max=65535)] = 8080,
    namespace: NamespaceOpt = None, release: ReleaseOpt = None, context: ContextOpt = None,
) -> None:
    """Forward a local port to the router Service (<release>-router-service:80) until Ctrl-C."""
    import time

    from vllmctl.workflows.endpoint import ROUTER_PORT, forward_router, router_service

    settings = settings_from(namespace=namespace, release=release, kube_context=context)
    with forward_router(settings, port) as url:
        console.success(f"forwarding {url} -> service/{router_service(settings)}:{ROUTER_PORT} in "
                        f"{settings.namespace}; Ctrl-C to stop.")
        console.info(f"try: curl {url}/v1/models")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            console.info("stopped.")


def create_namespace(namespace: NamespaceOpt = None, context: ContextOpt = None) -> None:
    """Create the namespace with Pod Security labels (VLLM_POD_SECURITY: baseline unless privileged)."""
    from vllmctl.workflows import ops

    settings = settings_from(namespace=namespace, kube_context=context)
    created = ops.create_namespace(settings)
    console.success(f"namespace {settings.namespace} " + ("created." if created else "exists; labels checked."))


def delete_namespace(namespace: NamespaceOpt = None, context: ContextOpt = None, yes: YesOpt = False) -> None:
    """Delete the namespace (asks first when it holds model caches)."""
    from vllmctl.workflows import ops

    settings = settings_from(namespace=namespace, kube_context=context)
    kube = ops.connect(settings)
    claims = ops.namespace_claims(kube, settings)
    if claims and not confirm(f"Namespace {settings.namespace} holds model caches ({', '.join(claims)}); "
                              "delete it with them?", yes=yes):
        console.info("nothing deleted.")
        return
    if ops.delete_namespace(kube, settings):
        console.success(f"namespace {settings.namespace} is being deleted.")
    else:
        console.info(f"namespace {settings.namespace} does not exist.")


def check_prerequisites(models_file: ModelsFileOpt = None, namespace: NamespaceOpt = None,
                        context: ContextOpt = None, output: OutputOpt = Output.text) -> int:
    """Check models.yaml, the chart, helm, cluster access and Vault (each ticked only when it was asked)."""
    from vllmctl.workflows import ops

    checks = ops.check_prerequisites(settings_from(models_file=models_file, namespace=namespace,
                                                   kube_context=context))
    if output is Output.json:
        console.emit_json([{"name": c.name, "ok": c.ok, "checked": c.checked, "detail": c.detail} for c in checks])
    else:
        for c in checks:
            if not c.ok:
                console.error(f"{c.name}: {c.detail}")
            elif c.checked:
                console.success(f"{c.name}: {c.detail}")
            else:
                console.info(f"- {c.name}: {c.detail}")
    # One kind of failure keeps its code (an unreachable server alone is 3); a mix is 1.
    codes = {c.exit_code for c in checks if not c.ok}
    return codes.pop() if len(codes) == 1 else (1 if codes else 0)


def add_helm_repo() -> None:
    """Add the vllm-stack Helm repository (as `vllm`) for running helm by hand."""
    from vllmctl.workflows import ops

    settings = settings_from()
    ops.add_helm_repo(settings)
    console.success(f"helm repository {ops.HELM_REPO_NAME} -> {settings.chart_repo} added.")


def remove_helm_repo() -> None:
    """Remove the vllm-stack Helm repository entry."""
    from vllmctl.workflows import ops

    if ops.remove_helm_repo():
        console.success(f"helm repository {ops.HELM_REPO_NAME} removed.")
    else:
        console.info(f"no helm repository named {ops.HELM_REPO_NAME}.")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("endpoints")(endpoints)
    app.command("logs")(logs)
    app.command("router-logs")(router_logs)
    app.command("port-forward")(port_forward)
    app.command("create-namespace")(create_namespace)
    app.command("delete-namespace")(delete_namespace)
    app.command("check-prerequisites")(check_prerequisites)
    app.command("add-helm-repo")(add_helm_repo)
    app.command("remove-helm-repo")(remove_helm_repo)

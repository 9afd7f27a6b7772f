"""plan: does every model fit its disk, GPUs and start-up budget; what would an upgrade do."""

from __future__ import annotations

from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.options import (
    ChartOpt,
    ChartVersionOpt,
    ContextOpt,
    ModelsFileOpt,
    NamespaceOpt,
    OfflineOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    settings_from,
)

GpuMemoryOpt = Annotated[
    str | None, typer.Option("--gpu-memory", envvar="VLLM_GPU_MEMORY", help="memory of one GPU, e.g. 80Gi")
]
BandwidthOpt = Annotated[
    str | None,
    typer.Option("--bandwidth", envvar="VLLM_DOWNLOAD_BANDWIDTH",
                 help="bytes per second a pod downloads from the Hub, e.g. 100M [default: 100M]"),
]
NAME_WIDTH = 14


def _three_digits(n: int | None, units: tuple[tuple[str, int], ...]) -> str:
    """3 significant digits with a unit: 494M, 8.03B, 15.0G, 131G."""
    if n is None:
        return "?"
    for unit, scale in units:
        if n >= scale:
            v = n / scale
            return f"{v:.2f}{unit}" if v < 10 else f"{v:.1f}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return str(n)


def _size(n: int | None) -> str:
    return _three_digits(n, (("T", 2**40), ("G", 2**30), ("M", 2**20), ("K", 2**10)))


def _count(n: int | None) -> str:
    return _three_digits(n, (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)))


def _mark(figure, text: str) -> str:
    return "~" + text if figure.basis == "estimated" else text


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds / 60:.0f}m" if seconds >= 90 else f"{seconds:.0f}s"


def _row(r) -> list[str]:
    name = r.name if len(r.name) <= NAME_WIDTH else r.name[: NAME_WIDTH - 1] + "~"
    per_gpu = "?" if r.bytes_per_gpu is None else f"{_size(r.bytes_per_gpu)}/{_size(r.gpu_memory_bytes)}"
    return [
        name, _mark(r.parameters, _count(r.parameters.value)), _mark(r.weight_bytes, _size(r.weight_bytes.value)),
        _mark(r.kv_bytes_per_token, _size(r.kv_bytes_per_token.value)), str(r.gpus), per_gpu,
        _count(r.max_kv_tokens), {True: "yes", False: "NO", None: "?"}[r.fits],
        _duration(r.startup.seconds if r.startup else None),
    ]


def _print(result) -> None:
    console.table(["MODEL", "PARAMS", "WEIGHTS", "KV/TOK", "GPUS", "NEED/GPU", "KV TOKENS", "FITS", "START"],
                  [_row(r) for r in result.fit.reports], gap="  ")
    console.info("~ estimated from config.json; sizes in GiB (G), KV/TOK per GPU; START: a cold start "
                 "(download + load) against a startup probe budget of "
                 f"{_duration(result.fit.reports[0].startup_budget_seconds if result.fit.reports else None)}.")
    for r in result.fit.reports:
        for f in r.findings:
            (console.error if f.severity == "error" else console.warn)(f"{f.rule}: {f.message}")
        for s in r.suggestions:
            console.info(f"  {r.name}: {s.text}" + (f" -> nodeSelectorTerms {s.change['nodeSelectorTerms']}"
                                                   if s.kind == "node-pool" else ""))
    for w in result.warnings:
        console.warn(w)
    if result.upgrade:
        _print_upgrade(result)


def _print_upgrade(result) -> None:
    up = result.upgrade
    console.data(f"\nUpgrade of the deployed release (chart {result.deployed_chart} -> {result.chart_version}):")
    console.table(["MODEL", "ACTION", "WHY", "GPUS", "BACK AFTER"],
                  [[c.name, c.action, ", ".join(c.reasons) or "-", str(c.gpus), _duration(c.back_after_seconds)
                    if c.action in ("restart", "start") else "-"] for c in up.changes], gap="  ")
    free = "?" if up.free_gpus is None else str(up.free_gpus)
    console.data(f"surge: {up.surge_gpus} extra GPU(s) while old and new pods overlap; free now: {free}; "
                 f"short by: {up.extra_gpus_needed}; every model back after about "
                 f"{_duration(up.seconds_until_all_back)}.")


def plan(
    models_file: ModelsFileOpt = None, namespace: NamespaceOpt = None, release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None, chart: ChartOpt = None, context: ContextOpt = None,
    gpu_memory: GpuMemoryOpt = None,
    offline: OfflineOpt = None, bandwidth: BandwidthOpt = None,
    cluster: Annotated[bool, typer.Option(
        "--cluster/--no-cluster", help="read the nodes and the deployed release [default: with a kubeconfig]")] = True,
    output: OutputOpt = Output.text,
) -> int:
    """Per model: parameters, weights, KV cache, GPU memory, fit, cold start; suggestions; the upgrade."""
    from vllmctl.workflows import plan as wf

    settings = settings_from(models_file=models_file, namespace=namespace, release=release,
                             chart_version=chart_version, chart=chart, kube_context=context, gpu_memory=gpu_memory,
                             offline=offline, download_bandwidth=bandwidth)
    result = wf.plan(settings, use_cluster=cluster)
    failing = [r.name for r in result.fit.reports if any(f.severity == "error" for f in r.findings)]
    if output is Output.json:
        console.emit_json({**result.as_dict(), "ok": not failing})
    else:
        _print(result)
        if not failing:
            console.success(f"{len(result.fit.reports)} model(s) planned"
                            + ("; some figures are unknown." if any(r.fits is None for r in result.fit.reports)
                               else "."))
    return 1 if failing else 0


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)

"""list-models, add-model, remove-model, validate, render: everything that needs no cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import ask, choose, confirm, interactive
from vllmctl.commands.options import (
    ApiKeyOpt,
    ChartOpt,
    ChartVersionOpt,
    ModelsFileOpt,
    NamespaceOpt,
    OfflineOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    YesOpt,
    settings_from,
)
from vllmctl.core.gitops import RenderFormat
from vllmctl.core.model_defaults import DEFAULTS
from vllmctl.errors import InvalidInput

# add-model flag for each models.yaml key it sets, so an invalid answer names the flag.
ADD_FLAGS = {
    "name": "--name",
    "modelURL": "--model-url",
    "replicaCount": "--replicas",
    "requestCPU": "--cpu",
    "requestMemory": "--memory",
    "requestGPU": "--gpus",
    "pvcStorage": "--storage",
    "hfTokenRequired": "--hf-token-required",
    "maxModelLen": "--max-model-len",
    "dtype": "--dtype",
    "tensorParallelSize": "--tensor-parallel-size",
    "gpuMemoryUtilization": "--gpu-memory-utilization",
    "extraArgs": "--extra-arg",
}


_DEFAULTS: Mapping[str, object] = DEFAULTS  # looked up by a key's name


def _default(key: str) -> str:
    """The help's `[default: ...]` for a models.yaml key, from the one table of defaults."""
    return f"[default: {_DEFAULTS[key]}]"


def _warn_all(warnings) -> None:
    for warning in warnings:
        console.warn(warning)


def _model_row(m: dict) -> list:
    config = c if isinstance(c := m.get("vllmConfig"), dict) else {}
    return [
        m.get("name", "?"),
        m.get("modelURL", "?"),
        m["requestGPU"],
        m["replicaCount"],
        m["requestMemory"],
        m["pvcStorage"] or "-",
        config.get("maxModelLen", "-"),
        "yes" if m["enabled"] else "no",
    ]


def list_models(models_file: ModelsFileOpt = None, output: OutputOpt = Output.text) -> None:
    """List the models configured in models.yaml (as written; `validate` checks them)."""
    from vllmctl.workflows import models as wf

    settings = settings_from(models_file=models_file)
    if not settings.models_path.exists():
        if output is Output.json:
            console.emit_json([])
            return
        console.info(f"No {settings.models_file} yet: create it with `just vllm::add-model`.")
        return
    models = wf.peek(settings)
    if output is Output.json:
        console.emit_json(models)
        return
    if not models:
        console.info(f"No models configured in {settings.models_file}.")
        return
    console.table(
        ["NAME", "MODEL", "GPUS", "REPLICAS", "MEMORY", "STORAGE", "MAX LEN", "ENABLED"],
        [_model_row(m) for m in models],
    )


# The questions add-model asks on a TTY: (key, question, flag, type). name and modelURL are asked
# whenever their flag is missing; the others only in a fully interactive run (no entry flag given),
# so a one-liner with flags never stops to ask.
QUESTIONS = (
    ("name", "Model name (API model id, e.g. llama3)", "--name", str),
    ("modelURL", "Hugging Face model id (org/name)", "--model-url", str),
    ("requestGPU", "GPUs per pod", "--gpus", int),
    ("replicaCount", "Replicas", "--replicas", int),
    ("requestMemory", "Memory per pod", "--memory", str),
    ("pvcStorage", "Model cache size", "--storage", str),
)
REQUIRED = ("name", "modelURL")
ENTRY_KEYS = ("name", "modelURL", "replicaCount", "requestCPU", "requestMemory", "requestGPU", "pvcStorage")
# Stand-ins for the required keys while an answer to another question is checked on its own.
_PLACEHOLDER = {"name": "model", "modelURL": "org/model"}


def _entry_errors(entry: dict) -> str | None:
    from vllmctl.core.models_file import validate_entry

    _, errors = validate_entry(entry)
    lines = []
    for err in errors:
        flag = next((ADD_FLAGS[str(p)] for p in reversed(err.loc) if str(p) in ADD_FLAGS), None)
        lines.append(f"{flag}: {err.message}" if flag else err.message)
    return "; ".join(lines) or None


def _answer_problem(key: str, value, entry: dict, release: str, taken: set[str]) -> str | None:
    """What is wrong with `value` as the answer for `key`, judged as validate would; None when fine."""
    from vllmctl.core.models import cross_field_problems
    from vllmctl.core.models_file import validate_entry

    if key == "name" and value in taken:
        return f"a model named {value!r} already exists"
    model, errors = validate_entry({**_PLACEHOLDER, **entry, key: value})
    messages = [e.message for e in errors if key in map(str, e.loc)]
    if model is not None:
        messages += [message for loc, message in cross_field_problems(model, release) if loc == (key,)]
    return "; ".join(messages) or None


def _basic_entry(given: dict, settings, yes: bool) -> dict:
    """The entry's basic keys in models.yaml's order: flags as given, the rest asked (each answer checked
    as it comes) or defaulted."""
    from vllmctl.workflows import models as wf

    fully_interactive = interactive(yes) and all(v is None for v in given.values())
    taken = set(wf.names(settings)) if interactive(yes) else set()
    answers: dict = {}
    for key, question, flag, kind in QUESTIONS:
        value = given[key]
        if value is None and (key in REQUIRED or fully_interactive):
            value = ask(question, flag=flag, yes=yes, default=_DEFAULTS.get(key), type=kind,
                        check=lambda v, k=key: _answer_problem(k, v, answers, settings.release, taken))
        answers[key] = value.strip() if isinstance(value, str) else value
    answers["requestCPU"] = given["requestCPU"]
    return {key: _DEFAULTS[key] if answers[key] is None else answers[key] for key in ENTRY_KEYS}


def _with_options(entry: dict, hf_token_required, vllm_config: dict) -> dict:
    if hf_token_required is not None:
        entry["hfTokenRequired"] = hf_token_required
    vllm_config = {key: value for key, value in vllm_config.items() if value is not None}
    if vllm_config:
        entry["vllmConfig"] = vllm_config
    return entry


def add_model(
    name: Annotated[str | None, typer.Option("--name", help="model name: the API model id")] = None,
    model_url: Annotated[str | None, typer.Option("--model-url", help="Hugging Face id, org/name")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help=f"GPUs per pod {_default('requestGPU')}")] = None,
    replicas: Annotated[int | None, typer.Option("--replicas", help=f"pods {_default('replicaCount')}")] = None,
    cpu: Annotated[int | None, typer.Option("--cpu", help=f"CPU cores per pod {_default('requestCPU')}")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help=f"memory per pod {_default('requestMemory')}")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help=f"model cache size {_default('pvcStorage')}")] = None,
    max_model_len: Annotated[int | None, typer.Option("--max-model-len", help="vllmConfig.maxModelLen")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="vllmConfig.dtype")] = None,
    tensor_parallel_size: Annotated[
        int | None, typer.Option("--tensor-parallel-size", help="vllmConfig.tensorParallelSize")
    ] = None,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option("--gpu-memory-utilization", help="vllmConfig.gpuMemoryUtilization")
    ] = None,
    hf_token_required: Annotated[
        bool | None, typer.Option("--hf-token-required/--no-hf-token-required", help="hfTokenRequired")
    ] = None,
    extra_arg: Annotated[
        list[str] | None, typer.Option("--extra-arg", help="a further `vllm serve` flag (repeatable)")
    ] = None,
    models_file: ModelsFileOpt = None,
    release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None,
    yes: YesOpt = False,
    output: OutputOpt = Output.text,
) -> None:
    """Add a model to models.yaml (prompts on a TTY for what no flag gave)."""
    from vllmctl.workflows import models as wf

    settings = settings_from(models_file=models_file, release=release, chart_version=chart_version)
    vllm_config = {"maxModelLen": max_model_len, "dtype": dtype, "tensorParallelSize": tensor_parallel_size,
                   "gpuMemoryUtilization": gpu_memory_utilization, "extraArgs": extra_arg or None}
    given = {"name": name, "modelURL": model_url, "requestGPU": gpus, "replicaCount": replicas, "requestCPU": cpu,
             "requestMemory": memory, "pvcStorage": storage, "hfTokenRequired": hf_token_required, **vllm_config}
    entry = _with_options(_basic_entry(given, settings, yes), hf_token_required, vllm_config)
    problem = _entry_errors(entry)
    if problem:
        raise InvalidInput(f"add-model: {problem}.")
    updated, created = wf.add(settings, entry)
    _report_added(settings, entry["name"], updated, created, output)


def _report_added(settings, name: str, updated, created: bool, output: Output) -> None:
    if output is Output.json:
        console.emit_json({"added": name, "file": str(settings.models_path), "created": created})
        return
    if created:
        console.info(f"Created {settings.models_file} (the example's documentation and this model).")
    _warn_all(updated.warnings)
    console.success(f"Added model '{name}' to {settings.models_file}. Apply it with `just vllm::upgrade`.")


def remove_model(
    name: Annotated[str | None, typer.Argument(help="the model to remove [default: choose]")] = None,
    models_file: ModelsFileOpt = None,
    release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None,
    yes: YesOpt = False,
) -> None:
    """Remove a model from models.yaml (asks which, and confirms, unless --yes)."""
    from vllmctl.workflows import models as wf

    settings = settings_from(models_file=models_file, release=release, chart_version=chart_version)
    if name is None:
        loaded = wf.load(settings)
        name = choose("Model to remove", [m.name for m in loaded.models], flag="NAME", yes=yes)
    if not confirm(f"Remove model '{name}' from {settings.models_file}?", yes=yes):
        console.info("Cancelled; nothing changed.")
        raise typer.Exit(0)
    wf.remove(settings, name)
    console.success(f"Removed model '{name}' from {settings.models_file}. Apply it with `just vllm::upgrade`.")


def _gib(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.1f} GiB"


def _print_deep(report) -> None:
    rows = []
    for r in report.results:
        e, fit = r.estimate, r.fit
        rows.append(
            [
                r.name,
                r.status + (f" ({r.stage})" if r.stage else ""),
                _gib(e.weight_bytes_per_gpu if e else None),
                _gib(e.kv_bytes_per_gpu if e else None),
                _gib(fit.required_bytes if fit else None),
                ("yes" if fit.fits else "NO") if fit else "-",
            ]
        )
    console.table(["MODEL", "ENGINE CHECK", "WEIGHTS/GPU", "KV CACHE/GPU", "NEEDS/GPU", "FITS"], rows)
    for r in report.results:
        if r.message and r.status != "ok":
            (console.error if r.status == "failed" else console.warn)(f"model '{r.name}': {r.message}")
    if report.engine_error:
        console.warn(report.engine_error)
    _warn_all(report.warnings)


def _deep_json(report) -> list[dict]:
    return [
        {
            "model": r.name,
            "status": r.status,
            "stage": r.stage,
            "message": r.message,
            "estimate": dataclasses.asdict(r.estimate) if r.estimate else None,
            "fits": r.fit.fits if r.fit else None,
        }
        for r in report.results
    ]


def _validation_json(settings, loaded, report, failed: list, fitted) -> dict:
    result = {
        "file": settings.models_file,
        "valid": not failed and not fitted.errors,
        "chart_version": loaded.chart_version,
        "models": [m.name for m in loaded.models],
        "problems": [p.as_dict() for p in fitted.errors],
        "warnings": loaded.warnings + fitted.warnings,
        "overlays": loaded.overlay.names,
        "fit": [r.as_dict() for r in fitted.run.reports],
    }
    if report:
        result["deep"] = _deep_json(report)
    return result


def _invalid_json(settings, error) -> dict:
    return {"file": settings.models_file, "valid": False, "problems": [p.as_dict() for p in error.problems],
            "warnings": []}


def _say_overlays(paths: list[str]) -> None:
    for path in paths:
        console.info(f"values overlay: {path} (checked against the chart, merged over the rendered values)")


def _say_validation(loaded, fitted, checked, report) -> None:
    """validate's notes before its verdict: warnings, overlays, what was not checked, the deep report."""
    from vllmctl.workflows.chart_check import SKIPPED

    _warn_all(loaded.warnings + fitted.warnings)
    _say_overlays(loaded.overlay.names)
    if fitted.unknown:
        console.info(f"fit not checked for {', '.join(fitted.unknown)}: model facts unknown (offline or the "
                     "Hub unreachable, nothing cached); `vllmctl plan` shows why.")
    if checked is None:
        console.info(SKIPPED + ".")
    if report:
        _print_deep(report)


def validate(
    models_file: ModelsFileOpt = None,
    release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None,
    chart: ChartOpt = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="also run vLLM's engine-config checks and memory estimates")
    ] = False,
    model_config: Annotated[
        Path | None, typer.Option("--model-config", help="directory with <org>/<name>/config.json files for --deep")
    ] = None,
    gpu_memory: Annotated[
        str | None, typer.Option("--gpu-memory", envvar="VLLM_GPU_MEMORY", help="memory of one GPU, e.g. 80Gi")
    ] = None,
    offline: OfflineOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Check models.yaml without a cluster: schema, names, GPU math, chart version, engine flags, fit, and
    (with a chart at hand: VLLM_CHART or `vllmctl chart pull`) what `helm template` of the chart would deploy."""
    from vllmctl.core.models_file import InvalidModels
    from vllmctl.workflows import engine_check
    from vllmctl.workflows import fit as fit_wf
    from vllmctl.workflows import render as render_wf
    from vllmctl.workflows.chart_check import SKIPPED

    settings, chart_ref = render_wf.for_chart(settings_from(
        models_file=models_file, release=release, chart_version=chart_version, chart=chart, gpu_memory=gpu_memory,
        offline=offline))
    try:
        loaded, rendered, checked = render_wf.render_checked(settings, chart_ref, allow_example=False,
                                                             chart_optional=True)
    except InvalidModels as e:
        if output is Output.json:
            console.emit_json(_invalid_json(settings, e))
        raise
    fitted = fit_wf.for_validate(settings, loaded, rendered)
    report = (
        engine_check.deep_report(settings, rendered, loaded.chart_version, model_config=model_config) if deep else None
    )
    failed = [r for r in report.results if r.status == "failed"] if report else []
    if output is Output.json:
        console.emit_json(_validation_json(settings, loaded, report, failed, fitted) | {
            "chart": chart_ref.describe(),
            "chart_check": {"chart": checked.chart.describe()} if checked else {"skipped": SKIPPED}})
    else:
        _say_validation(loaded, fitted, checked, report)
    if fitted.errors:
        raise InvalidModels(fitted.errors)
    if failed:
        raise InvalidInput(f"vLLM rejects the engine configuration of {', '.join(r.name for r in failed)}.")
    if output is Output.text:
        checked_note = " (chart checked)" if checked else ""
        console.success(
            f"{settings.models_file}: {len(loaded.models)} model(s) valid for {chart_ref.describe()}{checked_note}.")


def render(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-d", help="where to write the files")] = Path("out"),
    fmt: Annotated[
        RenderFormat,
        typer.Option(
            "--format",
            envvar="VLLM_RENDER_FORMAT",
            help="helm: values.yaml; argocd: an Argo CD Application; flux: a HelmRepository and a "
            "HelmRelease (both with the Namespace); all with the ExternalSecrets",
        ),
    ] = RenderFormat.helm,
    models_file: ModelsFileOpt = None,
    namespace: NamespaceOpt = None,
    release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None,
    api_key: ApiKeyOpt = None,
    chart: ChartOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Render the deployment as files for Helm, Argo CD or Flux (no cluster, no Vault, no secret values).

    The directory ends up holding exactly this render: files an earlier vllmctl render wrote there
    (recognised by their header) and this one does not are removed; other files are never touched.
    """
    from vllmctl.workflows import render as wf

    settings = settings_from(
        models_file=models_file,
        namespace=namespace,
        release=release,
        chart_version=chart_version,
        api_key_enabled=api_key,
        chart=chart,
    )
    result = wf.render_to_dir(settings, output_dir, fmt)
    if output is Output.json:
        console.emit_json(
            {
                "output_dir": str(output_dir),
                "format": result.format,
                "files": result.paths,
                "removed": result.removed,
                "source": result.source,
                "chart_version": result.chart_version,
                "warnings": result.warnings,
                "overlays": result.overlays,
            }
        )
        return
    _warn_all(result.warnings)
    _say_overlays(result.overlays)
    for path in result.paths:
        console.data(path)
    for path in result.removed:
        console.info(f"removed {path} (left by an earlier render)")
    console.success(
        f"Rendered {result.model_count} model(s) from {result.source} into {output_dir}/ for {result.format}."
    )


def register(app: typer.Typer) -> None:
    app.command("list-models")(list_models)
    app.command("add-model")(add_model)
    app.command("remove-model")(remove_model)
    app.command("validate")(validate)
    app.command("render")(render)

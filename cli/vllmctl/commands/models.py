"""list-models, add-model, remove-model, validate, render: everything that needs no cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from vllmctl import console
from vllmctl.commands.interactive import ask, choose, confirm, interactive
from vllmctl.commands.options import (
    ApiKeyOpt,
    ChartVersionOpt,
    ModelsFileOpt,
    NamespaceOpt,
    Output,
    OutputOpt,
    ReleaseOpt,
    YesOpt,
    settings_from,
)
from vllmctl.core.gitops import RenderFormat
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


def _warn_all(warnings) -> None:
    for warning in warnings:
        console.warn(warning)


def _model_row(m: dict) -> list:
    config = m.get("vllmConfig") if isinstance(m.get("vllmConfig"), dict) else {}
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


def _entry_errors(entry: dict) -> str | None:
    from vllmctl.core.models_file import validate_entry

    _, errors = validate_entry(entry)
    lines = []
    for err in errors:
        flag = next((ADD_FLAGS[str(p)] for p in reversed(err.loc) if str(p) in ADD_FLAGS), None)
        lines.append(f"{flag}: {err.message}" if flag else err.message)
    return "; ".join(lines) or None


def add_model(
    name: Annotated[str | None, typer.Option("--name", help="model name: the API model id")] = None,
    model_url: Annotated[str | None, typer.Option("--model-url", help="Hugging Face id, org/name")] = None,
    gpus: Annotated[int | None, typer.Option("--gpus", help="GPUs per pod [default: 1]")] = None,
    replicas: Annotated[int | None, typer.Option("--replicas", help="pods [default: 1]")] = None,
    cpu: Annotated[int | None, typer.Option("--cpu", help="CPU cores per pod [default: 6]")] = None,
    memory: Annotated[str | None, typer.Option("--memory", help="memory per pod [default: 16Gi]")] = None,
    storage: Annotated[str | None, typer.Option("--storage", help="model cache size [default: 50Gi]")] = None,
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
    """Add a model to models.yaml (prompts on a TTY; every answer is also a flag)."""
    from vllmctl.workflows import models as wf

    settings = settings_from(models_file=models_file, release=release, chart_version=chart_version)
    prompting = interactive(yes)
    if name is None:
        name = ask("Model name (API model id, e.g. llama3)", flag="--name", yes=yes)
    if model_url is None:
        model_url = ask("Hugging Face model id (org/name)", flag="--model-url", yes=yes)
    if prompting:
        gpus = gpus if gpus is not None else ask("GPUs per pod", flag="--gpus", yes=yes, default=1, type=int)
        replicas = (
            replicas if replicas is not None else ask("Replicas", flag="--replicas", yes=yes, default=1, type=int)
        )
        memory = memory or ask("Memory per pod", flag="--memory", yes=yes, default="16Gi")
        storage = storage or ask("Model cache size", flag="--storage", yes=yes, default="50Gi")
    entry: dict = {
        "name": name.strip(),
        "modelURL": model_url.strip(),
        "replicaCount": 1 if replicas is None else replicas,
        "requestCPU": 6 if cpu is None else cpu,
        "requestMemory": memory or "16Gi",
        "requestGPU": 1 if gpus is None else gpus,
        "pvcStorage": "50Gi" if storage is None else storage,
    }
    if hf_token_required is not None:
        entry["hfTokenRequired"] = hf_token_required
    vllm_config = {
        key: value
        for key, value in (
            ("maxModelLen", max_model_len),
            ("dtype", dtype),
            ("tensorParallelSize", tensor_parallel_size),
            ("gpuMemoryUtilization", gpu_memory_utilization),
            ("extraArgs", extra_arg or None),
        )
        if value is not None
    }
    if vllm_config:
        entry["vllmConfig"] = vllm_config
    problem = _entry_errors(entry)
    if problem:
        raise InvalidInput(f"add-model: {problem}.")
    updated, created = wf.add(settings, entry)
    if output is Output.json:
        console.emit_json({"added": name, "file": str(settings.models_path), "created": created})
        return
    if created:
        console.info(f"Created {settings.models_file} from models.example.yaml.")
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


def validate(
    models_file: ModelsFileOpt = None,
    release: ReleaseOpt = None,
    chart_version: ChartVersionOpt = None,
    deep: Annotated[
        bool, typer.Option("--deep", help="also run vLLM's engine-config checks and memory estimates")
    ] = False,
    model_config: Annotated[
        Path | None, typer.Option("--model-config", help="directory with <org>/<name>/config.json files for --deep")
    ] = None,
    gpu_memory: Annotated[
        str | None, typer.Option("--gpu-memory", envvar="VLLM_GPU_MEMORY", help="memory of one GPU, e.g. 80Gi")
    ] = None,
    output: OutputOpt = Output.text,
) -> None:
    """Check models.yaml without a cluster: schema, names, GPU math, chart version, engine flags."""
    from vllmctl.core.models_file import InvalidModels
    from vllmctl.workflows import engine_check
    from vllmctl.workflows import render as render_wf

    settings = settings_from(
        models_file=models_file, release=release, chart_version=chart_version, gpu_memory=gpu_memory
    )
    try:
        loaded, rendered = render_wf.render_models(settings, allow_example=False)
    except InvalidModels as e:
        if output is Output.json:
            console.emit_json(
                {
                    "file": settings.models_file,
                    "valid": False,
                    "problems": [p.as_dict() for p in e.problems],
                    "warnings": [],
                }
            )
        raise
    report = (
        engine_check.deep_report(settings, rendered, loaded.chart_version, model_config=model_config) if deep else None
    )
    failed = [r for r in report.results if r.status == "failed"] if report else []
    if output is Output.json:
        result = {
            "file": settings.models_file,
            "valid": not failed,
            "models": [m.name for m in loaded.models],
            "problems": [],
            "warnings": loaded.warnings,
        }
        if report:
            result["deep"] = [
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
        console.emit_json(result)
    else:
        _warn_all(loaded.warnings)
        if report:
            _print_deep(report)
    if failed:
        raise InvalidInput(f"vLLM rejects the engine configuration of {', '.join(r.name for r in failed)}.")
    if output is Output.text:
        console.success(
            f"{settings.models_file}: {len(loaded.models)} model(s) valid for vllm-stack {loaded.chart_version}."
        )


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
            }
        )
        return
    _warn_all(result.warnings)
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

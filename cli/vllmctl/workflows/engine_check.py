"""Every model's real `vllm serve` command line, checked against the image's vLLM release."""

from __future__ import annotations

from vllmctl.core.engine_args import ERROR, check_model_spec
from vllmctl.core.engine_argv import describe_source
from vllmctl.core.models_file import InvalidModels, ModelsDocument, Problem


def rendered_extra_args(spec: dict) -> frozenset[int]:
    """The leading extraArgs rendering puts first: `--served-model-name <name>`, and the partner's name
    for a disaggregated prefill half (the only engines vllmctl renders with enablePD; core.routing)."""
    return frozenset(range(3 if (spec.get("lmcacheConfig") or {}).get("enablePD") else 2))


def _problem(doc: ModelsDocument, index: int | None, p, moved: dict[tuple, tuple]) -> Problem:
    path = moved.get(p.yaml_path, p.yaml_path)
    loc = (index, *path) if index is not None else ()
    line, column = doc.locate(loc) if loc else (1, 1)
    where = f" ({describe_source(path)})" if path else ""
    return Problem(doc.file, line, column, f"model '{p.model}'{where}: {p.message}")


def check_engine_args(doc: ModelsDocument, values: dict, chart_version: str,
                      moved: dict[str, dict[tuple, tuple]] | None = None) -> list[str]:
    """Raise InvalidModels for flags vLLM would refuse; return warnings (one per distinct message).
    `moved` (Rendered.moved) maps what rendering moved back to the models.yaml lines it came from."""
    index_of = {e.get("name"): i for i, e in enumerate(doc.entries) if isinstance(e, dict)}
    errors: list[Problem] = []
    warnings: dict[str, None] = {}
    for spec in values.get("servingEngineSpec", {}).get("modelSpec", []):
        problems, tag_warning = check_model_spec(spec, chart_version, rendered_extra_args=rendered_extra_args(spec))
        if tag_warning:
            warnings[f"model '{spec['name']}': {tag_warning}"] = None
        for p in problems:
            located = _problem(doc, index_of.get(spec["name"]), p, (moved or {}).get(spec["name"], {}))
            if p.severity == ERROR:
                errors.append(located)
            else:
                warnings[str(located)] = None
    if errors:
        raise InvalidModels(errors)
    return list(warnings)


def deep_report(settings, rendered, chart_version: str, *, model_config=None):
    """`validate --deep`: vLLM's own engine-config construction per model in a child Python that has
    the engine extra, plus a GPU memory estimate (config.json from --model-config, the cache or the Hub)."""
    import os

    from vllmctl.adapters.hf import HubClient
    from vllmctl.core.engine_args import spec_for_tag
    from vllmctl.core.engine_argv import engine_argv
    from vllmctl.core.gpu_memory import gpu_memory_per_gpu
    from vllmctl.errors import InvalidInput
    from vllmctl.workflows.deep_check import DeepCheckModel, deep_check
    from vllmctl.workflows.fit import quick_node_labels

    try:
        gpu_bytes = gpu_memory_per_gpu([] if settings.gpu_memory else quick_node_labels(settings), settings.gpu_memory)
    except ValueError as e:
        raise InvalidInput(f"--gpu-memory (VLLM_GPU_MEMORY): {e}.") from None
    specs = rendered.values["servingEngineSpec"].get("modelSpec", [])
    engine_spec, _ = spec_for_tag(specs[0]["tag"] if specs else settings.model_tag)
    models = [
        DeepCheckModel(
            ms["name"],
            ms["modelURL"],
            engine_argv(ms, chart_version, rendered_extra_args=rendered_extra_args(ms)),
            revision=ms.get("modelRevision") or "main",
            gpu_memory_bytes=gpu_bytes,
        )
        for ms in specs
    ]
    token = os.environ.get("VLLM_HF_TOKEN") or None
    return deep_check(models, engine_spec, config_dir=model_config, hub=HubClient(token=token), token=token)

"""Fit checks for every model of a render: facts (cache, Hub), GPU memory (flag, node labels), verdicts.

Used by `validate` (file only, nodes when a kubeconfig answers quickly), `preflight` (the cluster's
nodes) and `plan`. The Hugging Face token is resolved only when a gated repository needs it:
VLLM_HF_TOKEN, else Vault when VAULT_ADDR and a Vault token are set; it never leaves this process
except in the Authorization header of the Hub request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vllmctl.core import fit, gpu_pools
from vllmctl.core.engine_args import effective_values, spec_for_tag
from vllmctl.core.engine_argv import engine_argv
from vllmctl.core.gpu_memory import parse_memory
from vllmctl.core.models_file import Problem
from vllmctl.core.preflight import ERROR, Finding
from vllmctl.core.quantity import QuantityError, parse_quantity
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput
from vllmctl.workflows import model_facts as facts_wf
from vllmctl.workflows.engine_check import rendered_extra_args

# Where each finding points in the model's models.yaml entry.
_FINDING_KEYS = {
    "pvc-size": ("pvcStorage",), "max-model-len": ("vllmConfig", "maxModelLen"),
    "tp-heads": ("vllmConfig", "tensorParallelSize"), "gpu-memory": ("requestGPU",),
    "startup": ("modelURL",), "facts-unknown": ("modelURL",),
}


@dataclass
class FitRun:
    reports: list[fit.FitReport]
    pools: list[gpu_pools.GpuPool] = field(default_factory=list)
    gpu_memory_source: str = "unknown"  # "flag", "nodes" or "unknown"

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.reports for f in r.findings]


def _model_len(value: Any) -> int | None:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _pvc_bytes(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(parse_quantity(str(value)))
    except QuantityError:
        return None


def inputs(values: Mapping[str, Any], chart_version: str) -> list[tuple[fit.FitInput, str]]:
    """(FitInput, revision) for every rendered modelSpec, from the flags vLLM will really see."""
    out = []
    specs = {}
    for ms in (values.get("servingEngineSpec") or {}).get("modelSpec") or []:
        tag = ms.get("tag")
        if tag not in specs:
            specs[tag] = spec_for_tag(tag)[0]
        vals = effective_values(engine_argv(ms, chart_version, rendered_extra_args=rendered_extra_args(ms)), specs[tag])
        inp = fit.FitInput(
            name=ms["name"], model_url=ms["modelURL"], gpus=int(ms.get("requestGPU") or 0),
            replicas=int(ms.get("replicaCount") or 0),
            tensor_parallel=int(vals.get("tensor_parallel_size") or 1),
            pipeline_parallel=int(vals.get("pipeline_parallel_size") or 1),
            max_model_len=_model_len(vals.get("max_model_len")),
            gpu_memory_utilization=vals.get("gpu_memory_utilization"),
            dtype=str(vals.get("dtype") or "auto"), kv_cache_dtype=str(vals.get("kv_cache_dtype") or "auto"),
            pvc_bytes=_pvc_bytes(ms.get("pvcStorage")), node_selector_terms=ms.get("nodeSelectorTerms") or None,
        )
        out.append((inp, str(ms.get("modelRevision") or vals.get("revision") or "main")))
    return out


def cache_dir(settings: Settings) -> Path:
    return Path(settings.model_facts_cache).expanduser() if settings.model_facts_cache else facts_wf.default_cache_dir()


def offline(settings: Settings) -> bool:
    return settings.offline or facts_wf.offline_from_env()


def bandwidth(settings: Settings) -> float:
    try:
        return float(parse_quantity(settings.download_bandwidth))
    except QuantityError as e:
        raise InvalidInput(f"VLLM_DOWNLOAD_BANDWIDTH: {e}.") from None


def token_source(settings: Settings) -> Callable[[], str | None]:
    """The HF token, looked up once and only when a gated repository asks for it."""
    lock, box = threading.Lock(), {}

    def get() -> str | None:
        with lock:
            if "token" not in box:
                box["token"] = _hf_token(settings)
            return box["token"]

    return get


def _hf_token(settings: Settings) -> str | None:
    from vllmctl.core.secret_layout import HF_TOKEN
    from vllmctl.errors import VllmctlError
    from vllmctl.workflows.secret_values import from_environment

    token = from_environment(HF_TOKEN)
    if token or not settings.vault_addr:
        return token
    from vllmctl.adapters.vault import Vault, token_from_environment

    vault_token = token_from_environment()
    if not vault_token:
        return None
    try:
        return Vault(settings.vault_addr, vault_token, settings.vault_mount).read(
            HF_TOKEN.vault_path, HF_TOKEN.vault_field)[0] or None
    except VllmctlError:
        return None


def kubeconfig_present() -> bool:
    import os

    return bool(os.environ.get("KUBECONFIG") or (Path.home() / ".kube" / "config").exists())


def quick_node_labels(settings: Settings) -> list[dict[str, str]]:
    """The nodes' labels when a kubeconfig reaches a cluster within a few seconds; validate works
    offline, so any failure means none."""
    if not kubeconfig_present():
        return []
    from vllmctl.adapters import kube
    from vllmctl.adapters.kube_client import connect
    from vllmctl.errors import VllmctlError

    try:
        return kube.node_labels(connect(settings.kube_context, check=False), timeout=3)
    except VllmctlError:
        return []


def explicit_gpu_memory(settings: Settings) -> int | None:
    if not settings.gpu_memory:
        return None
    try:
        return parse_memory(settings.gpu_memory)
    except ValueError as e:
        raise InvalidInput(f"--gpu-memory (VLLM_GPU_MEMORY): {e}.") from None


def startup_budget(values: Mapping[str, Any]) -> int:
    """The window of the startup probe the values give the engines (the chart's default without one)."""
    from vllmctl.core.startup import probe_window_s

    probe = ((values or {}).get("servingEngineSpec") or {}).get("startupProbe")
    return probe_window_s(probe) if probe else fit.startup_budget_seconds()


def run(settings: Settings, values: Mapping[str, Any], chart_version: str, *,
        nodes_labels: Sequence[Mapping[str, str]] | None = None, fetch=None) -> FitRun:
    """Fit reports for every rendered model."""
    wanted = inputs(values, chart_version)
    facts = facts_wf.gather(((i.model_url, rev) for i, rev in wanted), cache_dir=cache_dir(settings),
                            offline=offline(settings), token_source=token_source(settings), fetch=fetch)
    explicit = explicit_gpu_memory(settings)
    gpu_nodes = [n for n in nodes_labels or [] if gpu_pools.gpu_memory_of(n)]
    pools = gpu_pools.pools(gpu_nodes)
    rate = bandwidth(settings)
    budget = startup_budget(values)
    reports = []
    for inp, rev in wanted:
        gpu = explicit or gpu_pools.smallest_gpu(gpu_pools.selected(gpu_nodes, inp.node_selector_terms))
        reports.append(fit.assess(inp, facts[(inp.model_url, rev)], gpu_memory_bytes=gpu, pools=pools,
                                  bandwidth_bytes_per_second=rate, startup_budget=budget))
    source = "flag" if explicit else "nodes" if gpu_nodes else "unknown"
    return FitRun(reports, pools, source)


def located(run: FitRun, document, entries_index: Mapping[str, int]) -> tuple[list[Problem], list[str]]:
    """The run's findings as models.yaml problems (errors) and warning lines, each with its line."""
    errors, warnings = [], []
    for report in run.reports:
        index = entries_index.get(report.name)
        for f in report.findings:
            loc = (index, *_FINDING_KEYS.get(f.rule, ())) if index is not None else ()
            problem = document.problem(loc, f.message) if loc else Problem(document.file, 1, 1, f.message)
            if f.severity == ERROR:
                errors.append(problem)
            else:
                warnings.append(str(problem))
    return errors, warnings


@dataclass
class ValidateFit:
    run: FitRun
    errors: list[Problem]
    warnings: list[str]
    unknown: list[str]  # models whose facts are unknown: not checked, and said so


def for_validate(settings: Settings, loaded, rendered) -> ValidateFit:
    """validate's fit checks: the facts at hand (cache, or the Hub when it answers), GPU memory
    from --gpu-memory or the nodes a kubeconfig reaches quickly."""
    labels = [] if settings.gpu_memory else quick_node_labels(settings)
    result = run(settings, rendered.values, loaded.chart_version, nodes_labels=labels)
    index = {e["name"]: i for i, e in enumerate(loaded.document.entries) if isinstance(e, dict) and "name" in e}
    unknown = [r.name for r in result.reports if r.facts_source == "unknown"]
    known = FitRun([r for r in result.reports if r.facts_source != "unknown"], result.pools,
                   result.gpu_memory_source)
    errors, warnings = located(known, loaded.document, index)
    return ValidateFit(result, errors, warnings, unknown)


def for_preflight(settings: Settings, loaded, nodes_labels: Sequence[Mapping[str, str]]) -> list[Finding]:
    """preflight's fit findings against the cluster's GPU nodes."""
    from vllmctl.workflows import render as render_wf

    _, rendered = render_wf.render_models(settings, loaded=loaded)
    return run(settings, rendered.values, loaded.chart_version, nodes_labels=nodes_labels).findings

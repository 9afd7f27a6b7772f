"""Does each model fit its disk, its GPUs and its start-up budget? Pure: facts in, findings out.

Per GPU, vLLM needs its share of the weights (weights / (TP x PP)), the KV cache for at least one
maxModelLen sequence, and an allowance for the CUDA context and activations; all of it within
gpuMemoryUtilization x the GPU's memory. What is left after weights and the allowance is KV
cache: it sets how many tokens (and so how many full-length sequences) fit at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from vllmctl.core import gpu_pools
from vllmctl.core import model_facts as mf
from vllmctl.core.gpu_memory import DEFAULT_GPU_MEMORY_UTILIZATION, DEFAULT_OVERHEAD_BYTES, GiB
from vllmctl.core.preflight import ERROR, WARNING, Finding

# The cache volume holds the downloaded files plus the Hub cache's bookkeeping, tokenizer files
# and compile caches: 10 % of the files, at least 1 GiB. "Close" is within 10 % above that.
PVC_HEADROOM_FRACTION = 0.10
PVC_HEADROOM_MIN = 1 * GiB
PVC_CLOSE_FRACTION = 0.10

# The chart's startup probe in every version today: 15 s initial delay + 60 failures x 10 s.
STARTUP_PROBE_INITIAL_DELAY = 15
STARTUP_PROBE_FAILURE_THRESHOLD = 60
STARTUP_PROBE_PERIOD = 10
# Reading weights from the cache volume into GPU memory, and engine start (profiling, CUDA
# graphs, compilation), for start-up estimates.
LOAD_BYTES_PER_SECOND = 500 * 10**6
ENGINE_INIT_SECONDS = 60
DEFAULT_DOWNLOAD_BANDWIDTH = "100M"  # bytes per second from the Hub

TP_CANDIDATES = (1, 2, 4, 8, 16)
MAX_SUGGESTED_UTILIZATION = 0.95


def startup_budget_seconds(initial_delay: int = STARTUP_PROBE_INITIAL_DELAY,
                           failure_threshold: int = STARTUP_PROBE_FAILURE_THRESHOLD,
                           period: int = STARTUP_PROBE_PERIOD) -> int:
    """How long the startup probe lets an engine take before the kubelet kills it."""
    return initial_delay + failure_threshold * period


@dataclass(frozen=True)
class StartupEstimate:
    download_seconds: float
    load_seconds: float
    init_seconds: float

    @property
    def seconds(self) -> float:
        return self.download_seconds + self.load_seconds + self.init_seconds

    def as_dict(self) -> dict[str, float]:
        return {"download_seconds": round(self.download_seconds, 1), "load_seconds": round(self.load_seconds, 1),
                "init_seconds": self.init_seconds, "seconds": round(self.seconds, 1)}


def startup_estimate(download_bytes: int, weight_bytes: int, bandwidth_bytes_per_second: float, *,
                     cached: bool = False) -> StartupEstimate:
    """Cold start (download, then load) or, with the files already on the volume, a warm one."""
    download = 0.0 if cached else download_bytes / max(1.0, bandwidth_bytes_per_second)
    return StartupEstimate(download, weight_bytes / LOAD_BYTES_PER_SECOND, ENGINE_INIT_SECONDS)


@dataclass(frozen=True)
class FitInput:
    """One model as models.yaml and its engine flags deploy it."""

    name: str
    model_url: str
    gpus: int = 1  # requestGPU
    replicas: int = 1
    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    max_model_len: int | None = None  # None: the model's own limit
    gpu_memory_utilization: float | None = None
    dtype: str = "auto"
    kv_cache_dtype: str = "auto"
    pvc_bytes: int | None = None  # None: no cache volume
    node_selector_terms: list | None = None


@dataclass(frozen=True)
class Suggestion:
    kind: str  # "tensor-parallel", "max-model-len", "gpu-memory-utilization", "node-pool"
    text: str
    change: dict[str, Any]  # what to set in the model's models.yaml entry

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "change": self.change}


@dataclass
class FitReport:
    name: str
    model_url: str
    revision: str
    facts_source: str
    parameters: mf.Figure
    weight_bytes: mf.Figure
    download_bytes: mf.Figure
    kv_bytes_per_token: mf.Figure  # on one GPU
    gpus: int
    tensor_parallel: int
    pipeline_parallel: int
    max_model_len: int | None
    gpu_memory_bytes: int | None = None
    gpu_memory_utilization: float = DEFAULT_GPU_MEMORY_UTILIZATION
    bytes_per_gpu: int | None = None  # weights share + one full sequence + overhead
    max_kv_tokens: int | None = None
    max_fitting_model_len: int | None = None
    concurrent_sequences: int | None = None
    fits: bool | None = None  # None: not known (no facts or no GPU memory)
    startup: StartupEstimate | None = None
    startup_budget_seconds: int | None = None
    findings: list[Finding] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "model": self.model_url, "revision": self.revision, "facts": self.facts_source,
            "parameters": self.parameters.as_dict(), "weight_bytes": self.weight_bytes.as_dict(),
            "download_bytes": self.download_bytes.as_dict(), "kv_bytes_per_token": self.kv_bytes_per_token.as_dict(),
            "gpus": self.gpus, "tensor_parallel": self.tensor_parallel, "pipeline_parallel": self.pipeline_parallel,
            "max_model_len": self.max_model_len, "gpu_memory_bytes": self.gpu_memory_bytes,
            "gpu_memory_utilization": self.gpu_memory_utilization, "bytes_per_gpu": self.bytes_per_gpu,
            "max_kv_tokens": self.max_kv_tokens, "max_fitting_model_len": self.max_fitting_model_len,
            "concurrent_sequences": self.concurrent_sequences, "fits": self.fits,
            "startup": self.startup.as_dict() if self.startup else None,
            "startup_budget_seconds": self.startup_budget_seconds,
            "findings": [f.as_dict() for f in self.findings],
            "suggestions": [s.as_dict() for s in self.suggestions],
        }


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / GiB:.1f} GiB"


def pvc_required(download_bytes: int) -> int:
    return download_bytes + max(PVC_HEADROOM_MIN, int(download_bytes * PVC_HEADROOM_FRACTION))


def _gi_ceiling(n: float) -> str:
    return f"{math.ceil(n / GiB)}Gi"


def _pvc_findings(inp: FitInput, download: mf.Figure) -> list[Finding]:
    if inp.pvc_bytes is None or download.value is None:
        return []
    need = pvc_required(download.value)
    what = (f"{gib(download.value)} of model files ({download.basis}) + {gib(need - download.value)} headroom")
    if inp.pvc_bytes < need:
        return [Finding(ERROR, "pvc-size",
                        f"model {inp.name!r}: pvcStorage {gib(inp.pvc_bytes)} is below the {gib(need)} it needs "
                        f"({what}): the download would fill the volume; set pvcStorage to at least "
                        f"{_gi_ceiling(need)}")]
    if inp.pvc_bytes < need * (1 + PVC_CLOSE_FRACTION):
        return [Finding(WARNING, "pvc-size",
                        f"model {inp.name!r}: pvcStorage {gib(inp.pvc_bytes)} leaves little room over the "
                        f"{gib(need)} it needs ({what}); consider {_gi_ceiling(need * (1 + PVC_CLOSE_FRACTION))}")]
    return []


def _heads_ok(heads: tuple[int, int] | None, tp: int) -> bool:
    if heads is None:
        return True
    q, kv = heads
    return q % tp == 0 and (kv % tp == 0 or tp % kv == 0)


def _shape_findings(inp: FitInput, facts: mf.ModelFacts, mml: int | None) -> list[Finding]:
    found = []
    limit = mf.max_position_embeddings(facts)
    if inp.max_model_len and limit and inp.max_model_len > limit:
        found.append(Finding(ERROR, "max-model-len",
                             f"model {inp.name!r}: maxModelLen {inp.max_model_len} exceeds the model's "
                             f"max_position_embeddings {limit}: vLLM refuses it; set maxModelLen to at most {limit}"))
    heads = mf.attention_heads(facts)
    tp = inp.tensor_parallel
    if heads and not _heads_ok(heads, tp):
        q, kv = heads
        good = [t for t in TP_CANDIDATES if _heads_ok(heads, t)]
        found.append(Finding(ERROR, "tp-heads",
                             f"model {inp.name!r}: tensorParallelSize {tp} does not divide its {q} attention heads "
                             f"and {kv} KV heads evenly: vLLM refuses it; use one of {', '.join(map(str, good))}"))
    return found


@dataclass(frozen=True)
class _Memory:
    weights_per_gpu: int
    kv_per_token: int
    budget: int

    def need(self, tokens: int) -> int:
        return self.weights_per_gpu + self.kv_per_token * tokens + DEFAULT_OVERHEAD_BYTES

    @property
    def kv_room(self) -> int:
        return self.budget - self.weights_per_gpu - DEFAULT_OVERHEAD_BYTES


def _memory(facts: mf.ModelFacts, inp: FitInput, tp: int, gpu_bytes: int, util: float) -> _Memory | None:
    weights = mf.weight_bytes(facts, inp.dtype)
    kv = mf.kv_bytes_per_token(facts, tensor_parallel=tp, pipeline_parallel=inp.pipeline_parallel,
                               kv_cache_dtype=inp.kv_cache_dtype, dtype=inp.dtype)
    if weights.value is None or kv.value is None:
        return None
    return _Memory(-(-weights.value // (tp * inp.pipeline_parallel)), kv.value, int(gpu_bytes * util))


def _suggestions(inp: FitInput, facts: mf.ModelFacts, mml: int, util: float, gpu_bytes: int,
                 pools: list[gpu_pools.GpuPool]) -> list[Suggestion]:
    out = []
    heads = mf.attention_heads(facts)
    for tp in TP_CANDIDATES:
        if tp <= inp.tensor_parallel or not _heads_ok(heads, tp):
            continue
        mem = _memory(facts, inp, tp, gpu_bytes, util)
        if mem and mem.need(mml) <= mem.budget:
            gpus = tp * inp.pipeline_parallel
            out.append(Suggestion("tensor-parallel", f"tensorParallelSize {tp} (and requestGPU {gpus})",
                                  {"requestGPU": gpus, "vllmConfig": {"tensorParallelSize": tp}}))
            break
    mem = _memory(facts, inp, inp.tensor_parallel, gpu_bytes, util)
    if mem and mem.kv_room >= mem.kv_per_token * 256:
        longest = (mem.kv_room // mem.kv_per_token) // 256 * 256
        out.append(Suggestion("max-model-len", f"maxModelLen {longest}", {"vllmConfig": {"maxModelLen": longest}}))
    if mem:
        wanted = math.ceil(mem.need(mml) / gpu_bytes * 100) / 100
        if wanted <= MAX_SUGGESTED_UTILIZATION:
            out.append(Suggestion("gpu-memory-utilization", f"gpuMemoryUtilization {wanted:.2f}",
                                  {"vllmConfig": {"gpuMemoryUtilization": wanted}}))
    for pool in pools:
        if pool.memory_bytes <= gpu_bytes or (pool.gpus_per_node is not None and pool.gpus_per_node < inp.gpus):
            continue
        mem = _memory(facts, inp, inp.tensor_parallel, pool.memory_bytes, util)
        if mem and mem.need(mml) <= mem.budget:
            out.append(Suggestion("node-pool", f"node pool {pool.name} ({gib(pool.memory_bytes)} per GPU)",
                                  {"nodeSelectorTerms": gpu_pools.selector_for(pool)}))
            break
    return out


def assess(inp: FitInput, facts: mf.ModelFacts, *, gpu_memory_bytes: int | None = None,
           pools: list[gpu_pools.GpuPool] | None = None, bandwidth_bytes_per_second: float | None = None,
           startup_budget: int | None = None, cached: bool = False) -> FitReport:
    """Every fit figure and finding for one model."""
    util = DEFAULT_GPU_MEMORY_UTILIZATION if inp.gpu_memory_utilization is None else inp.gpu_memory_utilization
    mml = inp.max_model_len or mf.max_position_embeddings(facts)
    report = FitReport(
        name=inp.name, model_url=inp.model_url, revision=facts.revision, facts_source=facts.source,
        parameters=mf.parameters(facts), weight_bytes=mf.weight_bytes(facts, inp.dtype),
        download_bytes=mf.download_bytes(facts),
        kv_bytes_per_token=mf.kv_bytes_per_token(facts, tensor_parallel=inp.tensor_parallel,
                                                 pipeline_parallel=inp.pipeline_parallel,
                                                 kv_cache_dtype=inp.kv_cache_dtype, dtype=inp.dtype),
        gpus=inp.gpus, tensor_parallel=inp.tensor_parallel, pipeline_parallel=inp.pipeline_parallel,
        max_model_len=mml, gpu_memory_bytes=gpu_memory_bytes, gpu_memory_utilization=util,
        startup_budget_seconds=startup_budget,
    )
    if not facts.known:
        report.findings.append(Finding(WARNING, "facts-unknown",
                                       f"model {inp.name!r}: model facts unknown ({facts.problem or 'no data'}): "
                                       "disk, GPU memory and start-up were not checked"))
        return report
    report.findings += _pvc_findings(inp, report.download_bytes)
    report.findings += _shape_findings(inp, facts, mml)
    if report.download_bytes.value is not None and report.weight_bytes.value is not None and bandwidth_bytes_per_second:
        report.startup = startup_estimate(report.download_bytes.value, report.weight_bytes.value,
                                          bandwidth_bytes_per_second, cached=cached)
        if startup_budget and report.startup.seconds > startup_budget:
            report.findings.append(Finding(
                WARNING, "startup",
                f"model {inp.name!r}: a cold start takes about {report.startup.seconds / 60:.0f} min "
                f"(download {gib(report.download_bytes.value)} at the set bandwidth, then load) but the "
                f"startup probe allows {startup_budget / 60:.0f} min: the pod may be restarted before it is ready; "
                "pre-fill the cache volume or raise the probe's budget"))
    if gpu_memory_bytes is None or not mml:
        return report
    mem = _memory(facts, inp, inp.tensor_parallel, gpu_memory_bytes, util)
    if mem is None:
        return report
    report.bytes_per_gpu = mem.need(mml)
    report.max_kv_tokens = max(0, mem.kv_room // mem.kv_per_token) if mem.kv_per_token else None
    limit = mf.max_position_embeddings(facts)
    if report.max_kv_tokens is not None:
        report.max_fitting_model_len = min(report.max_kv_tokens, limit) if limit else report.max_kv_tokens
        report.concurrent_sequences = report.max_kv_tokens // mml
    report.fits = report.bytes_per_gpu <= mem.budget
    if not report.fits:
        report.suggestions = _suggestions(inp, facts, mml, util, gpu_memory_bytes, pools or [])
        hint = "; ".join(s.text for s in report.suggestions) or "use a bigger GPU"
        report.findings.append(Finding(
            ERROR, "gpu-memory",
            f"model {inp.name!r}: needs {gib(report.bytes_per_gpu)} per GPU (weights {gib(mem.weights_per_gpu)}, "
            f"KV cache {gib(mem.kv_per_token * mml)} for one {mml}-token sequence, overhead "
            f"{gib(DEFAULT_OVERHEAD_BYTES)}) but vLLM may use {gib(mem.budget)} ({util:g} x "
            f"{gib(gpu_memory_bytes)}): the engine would fail at start; try {hint}"))
    return report

"""GPU memory estimate for one model from its config.json: weights share + KV cache per GPU.

The parameter count is closed-form for dense decoder models (Llama, Qwen2, Mistral, ...), which
matches building the model on torch's meta device exactly; mixture-of-experts and quantized
models get a rough figure, flagged `exact=False`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vllmctl.core import param_count as param_count_mod
from vllmctl.core.param_count import head_dim, num_experts, num_kv_heads, text_config

GiB = 1024**3
MiB = 1024**2

# CUDA context, activations and sampler buffers vLLM keeps outside the KV cache: a rough,
# deliberately small allowance so the verdict errs towards "fits".
DEFAULT_OVERHEAD_BYTES = 1 * GiB
DEFAULT_GPU_MEMORY_UTILIZATION = 0.9

DTYPE_BYTES = {
    "float32": 4, "float": 4, "fp32": 4,
    "bfloat16": 2, "bf16": 2, "float16": 2, "half": 2, "fp16": 2,
    "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1, "fp8_inc": 1, "float8_e4m3fn": 1, "int8": 1,
}

@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    params: int
    exact: bool
    weight_dtype: str
    weight_bytes: int
    weight_bytes_per_gpu: int
    kv_bytes_per_token_per_gpu: int
    kv_bytes_per_gpu: int
    max_model_len: int
    tensor_parallel_size: int
    overhead_bytes: int

    @property
    def bytes_per_gpu(self) -> int:
        return self.weight_bytes_per_gpu + self.kv_bytes_per_gpu + self.overhead_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": self.params,
            "exact": self.exact,
            "weight_dtype": self.weight_dtype,
            "weight_bytes": self.weight_bytes,
            "weight_bytes_per_gpu": self.weight_bytes_per_gpu,
            "kv_bytes_per_token_per_gpu": self.kv_bytes_per_token_per_gpu,
            "kv_bytes_per_gpu": self.kv_bytes_per_gpu,
            "max_model_len": self.max_model_len,
            "tensor_parallel_size": self.tensor_parallel_size,
            "overhead_bytes": self.overhead_bytes,
            "bytes_per_gpu": self.bytes_per_gpu,
        }


@dataclass(frozen=True, slots=True)
class FitVerdict:
    fits: bool
    required_bytes: int
    budget_bytes: int
    gpu_memory_bytes: int
    gpu_memory_utilization: float
    message: str


def param_count(config: Mapping[str, Any]) -> tuple[int, bool]:
    """(parameters, exact): exact for dense decoders whose closed form is known."""
    parts = param_count_mod.breakdown(config)
    cfg = text_config(config)
    exact = parts.exact and not num_experts(cfg) and not cfg.get("quantization_config")
    return parts.total, exact


def weight_dtype(config: Mapping[str, Any], dtype: str = "auto") -> str:
    if dtype and dtype != "auto":
        return "bfloat16" if dtype == "bfloat16" else dtype
    cfg = text_config(config)
    found = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    # vLLM serves float32 checkpoints in 16-bit unless told otherwise.
    return "bfloat16" if found in ("float32", "float") else found


def quantized_bits(config: Mapping[str, Any]) -> tuple[str, float] | None:
    """(method, bits per weight) of a pre-quantized checkpoint's projection matrices, or None."""
    quant = text_config(config).get("quantization_config") or config.get("quantization_config") or {}
    if not isinstance(quant, Mapping) or not quant:
        return None
    method = str(quant.get("quant_method") or "").lower()
    if quant.get("load_in_4bit") or quant.get("_load_in_4bit"):
        return method or "bitsandbytes", 4.0
    if quant.get("load_in_8bit") or quant.get("_load_in_8bit"):
        return method or "bitsandbytes", 8.0
    bits = quant.get("bits") or quant.get("w_bit") or quant.get("weight_bits")
    for group in (quant.get("config_groups") or {}).values():  # compressed-tensors
        bits = bits or ((group or {}).get("weights") or {}).get("num_bits")
    if not bits and method.startswith(("fp8", "fbgemm_fp8", "modelopt")):
        bits = 8
    if not bits:
        return None
    group = int(quant.get("group_size") or quant.get("q_group_size") or 0)
    # Group-wise methods store a 16-bit scale and a packed zero point per group of weights: AWQ's
    # bytes to the byte (Qwen2.5-7B-Instruct-AWQ, Qwen3-32B-AWQ); GPTQ adds an act-order index of
    # 32 bits per input row, under 0.2 % (TheBloke/Genz-70b-GPTQ).
    overhead = (16 + int(bits)) / group if group > 0 and int(bits) < 8 else 0.0
    return method, float(bits) + overhead


def weight_bytes_from_config(config: Mapping[str, Any], dtype_name: str) -> int:
    """Bytes of the weights in GPU memory: quantized projections at their bits, the rest in 16-bit."""
    parts = param_count_mod.breakdown(config)
    width = DTYPE_BYTES.get(dtype_name, 2)
    quant = quantized_bits(config)
    if quant is None:
        return parts.total * width
    return int(parts.linear * quant[1] / 8) + (parts.other + parts.vision) * min(width, 2)


def default_max_model_len(config: Mapping[str, Any]) -> int:
    cfg = text_config(config)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        if cfg.get(key):
            return int(cfg[key])
    return 2048


def estimate(
    config: Mapping[str, Any],
    *,
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    max_model_len: int | None = None,
    kv_cache_dtype: str = "auto",
    overhead_bytes: int = DEFAULT_OVERHEAD_BYTES,
) -> MemoryEstimate:
    """Bytes one GPU needs: its share of the weights plus one full-length sequence of KV cache."""
    cfg = text_config(config)
    tp = max(1, int(tensor_parallel_size))
    params, exact = param_count(config)
    wdtype = weight_dtype(config, dtype)
    wbytes = weight_bytes_from_config(config, wdtype)
    kv_name = wdtype if kv_cache_dtype in ("auto", None, "") else kv_cache_dtype
    kv_bytes = DTYPE_BYTES.get(kv_name, 2)
    kv_heads_per_gpu = max(1, num_kv_heads(cfg) // tp)
    per_token = 2 * int(cfg["num_hidden_layers"]) * kv_heads_per_gpu * head_dim(cfg) * kv_bytes
    mml = int(max_model_len) if max_model_len else default_max_model_len(config)
    return MemoryEstimate(
        params=params,
        exact=exact,
        weight_dtype=wdtype,
        weight_bytes=wbytes,
        weight_bytes_per_gpu=-(-wbytes // tp),
        kv_bytes_per_token_per_gpu=per_token,
        kv_bytes_per_gpu=per_token * mml,
        max_model_len=mml,
        tensor_parallel_size=tp,
        overhead_bytes=overhead_bytes,
    )


def fit(
    est: MemoryEstimate,
    gpu_memory_bytes: int,
    gpu_memory_utilization: float | None = None,
) -> FitVerdict:
    """Whether the estimate fits in the share of one GPU that vLLM is allowed to use."""
    util = DEFAULT_GPU_MEMORY_UTILIZATION if gpu_memory_utilization is None else float(gpu_memory_utilization)
    budget = int(gpu_memory_bytes * util)
    need = est.bytes_per_gpu
    if need <= budget:
        msg = (
            f"needs about {gib(need)} per GPU of the {gib(budget)} vLLM may use "
            f"({util:g} x {gib(gpu_memory_bytes)})."
        )
        return FitVerdict(True, need, budget, gpu_memory_bytes, util, msg)
    msg = (
        f"needs about {gib(need)} per GPU (weights {gib(est.weight_bytes_per_gpu)}, KV cache "
        f"{gib(est.kv_bytes_per_gpu)} for {est.max_model_len} tokens) but vLLM may use only "
        f"{gib(budget)} ({util:g} x {gib(gpu_memory_bytes)}); raise tensorParallelSize, lower "
        f"maxModelLen or use a bigger GPU."
    )
    return FitVerdict(False, need, budget, gpu_memory_bytes, util, msg)


def gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


_UNITS = {
    "": MiB, "mi": MiB, "mib": MiB, "m": 10**6, "mb": 10**6,
    "gi": GiB, "gib": GiB, "g": 10**9, "gb": 10**9,
    "ti": 1024**4, "tib": 1024**4, "t": 10**12, "tb": 10**12,
}


def parse_memory(text: str | int) -> int:
    """'80Gi', '80GB', '81920Mi' or a bare number of MiB (as GPU feature discovery writes)."""
    if isinstance(text, int):
        return text * MiB
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"cannot read {text!r} as an amount of GPU memory; use e.g. 80Gi or 81920Mi")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


GPU_MEMORY_LABELS = ("nvidia.com/gpu.memory",)


def gpu_memory_from_labels(labels: Mapping[str, str]) -> int | None:
    """Bytes per GPU from a node's GPU feature discovery labels (MiB), or None."""
    for key in GPU_MEMORY_LABELS:
        value = labels.get(key)
        if value:
            try:
                return parse_memory(value)
            except ValueError:
                return None
    return None


def gpu_memory_per_gpu(nodes_labels: Iterable[Mapping[str, str]], fallback: str | int | None = None) -> int | None:
    """Memory of one GPU for estimates: the smallest labelled GPU among the nodes (a model may land
    on any of them), else the `--gpu-memory` setting, else None."""
    sizes = [b for b in (gpu_memory_from_labels(labels) for labels in nodes_labels) if b]
    if sizes:
        return min(sizes)
    if fallback in (None, ""):
        return None
    return parse_memory(fallback)

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

# Model types whose q/k/v projections carry a bias though config.json does not say so.
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl"}


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


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Multimodal configs nest the language model's settings under text_config."""
    inner = config.get("text_config") or config.get("llm_config")
    if isinstance(inner, Mapping) and inner.get("hidden_size"):
        merged = dict(config)
        merged.update(inner)
        return merged
    return config


def head_dim(cfg: Mapping[str, Any]) -> int:
    return int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])


def num_kv_heads(cfg: Mapping[str, Any]) -> int:
    return int(cfg.get("num_key_value_heads") or cfg["num_attention_heads"])


def _num_experts(cfg: Mapping[str, Any]) -> int:
    for key in ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"):
        if cfg.get(key):
            return int(cfg[key])
    return 0


def param_count(config: Mapping[str, Any]) -> tuple[int, bool]:
    """(parameters, exact): exact for dense decoders with gated MLPs."""
    cfg = text_config(config)
    hidden = int(cfg["hidden_size"])
    layers = int(cfg["num_hidden_layers"])
    vocab = int(cfg["vocab_size"])
    heads = int(cfg["num_attention_heads"])
    hd = head_dim(cfg)
    kv = num_kv_heads(cfg)
    inter = int(cfg.get("intermediate_size") or 4 * hidden)

    q, kvp = heads * hd, kv * hd
    attn = hidden * q + 2 * hidden * kvp + q * hidden
    if cfg.get("attention_bias") or cfg.get("model_type") in _QKV_BIAS_TYPES:
        attn += q + 2 * kvp
    experts = _num_experts(cfg)
    if experts:
        expert_inter = int(cfg.get("moe_intermediate_size") or inter)
        shared = int(cfg.get("n_shared_experts") or 0) * expert_inter
        shared += int(cfg.get("shared_expert_intermediate_size") or 0)
        mlp = experts * 3 * hidden * expert_inter + 3 * hidden * shared + hidden * experts
    else:
        mlp = 3 * hidden * inter
    per_layer = attn + mlp + 2 * hidden
    embed = vocab * hidden
    lm_head = 0 if cfg.get("tie_word_embeddings", False) else vocab * hidden
    total = layers * per_layer + embed + lm_head + hidden
    exact = not experts and not cfg.get("quantization_config") and cfg.get("hidden_act", "silu") != "gelu"
    return total, exact


def weight_dtype(config: Mapping[str, Any], dtype: str = "auto") -> str:
    if dtype and dtype != "auto":
        return "bfloat16" if dtype == "bfloat16" else dtype
    cfg = text_config(config)
    found = str(cfg.get("torch_dtype") or cfg.get("dtype") or "bfloat16")
    # vLLM serves float32 checkpoints in 16-bit unless told otherwise.
    return "bfloat16" if found in ("float32", "float") else found


def _weight_bytes(params: int, config: Mapping[str, Any], dtype_name: str) -> int:
    quant = text_config(config).get("quantization_config") or {}
    bits = quant.get("bits") or quant.get("w_bit")
    if not bits and str(quant.get("quant_method", "")).startswith("fp8"):
        bits = 8
    if bits:
        return int(params * int(bits) / 8)
    return params * DTYPE_BYTES.get(dtype_name, 2)


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
    wbytes = _weight_bytes(params, config, wdtype)
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

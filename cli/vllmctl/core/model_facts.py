"""What is known about one model repository at one revision, and the figures derived from it.

Facts come from the Hugging Face Hub (adapters/hf_facts.py) or the on-disk cache; this module only
reads them. Every figure says how it was obtained: `exact` (the Hub's safetensors metadata or file
sizes), `estimated` (closed forms over config.json), or `unknown` (no facts: nothing is guessed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vllmctl.core import gpu_memory as gm
from vllmctl.core import param_count

EXACT, ESTIMATED, UNKNOWN = "exact", "estimated", "unknown"

# Bytes per element of each safetensors dtype as the Hub names them.
SAFETENSORS_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
    "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
}
_FLOATS = {"F64", "F32", "F16", "BF16"}
_WEIGHT_SUFFIXES = ((".safetensors",), (".bin", ".pt", ".pth"))
# Files vLLM fetches beside the weights (configuration, tokenizer, chat template).
_SMALL_SUFFIXES = (".json", ".txt", ".model", ".tiktoken", ".jinja")
# Layer kinds that keep a KV cache for the full sequence.
_FULL_ATTENTION = {"full_attention", "attention"}


@dataclass(frozen=True)
class Figure:
    value: int | None
    basis: str  # EXACT, ESTIMATED or UNKNOWN

    @property
    def known(self) -> bool:
        return self.value is not None

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "basis": self.basis}


NOT_KNOWN = Figure(None, UNKNOWN)


@dataclass(frozen=True)
class ModelFacts:
    repo: str
    revision: str  # as models.yaml asks for it (modelRevision, else main)
    sha: str | None = None  # the commit the revision resolved to
    config: dict[str, Any] | None = None
    safetensors: dict[str, int] | None = None  # parameters per dtype, as the Hub counts them
    files: dict[str, int] = field(default_factory=dict)  # path -> bytes, where the Hub gave a size
    gated: bool | str = False
    source: str = "hub"  # "hub", "cache" or "unknown"
    fetched_at: str | None = None
    problem: str | None = None  # why the facts are unknown or stale

    @property
    def known(self) -> bool:
        return self.config is not None or bool(self.safetensors)

    def as_dict(self) -> dict[str, Any]:
        return {
            "repo": self.repo, "revision": self.revision, "sha": self.sha, "config": self.config,
            "safetensors": self.safetensors, "files": self.files, "gated": self.gated,
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "cache") -> ModelFacts:
        return cls(
            repo=str(data["repo"]), revision=str(data.get("revision") or "main"), sha=data.get("sha"),
            config=data.get("config"), safetensors=data.get("safetensors") or None,
            files={str(k): int(v) for k, v in (data.get("files") or {}).items()},
            gated=data.get("gated", False), source=source, fetched_at=data.get("fetched_at"),
        )


def unknown(repo: str, revision: str, why: str) -> ModelFacts:
    return ModelFacts(repo, revision, source="unknown", problem=why)


def _quantized(facts: ModelFacts) -> bool:
    return facts.config is not None and bool(facts.config) and gm.quantized_bits(facts.config) is not None


def parameters(facts: ModelFacts) -> Figure:
    """The Hub's safetensors count (exact) unless the checkpoint is quantized (packed integers
    there are not parameters); else the closed form over config.json."""
    if facts.safetensors and not _quantized(facts):
        return Figure(sum(facts.safetensors.values()), EXACT)
    if facts.config:
        try:
            return Figure(param_count.breakdown(facts.config).total, ESTIMATED)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return NOT_KNOWN
    return NOT_KNOWN


def weight_dtype(facts: ModelFacts, dtype: str = "auto") -> str:
    return gm.weight_dtype(facts.config or {}, dtype)


def weight_bytes(facts: ModelFacts, dtype: str = "auto") -> Figure:
    """Bytes of the weights in GPU memory (all GPUs together)."""
    if facts.safetensors and _quantized(facts):
        return _stored_bytes(facts.config or {}, facts.safetensors)
    if facts.safetensors:
        served = gm.DTYPE_BYTES.get(weight_dtype(facts, dtype), 2)
        total = 0
        for name, count in facts.safetensors.items():
            width = SAFETENSORS_BYTES.get(name.upper(), 2)
            total += count * (width if name.upper() not in _FLOATS else served)
        return Figure(total, EXACT)
    if facts.config:
        try:
            return Figure(gm.weight_bytes_from_config(facts.config, weight_dtype(facts, dtype)), ESTIMATED)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return NOT_KNOWN
    return NOT_KNOWN


def _stored_bytes(config: Mapping[str, Any], counts: Mapping[str, int]) -> Figure:
    """A quantized checkpoint is loaded as stored. The Hub counts a packed integer dtype by the
    weights it holds (Qwen/Qwen2.5-7B-Instruct-AWQ: I32 6,525,288,448, its projections' weights,
    for 822,033,408 stored int32), so a count near the projections' weights is sized at the
    quantization's bits per weight, scales and zero points included. A count of stored elements
    (at most half of them below 8 bits, where both readings agree) is sized at its width."""
    bits = (gm.quantized_bits(config) or ("", 16.0))[1]
    try:
        linear = param_count.breakdown(config).linear
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        linear = 0
    total, basis = 0, EXACT
    for name, count in counts.items():
        stored = count * SAFETENSORS_BYTES.get(name.upper(), 2)
        packed = int(count * bits / 8)
        if name.upper() not in _FLOATS and linear and count >= linear * 3 // 4 and packed != stored:
            total, basis = total + packed, ESTIMATED
        else:
            total += stored
    return Figure(total, basis)


def download_bytes(facts: ModelFacts) -> Figure:
    """What the engine downloads into the cache: one weight format (safetensors first, as vLLM's
    loader prefers) plus the small files beside it."""
    top = {p: n for p, n in facts.files.items() if "/" not in p}
    small = sum(n for p, n in top.items() if p.endswith(_SMALL_SUFFIXES))
    for suffixes in _WEIGHT_SUFFIXES:
        weights = [n for p, n in top.items() if p.endswith(suffixes)]
        if weights:
            return Figure(sum(weights) + small, EXACT)
    stored = weight_bytes(facts)
    if stored.value is None:
        return NOT_KNOWN
    return Figure(stored.value + small, ESTIMATED if stored.basis != EXACT or not small else EXACT)


def max_position_embeddings(facts: ModelFacts) -> int | None:
    if not facts.config:
        return None
    cfg = param_count.text_config(facts.config)
    for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        if cfg.get(key):
            return int(cfg[key])
    return None


def attention_heads(facts: ModelFacts) -> tuple[int, int] | None:
    """(attention heads, KV heads) of the language model."""
    if not facts.config:
        return None
    cfg = param_count.text_config(facts.config)
    try:
        return int(cfg["num_attention_heads"]), param_count.num_kv_heads(cfg)
    except (KeyError, TypeError, ValueError):
        return None


def kv_bytes_per_token(facts: ModelFacts, *, tensor_parallel: int = 1, pipeline_parallel: int = 1,
                       kv_cache_dtype: str = "auto", dtype: str = "auto") -> Figure:
    """KV cache bytes one token takes on one GPU: 2 (K and V) x layers on this GPU x KV heads on
    this GPU x head_dim x bytes. Exact for full attention; an upper bound (estimated) when some
    layers use a sliding window, which vLLM allocates less for."""
    if not facts.config:
        return NOT_KNOWN
    cfg = param_count.text_config(facts.config)
    try:
        layers = int(cfg["num_hidden_layers"])
        kv_heads = max(1, param_count.num_kv_heads(cfg) // max(1, tensor_parallel))
        hd = param_count.head_dim(cfg)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return NOT_KNOWN
    name = weight_dtype(facts, dtype) if kv_cache_dtype in ("auto", "", None) else kv_cache_dtype
    width = gm.DTYPE_BYTES.get(name, 1 if name.startswith("fp8") else 2)
    per_gpu_layers = -(-layers // max(1, pipeline_parallel))
    if cfg.get("kv_lora_rank"):  # multi-head latent attention caches one latent vector per layer
        latent = int(cfg["kv_lora_rank"]) + int(cfg.get("qk_rope_head_dim") or 0)
        return Figure(per_gpu_layers * latent * width, ESTIMATED)
    types = cfg.get("layer_types")
    windowed = bool(cfg.get("sliding_window") and cfg.get("use_sliding_window", True))
    hybrid = windowed or (isinstance(types, list) and any(t not in _FULL_ATTENTION for t in types))
    return Figure(2 * per_gpu_layers * kv_heads * hd * width, ESTIMATED if hybrid else EXACT)

"""Parameter counts from config.json, split the way quantizers split a model.

AWQ, GPTQ, FP8 and bitsandbytes quantize the projection matrices of the decoder layers (`linear`);
embeddings, the LM head, norms, biases, MoE routers (`other`) and a multimodal model's vision
tower (`vision`) stay in 16-bit. Weight bytes therefore need the split, not only the total.

The closed forms below reproduce the Hub's safetensors totals to the parameter for Llama, Qwen2,
Qwen3(-MoE), Mistral, Mixtral, Phi-2, Gemma 3 and Qwen2-VL (tests/unit/data/model_facts/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# q/k/v projections carry a bias though config.json does not say so.
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl"}
# Per-head RMSNorm on queries and keys.
_QK_NORM_TYPES = {"qwen3", "qwen3_moe", "gemma3", "gemma3_text"}
# Two-matrix MLP (fc1, activation, fc2) with biases everywhere, LayerNorm with bias.
_BIASED_TYPES = {"phi", "gpt2", "gpt_bigcode", "gpt_neox", "opt", "bloom", "starcoder2", "falcon"}
# Attention and MLP side by side after one norm.
_PARALLEL_TYPES = {"phi"}
# Norms before and after both attention and MLP.
_FOUR_NORM_TYPES = {"gemma2", "gemma3", "gemma3_text"}
# Tie the LM head to the embeddings unless config.json says otherwise.
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text"}


@dataclass(frozen=True, slots=True)
class ParamBreakdown:
    linear: int  # decoder-layer projection weights: what weight quantization shrinks
    other: int  # embeddings, LM head, norms, biases, routers
    vision: int  # vision tower and projector of a multimodal model
    exact: bool  # the closed form is known to be exact for this architecture

    @property
    def total(self) -> int:
        return self.linear + self.other + self.vision


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """Multimodal configs nest the language model's settings under text_config."""
    inner = config.get("text_config") or config.get("llm_config")
    if isinstance(inner, Mapping) and inner.get("hidden_size"):
        merged = {k: v for k, v in config.items() if k != "vision_config"}
        merged.update(inner)
        return merged
    return config


def head_dim(cfg: Mapping[str, Any]) -> int:
    return int(cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"])


def num_kv_heads(cfg: Mapping[str, Any]) -> int:
    return int(cfg.get("num_key_value_heads") or cfg.get("multi_query_group_num") or cfg["num_attention_heads"])


def num_experts(cfg: Mapping[str, Any]) -> int:
    for key in ("num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"):
        if cfg.get(key):
            return int(cfg[key])
    return 0


def _decoder(cfg: Mapping[str, Any]) -> tuple[int, int, bool]:
    """(linear, other, exact) of the language model."""
    kind = str(cfg.get("model_type", ""))
    hidden = int(cfg["hidden_size"])
    layers = int(cfg["num_hidden_layers"])
    vocab = int(cfg["vocab_size"])
    heads = int(cfg["num_attention_heads"])
    hd = head_dim(cfg)
    kv = num_kv_heads(cfg)
    inter = int(cfg.get("intermediate_size") or 4 * hidden)
    biased = kind in _BIASED_TYPES

    q, kvp = heads * hd, kv * hd
    linear = hidden * q + 2 * hidden * kvp + q * hidden
    other = 0
    if biased:
        other += q + 2 * kvp + hidden
    elif cfg.get("attention_bias") or kind in _QKV_BIAS_TYPES:
        other += q + 2 * kvp
    if kind in _QK_NORM_TYPES:
        other += 2 * hd
    experts = num_experts(cfg)
    if experts:
        expert_inter = int(cfg.get("moe_intermediate_size") or inter)
        shared = int(cfg.get("n_shared_experts") or 0) * expert_inter
        shared += int(cfg.get("shared_expert_intermediate_size") or 0)
        linear += experts * 3 * hidden * expert_inter + 3 * hidden * shared
        other += hidden * experts + (hidden if cfg.get("shared_expert_intermediate_size") else 0)
    elif biased:
        linear += 2 * hidden * inter
        other += inter + hidden
    else:
        linear += 3 * hidden * inter
    norm = 2 * hidden if biased else hidden  # LayerNorm weight + bias, or RMSNorm weight
    other += norm * (4 if kind in _FOUR_NORM_TYPES else 1 if kind in _PARALLEL_TYPES else 2)

    tied = cfg.get("tie_word_embeddings", kind in _TIED_BY_DEFAULT)
    head = 0 if tied else vocab * hidden + (vocab if biased else 0)
    total_other = layers * other + vocab * hidden + head + norm
    exact = not cfg.get("kv_lora_rank") and not cfg.get("first_k_dense_replace")
    return layers * linear, total_other, exact


def _vision(config: Mapping[str, Any], text_hidden: int) -> int:
    """A ViT-style vision tower (SigLIP, CLIP, Qwen2-VL) with its projector into the text model."""
    vc = config.get("vision_config")
    if not isinstance(vc, Mapping):
        return 0
    width = int(vc.get("embed_dim") or vc.get("hidden_size") or 0)
    layers = int(vc.get("depth") or vc.get("num_hidden_layers") or 0)
    if not width or not layers:
        return 0
    inter = int(vc.get("intermediate_size") or (vc.get("mlp_ratio") or 4) * width)
    channels = int(vc.get("in_chans") or vc.get("num_channels") or 3)
    patch = int(vc.get("patch_size") or 14)
    per_layer = 4 * width * width + 4 * width + 2 * width * inter + inter + width + 4 * width
    total = layers * per_layer
    merge = int(vc.get("spatial_merge_size") or 0)
    if merge:  # Qwen2-VL: conv3d patch embedding without bias, patch merger MLP
        temporal = int(vc.get("temporal_patch_size") or 1)
        total += channels * temporal * patch * patch * width
        merged = width * merge * merge
        total += 2 * width + merged * merged + merged + merged * text_hidden + text_hidden
        return total
    total += channels * patch * patch * width + width + 2 * width  # patch embedding, post-norm
    if vc.get("image_size"):
        total += (int(vc["image_size"]) // patch) ** 2 * width  # learned position embeddings
    total += width * text_hidden + width  # projection into the text model (+ its input norm)
    return total


def breakdown(config: Mapping[str, Any]) -> ParamBreakdown:
    """Parameters of a decoder-only language model (and its vision tower) from config.json."""
    cfg = text_config(config)
    linear, other, exact = _decoder(cfg)
    vision = _vision(config, int(cfg["hidden_size"]))
    return ParamBreakdown(linear, other, vision, exact)

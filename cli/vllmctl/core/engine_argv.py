"""The `vllm serve` command line the vllm-stack chart builds for one modelSpec.

Mirrors the chart's engine Deployment template (see reference/chart-vllm-stack.md) so that
engine flags can be checked before a rollout. Every token carries where it came from, so a
problem can be reported against the models.yaml field that produced it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

# Provenance origins.
CHART = "chart"  # fixed by the chart template (model, host, port, lmcache flags)
VALUES = "values"  # produced from a modelSpec key (enableTool, vllmConfig.maxModelLen, ...)
RENDERING = "rendering"  # extraArgs items vllmctl itself adds (--served-model-name <name>)
USER = "user"  # extraArgs items the user wrote in models.yaml

Source = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ArgToken:
    """One argv element after `vllm serve`.

    `source` is the path inside the rendered modelSpec, e.g. ("vllmConfig", "maxModelLen") or
    ("vllmConfig", "extraArgs", 3); `user_index` is the position among the extraArgs the user
    wrote (models.yaml order), or None for tokens the user did not write as an extra arg.
    """

    value: str
    source: Source
    origin: str
    user_index: int | None = None

    def where(self) -> str:
        return describe_source(self.source)


def describe_source(source: Source) -> str:
    """("vllmConfig", "extraArgs", 3) -> "vllmConfig.extraArgs[3]"."""
    out = ""
    for part in source:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "chart"


def models_yaml_path(token: ArgToken) -> Source:
    """Where a token comes from inside its models.yaml model entry (mirrors core.render.model_view:
    keys map one to one, except enableTool, which rendering derives from toolCallParser, and the
    extraArgs, which follow rendering's own leading items)."""
    if token.origin == USER and token.user_index is not None and token.source[:2] == ("vllmConfig", "extraArgs"):
        return ("vllmConfig", "extraArgs", token.user_index)
    if token.origin == RENDERING:
        return ("name",)
    if token.origin == CHART:
        return ()
    if token.source == ("enableTool",):
        return ("toolCallParser",)
    return token.source


def _version_tuple(chart_version: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", chart_version.split("-")[0].split("+")[0])
    return tuple(int(n) for n in nums[:3]) or (0, 1, 12)


def go_string(value: Any) -> str:
    """How the chart's `quote` prints a value that went through Helm's values parsing.

    Helm reads values through JSON, so every number is a float64 and prints with Go's %v:
    1000000 becomes "1e+06" (which vLLM then refuses), 0.9 stays "0.9", true is "true".
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, int | float):
        return _go_float(float(value))
    return str(value)


def _go_float(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    digits, exp = _shortest_digits(abs(f))
    # strconv's shortest 'g' format switches to an exponent from 1e+06 on, or below 1e-04.
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        text = f"{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    elif exp >= 0:
        text = digits[: exp + 1].ljust(exp + 1, "0")
        if digits[exp + 1 :]:
            text += "." + digits[exp + 1 :]
    else:
        text = "0." + "0" * (-exp - 1) + digits
    return ("-" if f < 0 else "") + text


def _shortest_digits(f: float) -> tuple[str, int]:
    """Shortest round-trip significant digits of f > 0 and its exponent (d.ddd x 10^exp)."""
    mant, _, e = f"{f!r}".lower().partition("e")
    exp = int(e or 0)
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    raw = ip + fp
    stripped = raw.lstrip("0")
    exp += len(ip) - 1 - (len(raw) - len(stripped))
    return stripped.rstrip("0") or "0", exp


def _served_name_prefix(extra: list[Any], name: Any) -> int:
    """How many leading extraArgs are the `--served-model-name <name>` rendering adds."""
    if len(extra) >= 2 and extra[0] == "--served-model-name" and name is not None and extra[1] == name:
        return 2
    return 0


def engine_argv(
    model_spec: Mapping[str, Any],
    chart_version: str,
    *,
    rendered_extra_args: Collection[int] | None = None,
    container_port: int | str = 8000,
) -> list[ArgToken]:
    """The argv after `vllm serve` that the chart runs for one rendered modelSpec entry.

    `rendered_extra_args` names the vllmConfig.extraArgs indices vllmctl's rendering added; when
    None, a leading `--served-model-name <modelSpec.name>` pair is taken as added by rendering.
    """
    version = _version_tuple(chart_version)
    out: list[ArgToken] = []

    def add(value: Any, source: Source, origin: str = VALUES, user_index: int | None = None) -> None:
        out.append(ArgToken(go_string(value), source, origin, user_index))

    add(model_spec.get("modelURL", ""), ("modelURL",))
    add("--host", (), CHART)
    add("0.0.0.0", (), CHART)
    add("--port", (), CHART)
    add(container_port, (), CHART)
    if model_spec.get("enableLoRA"):
        add("--enable-lora", ("enableLoRA",))
    if model_spec.get("enableTool"):
        add("--enable-auto-tool-choice", ("enableTool",))
    if model_spec.get("toolCallParser"):
        add("--tool-call-parser", ("toolCallParser",))
        add(model_spec["toolCallParser"], ("toolCallParser",))

    # The template uses `with`, which skips an empty map as well as a missing one.
    cfg = model_spec.get("vllmConfig")
    if cfg:
        _vllm_config_args(cfg, version, add, model_spec, rendered_extra_args)

    lmcache = model_spec.get("lmcacheConfig")
    if lmcache and lmcache.get("enabled"):
        add("--kv-transfer-config", ("lmcacheConfig", "enabled"), CHART)
        add(_lmcache_kv_config(lmcache, cfg or {}), ("lmcacheConfig",), CHART)
    if model_spec.get("chatTemplate"):
        add("--chat-template", ("chatTemplate",))
        add(f"/templates/{go_string(model_spec['chatTemplate'])}", ("chatTemplate",))
    return out


def _vllm_config_args(cfg, version, add, model_spec, rendered_extra_args) -> None:
    if "enableChunkedPrefill" in cfg:
        flag = "--enable-chunked-prefill" if cfg["enableChunkedPrefill"] else "--no-enable-chunked-prefill"
        add(flag, ("vllmConfig", "enableChunkedPrefill"))
    # Absent counts as false in the chart: prefix caching is switched off unless asked for.
    add(
        "--enable-prefix-caching" if cfg.get("enablePrefixCaching") else "--no-enable-prefix-caching",
        ("vllmConfig", "enablePrefixCaching"),
    )
    for key, flag in _VALUE_KEYS:
        if key in cfg:
            add(flag, ("vllmConfig", key))
            add(cfg[key], ("vllmConfig", key))
    if version >= (0, 1, 9):
        # Assumed mapping for the keys 0.1.9 added (the reference lists the keys, not the flags).
        for key, flag in (("runner", "--runner"), ("convert", "--convert")):
            if cfg.get(key):
                add(flag, ("vllmConfig", key))
                add(cfg[key], ("vllmConfig", key))
    extra = cfg.get("extraArgs") or []
    if rendered_extra_args is None:
        rendered = set(range(_served_name_prefix(extra, model_spec.get("name"))))
    else:
        rendered = set(rendered_extra_args)
    user_i = 0
    for i, item in enumerate(extra):
        if i in rendered:
            add(item, ("vllmConfig", "extraArgs", i), RENDERING)
        else:
            add(item, ("vllmConfig", "extraArgs", i), USER, user_i)
            user_i += 1


_VALUE_KEYS = (
    ("maxModelLen", "--max-model-len"),
    ("dtype", "--dtype"),
    ("tensorParallelSize", "--tensor-parallel-size"),
    ("maxNumSeqs", "--max-num-seqs"),
    ("gpuMemoryUtilization", "--gpu_memory_utilization"),
    ("maxLoras", "--max_loras"),
)


def _lmcache_kv_config(lmcache: Mapping[str, Any], cfg: Mapping[str, Any]) -> str:
    role = lmcache.get("kvRole") or "kv_both"
    if "enablePD" in lmcache:
        port = go_string(lmcache.get("nixlRole"))
        return (
            f'{{"kv_connector":"LMCacheConnectorV1","kv_role":"{role}","kv_connector_extra_config":'
            f'{{"discard_partial_chunks": false, "lmcache_rpc_port": "{port}"}}}}'
        )
    if "v0" in cfg and go_string(cfg["v0"]) == "1":
        return f'{{"kv_connector":"LMCacheConnector","kv_role":"{role}"}}'
    return f'{{"kv_connector":"LMCacheConnectorV1","kv_role":"{role}"}}'


def argv_strings(tokens: list[ArgToken]) -> list[str]:
    return [t.value for t in tokens]

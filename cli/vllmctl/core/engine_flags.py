"""What a model asks of vLLM through its own flags, read with vLLM's argument parser (core.engine_args)
rather than a regex, so every spelling counts: `-tp 2`, `--tensor-parallel-size=2`,
`--tensor_parallel_size 2`, an abbreviation. Used by models.yaml validation (GPU math, secrets),
rendering (tensor parallelism folded into the chart's own key) and the chart check."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vllmctl.core.engine_argv import USER, ArgToken

TENSOR = "tensor_parallel_size"
PIPELINE = "pipeline_parallel_size"
# Flags whose value is a secret: the engines get both from Secrets, so a value here would sit in
# the pod spec and the Helm release for anyone who can read them.
SECRET_FLAGS = {"api_key": "vllmctl set-api-key", "hf_token": "vllmctl set-hf-token"}
# Shapes of the secrets vllmctl handles: Hugging Face tokens (hf_...), `sk-` keys as OpenAI-style
# clients use them, and keys like the 48 random characters `set-api-key` generates. A prefixed value
# counts when its body is one run of letters and digits or looks random; an unprefixed one only when
# it looks random (upper and lower case and digits), which names and commit hashes never do.
_PREFIXED = re.compile(r"\b(?:hf_|sk-(?:proj-)?)([A-Za-z0-9_-]{20,})")
_LONG = re.compile(r"\b[A-Za-z0-9]{32,}\b")
EXTRA_ARGS = ("vllmConfig", "extraArgs")


def _random(text: str) -> bool:
    return any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text)


def looks_secret(text: str) -> bool:
    """Whether a value holds something shaped like a token or key (a literal secret)."""
    if any(m.group(1).isalnum() or _random(m.group(1)) for m in _PREFIXED.finditer(text)):
        return True
    return any(_random(m.group()) for m in _LONG.finditer(text))


@dataclass(frozen=True)
class Flag:
    dest: str
    flag: str  # the option string it matched, e.g. --tensor-parallel-size
    value: object  # what vLLM stores; None when the value does not convert
    indices: tuple[int, ...]  # the extraArgs items it spans (the flag, then separate values)


def _spec(tag: str | None):
    from vllmctl.core.engine_args import spec_for_tag

    return spec_for_tag(tag)[0]


def flags(args: Sequence[str], tag: str | None = None) -> list[Flag]:
    """The flags of a list of extraArgs, in order (the image tag picks vLLM's argument data)."""
    if not args:
        return []
    from vllmctl.core.engine_args import occurrences

    tokens = [ArgToken(str(a), (*EXTRA_ARGS, i), USER, i) for i, a in enumerate(args)]
    out = []
    for o in occurrences(tokens, _spec(tag)):
        indices = tuple(t.user_index for t in (o.token, *o.value_tokens) if t.user_index is not None)
        out.append(Flag(o.opt["dest"], o.flag, o.value, indices))
    return out


@dataclass(frozen=True)
class Parallelism:
    tensor: int = 1
    pipeline: int = 1
    tensor_at: tuple = ()  # where in the models.yaml entry the tensor size is set (() = default)
    pipeline_at: tuple = ()
    fold: tuple[int, ...] = ()  # extraArgs items (a TP flag and its value) rendering moves to the chart key
    chart_key: int | None = None  # the vllmConfig.tensorParallelSize rendering sets, when it sets one

    @property
    def size(self) -> int:
        return self.tensor * self.pipeline

    @property
    def at(self) -> tuple:
        """Where the parallelism comes from, for messages: the tensor size, else the pipeline size."""
        return (self.tensor_at if self.tensor > 1 else ()) or self.pipeline_at or self.tensor_at


@dataclass(frozen=True)
class _Size:
    value: int
    indices: tuple[int, ...]


def _last_int(found: list[Flag]) -> _Size | None:
    """The last of `found` when its value is a positive integer."""
    last = found[-1] if found else None
    if last is not None and isinstance(last.value, int) and last.value >= 1:
        return _Size(last.value, last.indices)
    return None


def parallelism(config_tp: int | None, args: Sequence[str], tag: str | None = None,
                config_pp: int | None = None) -> Parallelism:
    """Effective tensor x pipeline parallelism of a model: vllmConfig.tensorParallelSize and
    pipelineParallelSize, then its extraArgs (the chart puts extraArgs after vllmConfig's flags, so
    the last one wins).

    The chart mounts /dev/shm only when vllmConfig.tensorParallelSize is present, so rendering
    moves a single TP flag from extraArgs there (`fold`), and sets the key to 1 when only pipeline
    parallelism asks for shared memory. A TP flag given twice, or beside the key, stays where it
    is: the engine-flag check reports that clash, and the chart check the missing shm it causes."""
    found = flags(args, tag)
    tp = [f for f in found if f.dest == TENSOR]
    pp = [f for f in found if f.dest == PIPELINE]
    tensor_at: tuple[str | int, ...]
    pipeline_at: tuple[str | int, ...]
    tensor, tensor_at = (config_tp, ("vllmConfig", "tensorParallelSize")) if config_tp else (1, ())
    last_tp, last_pp = _last_int(tp), _last_int(pp)
    if last_tp:
        tensor, tensor_at = last_tp.value, (*EXTRA_ARGS, last_tp.indices[0])
    pipeline, pipeline_at = (config_pp, ("vllmConfig", "pipelineParallelSize")) if config_pp else (1, ())
    if last_pp:
        pipeline, pipeline_at = last_pp.value, (*EXTRA_ARGS, last_pp.indices[0])
    fold: tuple[int, ...] = ()
    chart_key: int | None = None
    if config_tp is None and len(tp) == 1 and last_tp:
        fold, chart_key = last_tp.indices, last_tp.value
    elif config_tp is None and not tp and tensor * pipeline > 1:
        chart_key = 1
    return Parallelism(tensor, pipeline, tensor_at, pipeline_at, fold, chart_key)


def secret_flags(args: Iterable[str], tag: str | None = None) -> list[Flag]:
    """The extraArgs flags that carry (or ask for) a secret: --api-key, --hf-token."""
    return [f for f in flags(list(args), tag) if f.dest in SECRET_FLAGS]


def secret_flag_message(f: Flag) -> str:
    what = "the API key" if f.dest == "api_key" else "the Hugging Face token"
    return (f"{f.flag} would put {what} into the pod spec and the Helm release values; remove it and store "
            f"it with `{SECRET_FLAGS[f.dest]}` (the engines read it from its Secret)")

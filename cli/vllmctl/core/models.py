"""The models.yaml schema: one entry per model, as the buun-stack module reads it, plus what users
need and the chart supports. Keys keep the chart's camelCase spelling so entries read the same in
models.yaml and in the rendered values."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from vllmctl.core import kube_names
from vllmctl.core.duration import seconds
from vllmctl.core.engine_flags import (
    EXTRA_ARGS,
    Parallelism,
    looks_secret,
    parallelism,
    secret_flag_message,
    secret_flags,
)
from vllmctl.core.lora import Lora
from vllmctl.core.lora import entry_problems as lora_problems
from vllmctl.core.model_defaults import DEFAULTS
from vllmctl.core.problems import shown
from vllmctl.core.quantity import QuantityError, bytes_quantity, parse_quantity
from vllmctl.core.routing import LMCache
from vllmctl.core.routing import entry_problems as routing_problems

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
EXTENDED_RESOURCE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
# Set by vllmctl from Secret references; a literal value here would put a secret into Helm values.
RESERVED_ENV = {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "VLLM_API_KEY", "HF_HOME"}
# The longest suffix the chart appends to "<release>-<name>": the engine Service, a DNS-1035 label.
LONGEST_SUFFIX = "-engine-service"
MAX_OBJECT_NAME = 63
NO_LITERALS = ("secrets never go into models.yaml: store them with `vllmctl set-hf-token` / `vllmctl set-api-key` "
               "(the pods read them from Secrets)")


def _size(value: object) -> str:
    try:
        return bytes_quantity(value)
    except QuantityError as e:
        raise ValueError(str(e)) from None


def _cache_size(value: object) -> str:
    # An empty string is the chart's way to say "no cache volume" (the model is downloaded to /tmp).
    return "" if value == "" else _size(value)


def _scalar_text(value: object) -> object:
    """A YAML scalar as the text a process sees (an unquoted 8000, 0.9 or true reads as a number or
    a bool); None passes on to the string check, which reports it as empty."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"must be a string, a number or true or false, got {shown(value)}")


# Validation turns what YAML read into the text the chart and the engine take.
Size = Annotated[str, BeforeValidator(_size)]
CacheSize = Annotated[str, BeforeValidator(_cache_size)]
Text = Annotated[StrictStr, BeforeValidator(_scalar_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _kube(check, value):
    """A core.kube_names check as a validator: the value, or ValueError with the reason."""
    reason = check(value)
    if reason:
        raise ValueError(reason)
    return value


class MatchExpression(_Strict):
    key: StrictStr
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[StrictStr] = []

    _key = field_validator("key")(lambda v: _kube(kube_names.qualified_name, v))
    _values = field_validator("values")(lambda v: [_kube(kube_names.label_value, x) for x in v])

    @model_validator(mode="after")
    def _operator_values(self):
        # the API server's rules for node selector requirements
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one entry in values")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values; delete them")
        if self.operator in ("Gt", "Lt") and (len(self.values) != 1 or not self.values[0].lstrip("-").isdigit()):
            raise ValueError(f"operator {self.operator} needs exactly one value, a whole number")
        return self


class NodeSelectorTerm(_Strict):
    matchExpressions: list[MatchExpression]


class Autoscaling(_Strict):
    """Replicas follow the engines' queue, through the chart's KEDA ScaledObject."""

    minReplicas: StrictInt = Field(default=1, ge=0)
    maxReplicas: StrictInt = Field(ge=1)
    targetQueueLength: StrictInt = Field(default=5, ge=1)
    idleAfter: StrictStr = "5m"
    pollingInterval: StrictStr = "15s"

    @field_validator("idleAfter", "pollingInterval")
    @classmethod
    def _duration(cls, v):
        try:
            if seconds(v) < 1:
                raise ValueError
        except ValueError:
            raise ValueError(f"{v!r} is not a duration of at least a second: use e.g. 30s or 10m") from None
        return v


class Affinity(BaseModel):
    """A pod's affinity, as Kubernetes has it; its inner structure is the API server's to check."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    nodeAffinity: dict | None = None
    podAffinity: dict | None = None
    podAntiAffinity: dict | None = None


class Toleration(_Strict):
    key: StrictStr | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: StrictStr | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    tolerationSeconds: StrictInt | None = None

    _key = field_validator("key")(lambda v: v and _kube(kube_names.qualified_name, v))

    @field_validator("value")
    @classmethod
    def _value(cls, v, info):
        if v and info.data.get("operator") == "Exists":
            raise ValueError("operator Exists matches any value: delete value (or use operator Equal)")
        return v and _kube(kube_names.label_value, v)

    @field_validator("tolerationSeconds")
    @classmethod
    def _seconds(cls, v, info):
        if v is not None and info.data.get("effect") != "NoExecute":
            raise ValueError("tolerationSeconds applies only to effect NoExecute; set that effect or delete it")
        return v

    @model_validator(mode="after")
    def _empty_key(self):
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator Exists (it then tolerates every taint)")
        return self


class MultiNode(_Strict):
    """One engine over several nodes: the chart's KubeRay RayCluster (core.multinode)."""

    nodes: StrictInt = Field(ge=2, le=kube_names.INT32_MAX)


class VllmConfig(_Strict):
    maxModelLen: StrictInt | None = Field(default=None, ge=1)
    dtype: Literal[DTYPES] | None = None  # type: ignore[valid-type]
    tensorParallelSize: StrictInt | None = Field(default=None, ge=1)
    pipelineParallelSize: StrictInt | None = Field(default=None, ge=1)
    gpuMemoryUtilization: float | None = None
    enablePrefixCaching: StrictBool | None = None
    enableChunkedPrefill: StrictBool | None = None
    maxNumSeqs: StrictInt | None = Field(default=None, ge=1)
    extraArgs: list[Text] = []

    @field_validator("gpuMemoryUtilization", mode="before")
    @classmethod
    def _fraction(cls, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"must be a number in (0, 1], such as 0.9; got {v!r}")
        if not 0 < v <= 1:
            raise ValueError(f"must be greater than 0 and at most 1 (a fraction of GPU memory), got {v}")
        return float(v)

    @field_validator("extraArgs")
    @classmethod
    def _no_removed_flags(cls, args: list[str]) -> list[str]:
        if any(arg.split("=", 1)[0] == "--disable-log-requests" for arg in args):
            # vLLM removed it; an engine started with it exits at once (the seed's template has it)
            raise ValueError(
                "--disable-log-requests was removed from vLLM and makes the engine exit at start; "
                "delete it (request logging is off by default)"
            )
        return args


class ModelEntry(_Strict):
    name: StrictStr
    modelURL: StrictStr
    enabled: StrictBool = DEFAULTS["enabled"]
    replicaCount: StrictInt = Field(default=DEFAULTS["replicaCount"], ge=0, le=kube_names.INT32_MAX)
    requestCPU: StrictInt = Field(default=DEFAULTS["requestCPU"], ge=1, le=kube_names.INT32_MAX)
    requestMemory: Size = DEFAULTS["requestMemory"]
    requestGPU: StrictInt = Field(default=DEFAULTS["requestGPU"], ge=0, le=kube_names.INT32_MAX)
    limitMemory: Size | None = None
    pvcStorage: CacheSize = DEFAULTS["pvcStorage"]
    pvcAccessMode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] | None = None
    storageClass: StrictStr | None = None
    shmSize: Size | None = None
    image: StrictStr | None = None
    tag: StrictStr | None = None
    hfTokenRequired: StrictBool | None = None
    env: dict[str, Text] = {}
    nodeSelectorTerms: list[NodeSelectorTerm] | None = None
    tolerations: list[Toleration] | None = None
    toolCallParser: StrictStr | None = None
    modelRevision: StrictStr | None = None
    podAnnotations: dict[str, StrictStr] | None = None
    priorityClassName: StrictStr | None = None
    # Runtime features (issue: probes, GPU types, placement and images)
    startupTimeout: StrictStr | None = None
    autoscaling: Autoscaling | None = None
    requestGPUType: StrictStr | None = None
    runtimeClassName: StrictStr | None = None
    limitCPU: StrictInt | StrictStr | None = None
    affinity: Affinity | None = None
    imagePullSecret: StrictStr | None = None
    chatTemplate: StrictStr | None = None
    vllmConfig: VllmConfig | None = None
    lora: Lora | None = None  # LoRA adapters through the chart's LoRA controller (core.lora)
    multiNode: MultiNode | None = None
    lmcache: LMCache | None = None  # LMCache on the engine; kvaware and disaggregated prefill need it (core.routing)
    # Any other chart key of this model's servingEngineSpec.modelSpec[] item, in the chart's own
    # spelling: checked against the pinned chart's interface (core.overlay), merged after rendering.
    modelSpec: dict[str, object] | None = None

    _storage_class = field_validator("storageClass")(lambda v: v and _kube(kube_names.dns_subdomain, v))
    _priority_class = field_validator("priorityClassName")(lambda v: _kube(kube_names.dns_subdomain, v))
    _image = field_validator("image")(lambda v: _kube(kube_names.image_repository, v))
    _tag = field_validator("tag")(lambda v: v and _kube(kube_names.image_tag, v))
    _annotations = field_validator("podAnnotations")(
        lambda v: {_kube(lambda k: kube_names.qualified_name(k, "annotation key"), k): x for k, x in v.items()}
    )

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(
                f"{shown(v)} is not a valid model name: use lowercase letters, digits and '-', "
                "starting with a letter and ending with a letter or digit (it becomes part of Kubernetes names)"
            )
        return v

    @field_validator("modelURL")
    @classmethod
    def _hf_id(cls, v: str) -> str:
        if not HF_ID.match(v):
            raise ValueError(
                f"{shown(v)} is not a Hugging Face model id of the form org/name, e.g. Qwen/Qwen2.5-0.5B-Instruct"
            )
        return v

    @field_validator("startupTimeout")
    @classmethod
    def _duration(cls, v):
        if v is None:
            return v
        try:
            if seconds(v) < 60:
                raise ValueError(f"startupTimeout {v!r} is under a minute; no vLLM engine starts that fast")
        except ValueError as e:
            raise ValueError(str(e) if "minute" in str(e) else
                             f"{v!r} is not a duration: use e.g. 45m, 1h30m or 900s") from None
        return v

    @field_validator("requestGPUType")
    @classmethod
    def _resource(cls, v):
        if v is not None and not EXTENDED_RESOURCE.match(v):
            raise ValueError(f"{v!r} is not an extended resource name of the form vendor-domain/resource, "
                             "e.g. nvidia.com/gpu, nvidia.com/mig-3g.40gb or amd.com/gpu")
        return v

    @field_validator("imagePullSecret")
    @classmethod
    def _secret_name(cls, v):
        problem = None if v is None else kube_names.dns_subdomain(v)
        if problem:
            raise ValueError(f"imagePullSecret: {problem}")
        return v

    @field_validator("limitCPU")
    @classmethod
    def _cpu(cls, v):
        if v is None:
            return v
        try:
            if parse_quantity(str(v)) <= 0:
                raise QuantityError("must be above zero")
        except QuantityError as e:
            raise ValueError(f"limitCPU {v!r}: {e}; use whole cores (8) or millicores (7500m)") from None
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if not ENV_NAME.match(key):
                raise ValueError(f"{shown(key)} is not a valid environment variable name")
            if key in RESERVED_ENV:
                raise ValueError(
                    f"{key} is set by vllmctl from a Secret; do not put it in env "
                    "(use `vllmctl set-hf-token` / `set-api-key`)"
                )
        return v

    @cached_property
    def parallelism(self) -> Parallelism:
        """Effective tensor x pipeline parallelism, from vllmConfig and extraArgs in any spelling."""
        config = self.vllmConfig
        if config is None:
            return Parallelism()
        return parallelism(config.tensorParallelSize, config.extraArgs, self.tag, config.pipelineParallelSize)


def cross_field_problems(entry: ModelEntry, release: str) -> list[tuple[tuple, str]]:
    """Rules that span fields or depend on settings: (path within the entry, message)."""
    from vllmctl.core import multinode

    return (_name_problems(entry, release) + multinode.problems(entry) + _parallelism_problems(entry)
            + _literal_secret_problems(entry) + _resource_problems(entry) + lora_problems(entry)
            + routing_problems(entry))


def _name_problems(entry: ModelEntry, release: str) -> list[tuple[tuple, str]]:
    room = MAX_OBJECT_NAME - len(release) - 1 - len(LONGEST_SUFFIX)
    if len(entry.name) <= room:
        return []
    return [(("name",), f"name {entry.name!r} is {len(entry.name)} characters; with release {release!r} the engine "
             f"Service '{release}-{entry.name}{LONGEST_SUFFIX}' would exceed {MAX_OBJECT_NAME} characters: "
             f"use at most {room}")]


def _parallelism_problems(entry: ModelEntry) -> list[tuple[tuple, str]]:
    problems: list[tuple[tuple, str]] = []
    par = entry.parallelism
    if entry.multiNode is None and par.size > 1 and par.size > entry.requestGPU:
        what = f"tensor x pipeline parallelism {par.tensor} x {par.pipeline}" if par.pipeline > 1 else (
            f"tensor parallelism {par.tensor}")
        problems.append((par.at, f"{what} needs {par.size} GPUs but requestGPU is {entry.requestGPU}: "
                                 f"raise requestGPU to {par.size} or lower the parallelism"))
    if par.pipeline_at[:2] == EXTRA_ARGS and entry.vllmConfig and entry.vllmConfig.pipelineParallelSize:
        problems.append((par.pipeline_at, "the pipeline size is set twice, in vllmConfig.pipelineParallelSize and "
                                          "here: keep one"))
    return problems


def _literal_secret_problems(entry: ModelEntry) -> list[tuple[tuple, str]]:
    """Tokens and keys written into extraArgs or env instead of the Secrets."""
    args = entry.vllmConfig.extraArgs if entry.vllmConfig else []
    secret = secret_flags(args, entry.tag)
    problems: list[tuple[tuple, str]] = [((*EXTRA_ARGS, flag.indices[0]), secret_flag_message(flag))
                                         for flag in secret]
    flagged = {i for f in secret for i in f.indices}
    for i, arg in enumerate(args):
        if looks_secret(arg) and i not in flagged:
            problems.append(((*EXTRA_ARGS, i), f"extraArgs[{i}] holds what looks like a token or key; {NO_LITERALS}"))
    for key, value in entry.env.items():
        if looks_secret(value):
            problems.append((("env", key), f"env {key} holds what looks like a token or key; {NO_LITERALS}"))
    return problems


def _resource_problems(entry: ModelEntry) -> list[tuple[tuple, str]]:
    """Limits, replicas, scheduling and the image tag: fields the chart combines."""
    problems: list[tuple[tuple, str]] = []
    if entry.limitCPU is not None and parse_quantity(str(entry.limitCPU)) < entry.requestCPU:
        problems.append((("limitCPU",), f"limitCPU {entry.limitCPU} is below requestCPU {entry.requestCPU}: "
                                        "Kubernetes refuses a limit under the request"))
    scale = entry.autoscaling
    if scale is not None and scale.minReplicas > scale.maxReplicas:
        problems.append((("autoscaling", "minReplicas"), f"minReplicas {scale.minReplicas} is above maxReplicas "
                                                         f"{scale.maxReplicas}"))
    if scale is not None and "replicaCount" in entry.model_fields_set:
        problems.append((("replicaCount",), "replicaCount is not used with autoscaling (the ScaledObject sets the "
                                            "replicas): remove it, or remove autoscaling"))
    if entry.affinity is not None and entry.nodeSelectorTerms:
        problems.append((("nodeSelectorTerms",), "the chart ignores nodeSelectorTerms when affinity is set: "
                                                 "move these terms into affinity.nodeAffinity, or drop affinity"))
    if entry.limitMemory and parse_quantity(entry.limitMemory) < parse_quantity(entry.requestMemory):
        problems.append((("limitMemory",), f"limitMemory {entry.limitMemory} is below requestMemory "
                                           f"{entry.requestMemory}"))
    if entry.tag is not None and entry.image is None and not entry.tag:
        problems.append((("tag",), "tag must not be empty"))
    return problems

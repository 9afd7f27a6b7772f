"""LoRA adapters: per base model a list of adapters the chart's LoRA controller loads into the
running engines (`loraController`, `loraAdapters` -> LoraAdapter objects, in every chart version
0.1.8..0.1.12, whose crds/ all ship the LoraAdapter CRD).

What the chart and its controller (lmcache/lmstack-lora-controller) do, which these rules follow:
- A LoraAdapter's `baseModel` selects engine pods by their `model` label (the models.yaml name) and
  the controller POSTs /v1/load_lora_adapter to each with `lora_name` = `adapterSource.adapterName`:
  that name is the adapter's API model id (vLLM lists it in /v1/models with `parent` = the base).
- Loading at runtime needs `--enable-lora` and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True on the engine.
- A Hugging Face adapter is downloaded by the chart's sidecar (port 30090) into the model's cache
  volume, which the chart adds only with `pvcStorage`; the controller always reads a token for it
  from `credentialsSecretRef` (it has no anonymous path).
- s3 and http sources are not downloaded by the controller: it loads them from `adapterPath`.
- Charts before 0.1.11 point a LoraAdapter without its own `vllmApiKey` at `<release>-secrets`,
  which vllmctl never fills: every adapter gets the API key's Secret reference explicitly.
- Credentials given as a string become a literal in the chart's own Secret (its values): only
  {secretName, secretKey} references are accepted.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator, model_validator

from vllmctl.core import kube_names

LORA_API = "production-stack.vllm.ai/v1alpha1"
KIND = "LoraAdapter"
RUNTIME_UPDATES = "VLLM_ALLOW_RUNTIME_LORA_UPDATING"
# vLLM's own flags for what `lora` sets: written by hand in extraArgs they would fight rendering.
FLAGS = ("--enable-lora", "--max-loras", "--max_loras", "--max-lora-rank", "--max_lora_rank")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
URL_SCHEMES = {"s3": ("s3://",), "http": ("http://", "https://")}
LITERAL = ("credentials must name a Secret ({secretName, secretKey}), never hold the value: a value here would "
           "travel in the Helm release values; create the Secret in the namespace and reference it")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretRef(_Strict):
    secretName: StrictStr
    secretKey: StrictStr

    @field_validator("secretName")
    @classmethod
    def _name(cls, v):
        problem = kube_names.dns_subdomain(v)
        if problem:
            raise ValueError(f"secretName: {problem}")
        return v

    @field_validator("secretKey")
    @classmethod
    def _key(cls, v):
        if not SECRET_KEY.match(v) or len(v) > 253:
            raise ValueError("secretKey must be a Secret data key: letters, digits, '-', '_' and '.'")
        return v


class Adapter(_Strict):
    """One adapter; its name is the API model id and the LoraAdapter object's name."""

    name: StrictStr
    source: Literal["huggingface", "s3", "http", "local"]
    repository: StrictStr | None = None  # huggingface: org/name; s3: s3://bucket/prefix; http: its URL
    path: StrictStr | None = None  # where the adapter files are inside the engine pod
    credentials: SecretRef | None = None
    replicas: StrictInt | None = Field(default=None, ge=0, le=kube_names.INT32_MAX)  # engine pods; default all

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        problem = kube_names.dns_subdomain(v)
        if problem:
            raise ValueError(f"{problem} (the adapter's name is its API model id and its LoraAdapter's name)")
        return v

    @field_validator("credentials", mode="before")
    @classmethod
    def _no_literal(cls, v):
        if v is not None and not isinstance(v, dict):
            raise ValueError(LITERAL)
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v):
        if v is not None and not v.startswith("/"):
            raise ValueError("path must be absolute: where the adapter's files are inside the engine pod")
        return v

    @model_validator(mode="after")
    def _source_fields(self):
        s, repo = self.source, self.repository
        a = "an" if s == "http" else "a"
        if s == "huggingface" and (repo is None or not HF_REPO.match(repo)):
            raise ValueError("a huggingface adapter needs repository: the Hub id of the adapter, org/name")
        if s in URL_SCHEMES and repo is not None and not repo.startswith(URL_SCHEMES[s]):
            raise ValueError(f"{a} {s} adapter's repository is a URL starting with {' or '.join(URL_SCHEMES[s])}")
        if s in URL_SCHEMES and repo is None and self.path is None:
            raise ValueError(f"{a} {s} adapter needs repository (its URL) or path (where it is in the engine pod)")
        if s == "local" and self.path is None:
            raise ValueError("a local adapter needs path: where its files are inside the engine pod")
        return self


class Lora(_Strict):
    """`--enable-lora` with its limits, and the adapters the LoRA controller loads."""

    maxLoras: StrictInt | None = Field(default=None, ge=1, le=kube_names.INT32_MAX)
    maxLoraRank: StrictInt | None = Field(default=None, ge=1, le=kube_names.INT32_MAX)
    adapters: list[Adapter] = []


# ---------------------------------------------------------------- models.yaml rules
def entry_problems(entry) -> list[tuple[tuple, str]]:
    """Rules across a model entry's fields: (path within the entry, message)."""
    lora = entry.lora
    if lora is None:
        return []
    out: list[tuple[tuple, str]] = []
    seen: dict[str, int] = {}
    for i, adapter in enumerate(lora.adapters):
        if adapter.name in seen:
            out.append((("lora", "adapters", i, "name"), f"adapter {adapter.name!r} is listed twice "
                                                          f"(first as adapters[{seen[adapter.name]}])"))
        seen.setdefault(adapter.name, i)
        if adapter.name == entry.name:
            out.append((("lora", "adapters", i, "name"), f"adapter {adapter.name!r} has its base model's name: "
                                                          "both would be the same API model id; rename it"))
        if adapter.source == "huggingface" and not entry.pvcStorage:
            out.append((("lora", "adapters", i, "source"),
                        "a huggingface adapter is downloaded by the chart's sidecar into the model's cache volume, "
                        "which exists only with pvcStorage: set pvcStorage to a size, or use a local path"))
    args = entry.vllmConfig.extraArgs if entry.vllmConfig else []
    for i, arg in enumerate(args):
        flag = arg.split("=", 1)[0]
        if flag in FLAGS:
            out.append((("vllmConfig", "extraArgs", i), f"{flag} is rendered from lora (--enable-lora always, "
                                                         "--max-loras from lora.maxLoras, --max-lora-rank from "
                                                         "lora.maxLoraRank): delete it from extraArgs"))
    if RUNTIME_UPDATES in entry.env:
        out.append((("env", RUNTIME_UPDATES), f"{RUNTIME_UPDATES} is set by vllmctl for a model with lora: "
                                               "delete it from env"))
    return out


def release_problems(entries: list[tuple[int, Any]]) -> list[tuple[int, tuple, str]]:
    """Rules across models: every adapter name is one LoraAdapter object and one API model id in the
    release's namespace. (model index, path within its entry, message)."""
    # id -> (index of the entry that has it first, what it is there)
    owner: dict[str, tuple[int, str]] = {e.name: (i, f"model {e.name!r}") for i, e in entries}
    out = []
    for index, entry in entries:
        for j, adapter in enumerate(entry.lora.adapters if entry.lora else []):
            first = owner.setdefault(adapter.name, (index, f"an adapter of model {entry.name!r}"))
            if first[0] != index:
                out.append((index, ("lora", "adapters", j, "name"),
                            f"adapter name {adapter.name!r} is already {first[1]}: API model ids and LoraAdapter "
                            "names must be unique in the release; rename one"))
    return out


def warnings(entry) -> list[str]:
    out = []
    for adapter in entry.lora.adapters if entry.lora else []:
        if adapter.source in URL_SCHEMES and adapter.path is None:
            out.append(f"model {entry.name!r}: adapter {adapter.name!r} ({adapter.source}) has no path; the chart's "
                       f"LoRA controller does not download {adapter.source} sources itself (it loads from path): "
                       "put the adapter on the model's volume and set path")
    return out


# ---------------------------------------------------------------- rendering
def uses_adapters(models) -> bool:
    return any(m.enabled and m.lora and m.lora.adapters for m in models)


def engine_values(entry) -> dict:
    """What a model with `lora` adds to its modelSpec: the switch, vllmConfig.maxLoras, env, and
    extra flags (appended after the user's extraArgs, so their positions stay the user's)."""
    lora = entry.lora
    if lora is None:
        return {}
    out = {"enableLoRA": True, "env": [{"name": RUNTIME_UPDATES, "value": "True"}], "extraArgs": []}
    # Without maxLoras vLLM batches one adapter at a time; default to as many as are listed.
    max_loras = lora.maxLoras if lora.maxLoras is not None else (len(lora.adapters) or None)
    if max_loras is not None:
        out["maxLoras"] = max_loras
    if lora.maxLoraRank is not None:
        out["extraArgs"] = ["--max-lora-rank", str(lora.maxLoraRank)]
    return out


def adapter_values(models, *, api_key_ref: dict | None, hf_token_ref: dict) -> list[dict]:
    """The chart's `loraAdapters` list: one LoraAdapter per adapter of every enabled model."""
    out = []
    for m in models:
        if not m.enabled or m.lora is None:
            continue
        for a in m.lora.adapters:
            source = {"type": a.source, "adapterName": a.name}
            if a.path:
                source["adapterPath"] = a.path
            if a.repository:
                source["repository"] = a.repository
            credentials = a.credentials.model_dump() if a.credentials else (
                dict(hf_token_ref) if a.source == "huggingface" else None)
            if credentials:
                source["credentials"] = credentials
            deploy = {"algorithm": "default", **({"replicas": a.replicas} if a.replicas is not None else {})}
            out.append({"name": a.name, "baseModel": m.name, **({"vllmApiKey": dict(api_key_ref)} if api_key_ref
                                                                 else {}),
                        "adapterSource": source, "loraAdapterDeploymentConfig": deploy})
    return out


def yaml_paths(entry, user_args: int) -> dict[tuple, tuple]:
    """Rendered modelSpec paths lora produced -> the models.yaml path (see core.render.yaml_paths);
    `user_args` is how many of the user's extraArgs precede lora's."""
    lora = entry.lora
    if lora is None:
        return {}
    out: dict[tuple, tuple] = {("enableLoRA",): ("lora",), ("vllmConfig", "maxLoras"): ("lora", "maxLoras")
           if lora.maxLoras is not None else ("lora", "adapters")}
    if lora.maxLoraRank is not None:
        out.update({("vllmConfig", "extraArgs", user_args + k): ("lora", "maxLoraRank") for k in (0, 1)})
    return out


# ---------------------------------------------------------------- the chart check (core.chart_lint)
def engine_problems(entry, spec: dict, engine: dict, serve_args: list[str]) -> list[tuple[str, tuple]]:
    """What a model with lora needs of its rendered engine pod: (message, path within the entry)."""
    if entry.lora is None:
        return []
    out: list[tuple[str, tuple]] = []
    if "--enable-lora" not in serve_args:
        out.append(("the engine runs without --enable-lora: no adapter can be loaded", ("lora",)))
    env = {e.get("name"): e.get("value") for e in engine.get("env") or [] if isinstance(e, dict)}
    if str(env.get(RUNTIME_UPDATES, "")).lower() not in ("true", "1"):
        out.append((f"the engine lacks {RUNTIME_UPDATES}=True: vLLM refuses the LoRA controller's "
                    "/v1/load_lora_adapter", ("lora",)))
    containers = {c.get("name") for c in spec.get("containers") or [] if isinstance(c, dict)}
    for i, adapter in enumerate(entry.lora.adapters):
        if adapter.source == "huggingface" and "sidecar" not in containers:
            out.append((f"adapter {adapter.name!r} comes from the Hub, but the pod has no download sidecar (the "
                        "chart adds it only with pvcStorage): the controller cannot fetch it",
                        ("lora", "adapters", i, "source")))
    return out


def adapter_problems(objects: list[dict], models: dict, release: str, api_key: bool) -> list[tuple]:
    """The rendered LoraAdapters and controller against models.yaml:
    (subject, message, model or None, path within the entry, severity)."""
    adapters = {str((o.get("metadata") or {}).get("name")): o for o in objects if o.get("kind") == KIND}
    controller = any(o.get("kind") == "Deployment" and (o.get("metadata") or {}).get("name") ==
                     f"{release}-lora-controller" for o in objects)
    out: list[tuple] = []
    for name, m in models.items():
        for i, a in enumerate(m.lora.adapters if m.lora else []):
            spec = (adapters.get(a.name) or {}).get("spec") or {}
            source = spec.get("adapterSource") or {}
            if spec.get("baseModel") != name or source.get("adapterName") != a.name:
                out.append((f"{KIND}/{a.name}", f"the release does not render this adapter for model {name!r}",
                            name, ("lora", "adapters", i, "name"), "error"))
    for name, obj in adapters.items():
        spec, subject = obj.get("spec") or {}, f"{KIND}/{name}"
        base = spec.get("baseModel")
        if base not in models:
            out.append((subject, f"baseModel {base!r} is no model of this release: no engine pod carries the label "
                                 f"model={base}, so the controller never loads it", None, (), "warning"))
        key = spec.get("vllmApiKey") or {}
        if api_key and key.get("secretName") == f"{release}-secrets":
            out.append((subject, f"vllmApiKey points at the chart's empty Secret {release}-secrets: the controller "
                                 "would call the engines without the API key and be refused", None, (), "error"))
        if not controller:
            out.append((subject, "no LoRA controller is deployed (loraController.enableLoraController): nothing "
                                 "loads this adapter", None, (), "error"))
    return out


# ---------------------------------------------------------------- preflight
def cluster_scoped(release: str) -> list[str]:
    """API paths of the cluster-scoped objects the chart names after the release (not the namespace)."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    return [f"{rbac}/clusterroles/{release}-lora-controller", f"{rbac}/clusterrolebindings/{release}-lora-controller"]


def owner_problems(release: str, namespace: str, owners: dict[str, str | None]) -> list[str]:
    """Cluster-scoped objects of the LoRA controller that another namespace's release (or no helm
    release) already has: helm would refuse to adopt them. `owners`: path -> helm_owner_namespace."""
    out = []
    for path, owner in owners.items():
        if owner is None or owner == namespace:
            continue
        kind, name = path.rsplit("/", 2)[-2:]
        whose = f"release {release!r} in namespace {owner!r}" if owner else "something outside helm"
        out.append(f"the LoRA controller's {kind[:-1]} {name!r} is cluster-wide and already belongs to {whose}: "
                   "helm would refuse to install it; use another VLLM_RELEASE name here")
    return out

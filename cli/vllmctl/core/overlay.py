"""The values overlay: chart keys vllmctl does not render, checked against the pinned chart's interface.

Two places hold them: global values files (values.override.yaml beside models.yaml, or the files of
VLLM_VALUES_FILE, applied in order) merged over the rendered values as `helm -f` would (mappings
merge, lists and scalars replace, null deletes the key, chart default included), and a model's
`modelSpec:` mapping in models.yaml, merged into that model's servingEngineSpec.modelSpec[] item
(null drops the key from the item). Keys vllmctl itself sets (OWNED) are refused with the field or
setting to use, so there is exactly one place for each value; so are secret literals.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vllmctl.core import chart_interface
from vllmctl.core.chart_interface import Interface, Key, join
from vllmctl.core.engine_flags import looks_secret
from vllmctl.core.models import RESERVED_ENV

if TYPE_CHECKING:
    from vllmctl.core.render import Rendered

MODEL_ITEM = "servingEngineSpec.modelSpec[]"
DEFAULT_FILE = "values.override.yaml"  # beside models.yaml

# Chart key -> where a vllmctl user sets it. Paths below MODEL_ITEM name models.yaml fields.
_MODEL_FIELDS = {
    "name": "name", "modelURL": "modelURL", "repository": "image", "tag": "tag", "modelRevision": "modelRevision",
    "enabled": "enabled", "replicaCount": "replicaCount", "requestCPU": "requestCPU",
    "requestMemory": "requestMemory", "requestGPU": "requestGPU", "limitMemory": "limitMemory",
    "pvcStorage": "pvcStorage", "pvcAccessMode": "pvcAccessMode", "storageClass": "storageClass",
    "shmSize": "shmSize", "priorityClassName": "priorityClassName", "podAnnotations": "podAnnotations",
    "nodeSelectorTerms": "nodeSelectorTerms", "tolerations": "tolerations", "enableTool": "toolCallParser",
    "toolCallParser": "toolCallParser", "env": "env", "hf_token": "hfTokenRequired (the token: `vllmctl set-hf-token`)",
    "requestGPUType": "requestGPUType", "runtimeClassName": "runtimeClassName", "limitCPU": "limitCPU",
    "affinity": "affinity", "imagePullSecret": "imagePullSecret", "chatTemplate": "chatTemplate",
    "chatTemplateConfigMap": "chatTemplate (a file)", "keda": "autoscaling",
    **{f"lmcacheConfig.{k}": "lmcache (VLLM_ROUTING_LOGIC sets the rest)" for k in (
        "enabled", "cpuOffloadingBufferSize", "diskOffloadingBufferSize", "logLevel", "enableController",
        "controllerPort", "controllerReplyPort", "workerPorts", "workerHeartbeatTime", "kvRole", "enablePD",
        "enableNixl", "nixlRole", "nixlPeerHost", "nixlPeerPort")},
    **{f"vllmConfig.{k}": f"vllmConfig.{k}" for k in (
        "maxModelLen", "dtype", "tensorParallelSize", "gpuMemoryUtilization", "maxNumSeqs",
        "enableChunkedPrefill", "enablePrefixCaching", "extraArgs")},
}
OWNED: dict[str, str] = {
    **{f"{MODEL_ITEM}.{k}": f"models.yaml `{v}`" for k, v in _MODEL_FIELDS.items()},
    "servingEngineSpec.modelSpec": "models.yaml (one entry per model; chart keys of a model go under its `modelSpec:`)",
    "servingEngineSpec.runtimeClassName": "VLLM_RUNTIME_CLASS",
    "servingEngineSpec.imagePullPolicy": "VLLM_IMAGE_PULL_POLICY",
    "servingEngineSpec.strategy": "VLLM_UPDATE_STRATEGY (preflight plans GPUs for it)",
    "servingEngineSpec.vllmApiKey": "VLLM_API_KEY_ENABLED (the key: `vllmctl set-api-key`)",
    "routerSpec.enableRouter": "VLLM_ROUTER_ENABLED",
    "routerSpec.replicaCount": "VLLM_ROUTER_REPLICAS",
    "routerSpec.repository": "VLLM_ROUTER_IMAGE",
    "routerSpec.tag": "VLLM_ROUTER_TAG",
    "routerSpec.imagePullPolicy": "VLLM_IMAGE_PULL_POLICY",
    "routerSpec.routingLogic": "VLLM_ROUTING_LOGIC",
    "routerSpec.sessionKey": "VLLM_ROUTER_SESSION_KEY",
    "routerSpec.prefixMinMatchLength": "VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH",
    **{f"routerSpec.lmcacheController{k}Port": "VLLM_ROUTING_LOGIC=kvaware (vllmctl sets the LMCache ports)"
       for k in ("", "Reply", "Heartbeat")},
    "routerSpec.resources.requests.cpu": "VLLM_ROUTER_REQUEST_CPU",
    "routerSpec.resources.requests.memory": "VLLM_ROUTER_REQUEST_MEMORY",
    "routerSpec.resources.limits.memory": "VLLM_ROUTER_LIMIT_MEMORY",
    "routerSpec.vllmApiKey": "VLLM_API_KEY_ENABLED (the key: `vllmctl set-api-key`)",
    "routerSpec.hf_token": "`vllmctl set-hf-token` (the router needs no token)",
    **{f"servingEngineSpec.{p}Probe": "startupTimeout in models.yaml (vllmctl sizes the probes)"
       for p in ("startup", "liveness", "readiness")},
    "servingEngineSpec.serviceMonitor.enabled": "VLLM_MONITORING",
    "servingEngineSpec.serviceMonitor.additionalLabels": "VLLM_SERVICE_MONITOR_LABELS",
    "routerSpec.serviceMonitor.enabled": "VLLM_MONITORING",
    "routerSpec.serviceMonitor.additionalLabels": "VLLM_SERVICE_MONITOR_LABELS",
    "grafanaDashboards.enabled": "VLLM_MONITORING",
    "routerSpec.serviceType": "VLLM_ROUTER_EXPOSE",
    "routerSpec.nodePort": "VLLM_ROUTER_NODE_PORT",
    "routerSpec.ingress.enabled": "VLLM_ROUTER_EXPOSE=ingress",
    "routerSpec.ingress.className": "VLLM_INGRESS_CLASS",
    "routerSpec.ingress.hosts": "VLLM_ROUTER_HOST",
    "routerSpec.ingress.tls": "VLLM_ROUTER_TLS_SECRET",
    "routerSpec.route.main": "VLLM_ROUTER_EXPOSE=gateway, VLLM_GATEWAY",
    "routerSpec.imagePullSecrets": "VLLM_ROUTER_IMAGE_PULL_SECRETS",
}
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSW|API_?KEY|CREDENTIAL|PRIVATE_KEY", re.I)
_SECRET_KEYS = {
    "hf_token": "a Hugging Face token in values lands in the Helm release: store it with `vllmctl set-hf-token`",
    "vllmApiKey": "an API key in values lands in the Helm release: store it with `vllmctl set-api-key`",
    "credentials": "credentials in values land in the Helm release: reference a Secret "
                   "({secretName, secretKey}) instead",
}


def _parents(path: str) -> list[str]:
    out: list[str] = []
    while True:
        parent, _ = chart_interface.split(path)
        if not parent:
            return out
        out.append(parent)
        path = parent


# A null there would delete what vllmctl renders below it.
_OWNED_PARENTS = {p for path in OWNED for p in _parents(path)}


@dataclass(frozen=True)
class Finding:
    loc: tuple  # within the checked mapping
    message: str
    at_key: bool = True


@dataclass
class OverlayFile:
    path: str
    text: str
    values: dict


@dataclass
class Overlay:
    files: list[OverlayFile] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [f.path for f in self.files]


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6) or [
        c for c in choices if c.lower() == word.lower()]
    return f"; did you mean '{close[0]}'?" if close else ""


def _elsewhere(path: str, version: str) -> str:
    others = [v for v in chart_interface.versions_with(path) if v != version]
    if not others:
        return ""
    verb = "has" if len(others) == 1 else "have"
    return f"; vllm-stack {', '.join(others)} {verb} it (VLLM_CHART_VERSION is {version})"


def _shown(path: str) -> str:
    """A chart path as the user writes it in models.yaml `modelSpec:` (relative) or a values file."""
    return path.replace(MODEL_ITEM + ".", "modelSpec.")


def _type_words(types: tuple[str, ...]) -> str:
    words = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
             "object": "a mapping", "array": "a list", "null": "null"}
    return " or ".join(words.get(t, t) for t in types)


class _Checker:
    def __init__(self, iface: Interface, scope: str) -> None:
        self.iface, self.scope = iface, scope
        self.found: list[Finding] = []

    def owned(self, path: str, value, loc: tuple) -> bool:
        where = OWNED.get(path)
        if where is None and value is None and path in _OWNED_PARENTS:
            where = "; ".join(sorted({OWNED[p] for p in OWNED if p.startswith(path + ".") or p.startswith(path + "[")}))
            self.found.append(Finding(loc, f"'{_shown(path)}: null' would delete keys vllmctl sets from {where}"))
            return True
        if where is None:
            return False
        if self.scope == MODEL_ITEM and path.startswith(MODEL_ITEM + "."):
            self.found.append(Finding(loc, f"'{_shown(path)}' is set by vllmctl from the entry's own field: "
                                           f"use {where.replace('models.yaml ', '')} instead"))
        else:
            self.found.append(Finding(loc, f"'{_shown(path)}' is set by vllmctl: use {where} instead"))
        return True

    def secret(self, name: str, path: str, value, loc: tuple) -> bool:
        if isinstance(value, str) and looks_secret(value):
            self.found.append(Finding(loc, f"'{_shown(path)}' holds what looks like a token or key; values land "
                                           "in the Helm release: use `vllmctl set-hf-token` / `set-api-key`, or "
                                           "a Secret reference", at_key=False))
            return True
        if name in _SECRET_KEYS and isinstance(value, str) and value:
            self.found.append(Finding(loc, f"'{_shown(path)}' holds a secret literal; {_SECRET_KEYS[name]}"))
            return True
        if name == "env" and isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                    continue
                env, literal = item["name"], item.get("value")
                if env in RESERVED_ENV:
                    self.found.append(Finding((*loc, i, "name"), f"env {env} is set by vllmctl from a Secret; "
                                              "remove it (`vllmctl set-hf-token` / `set-api-key` keep the values)",
                                              at_key=False))
                elif isinstance(literal, str) and literal and _SECRET_NAME.search(env):
                    self.found.append(Finding((*loc, i, "value"), f"env {env} holds what looks like a secret "
                                              "literal; use valueFrom.secretKeyRef (tokens: `vllmctl set-hf-token`, "
                                              "`set-api-key`)", at_key=False))
        return False

    def walk(self, node: dict, ipath: str | None, concrete: str, loc: tuple) -> None:
        """ipath: the interface path of `node`, None below an open key (anything goes, owned and
        secret keys still refused); concrete: the chart path for OWNED lookups."""
        for name, value in node.items():
            cpath, here = join(concrete, name), (*loc, name)
            if self.secret(name, cpath, value, here) or self.owned(cpath, value, here):
                continue
            child = None
            if ipath is not None:
                child = self.iface.child(ipath, name)
                if child is None:
                    hint = _did_you_mean(name, self.iface.names_below(ipath))
                    self.found.append(Finding(here, f"unknown chart key '{_shown(cpath)}' in vllm-stack "
                                                    f"{self.iface.version}{hint}"
                                                    f"{_elsewhere(join(ipath, name), self.iface.version)}"))
                    continue
                if not self.value_ok(self.iface[child], cpath, value, here):
                    continue
                if self.iface[child].open:
                    child = None
            self.descend(value, child, cpath, here)

    def descend(self, value, child: str | None, cpath: str, loc: tuple) -> None:
        if isinstance(value, dict):
            self.walk(value, child, cpath, loc)
        elif isinstance(value, list):
            key = self.iface.get(child + "[]") if child is not None else None
            item = key.path if key is not None and not key.open else None
            for i, element in enumerate(value):
                if self.secret("", cpath + "[]", element, (*loc, i)):
                    continue
                if item is not None and not self.value_ok(self.iface[item], cpath + "[]", element, (*loc, i)):
                    continue
                if isinstance(element, dict):
                    self.walk(element, item, cpath + "[]", (*loc, i))

    def value_ok(self, key: Key, cpath: str, value, loc: tuple) -> bool:
        shown = _shown(cpath)
        if not key.accepts(value):
            hint = "; remove the quotes" if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value) else ""
            self.found.append(Finding(loc, f"'{shown}' must be {_type_words(key.types)}, got {value!r}{hint}",
                                      at_key=False))
            return False
        if key.enum and value is not None and value not in key.enum:
            self.found.append(Finding(loc, f"'{shown}' must be one of {', '.join(map(str, key.enum))}; got {value!r}",
                                      at_key=False))
            return False
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and key.minimum is not None and value < key.minimum:
            self.found.append(Finding(loc, f"'{shown}' must be at least {key.minimum}, got {value}", at_key=False))
            return False
        if number and key.maximum is not None and value > key.maximum:
            self.found.append(Finding(loc, f"'{shown}' must be at most {key.maximum}, got {value}", at_key=False))
            return False
        return True


def check_values(values, version: str) -> list[Finding]:
    """Problems of a global values file (the whole chart values tree) for this chart version."""
    if values is None:
        return []
    if not isinstance(values, dict):
        return [Finding((), "a values file must be a mapping of chart keys (servingEngineSpec:, routerSpec:, ...)",
                        at_key=False)]
    checker = _Checker(chart_interface.load(version), "")
    checker.walk(values, "", "", ())
    return checker.found


def check_model_spec(spec, version: str) -> list[Finding]:
    """Problems of one models.yaml entry's `modelSpec:` mapping (chart keys of that model's item)."""
    if spec is None:
        return []
    if not isinstance(spec, dict):
        return [Finding((), "'modelSpec' must be a mapping of the chart's per-model keys", at_key=False)]
    checker = _Checker(chart_interface.load(version), MODEL_ITEM)
    checker.walk(spec, MODEL_ITEM, MODEL_ITEM, ())
    return checker.found


def parse_file(path: str, text: str, version: str) -> tuple[OverlayFile, list[tuple[int, int, str]]]:
    """A global values file and its problems as (line, column, message)."""
    from vllmctl.core.yaml_positions import YamlProblem, load

    try:
        located = load(text)
    except YamlProblem as e:
        return OverlayFile(path, text, {}), [(e.line, e.column, e.message)]
    found = check_values(located.value, version)
    problems = [(*located.locate(f.loc, key=f.at_key), f.message) for f in found]
    return OverlayFile(path, text, located.value if isinstance(located.value, dict) else {}), problems


# ---------------------------------------------------------------------- merging
def merge(base: dict, over: dict, *, keep_null: bool = True) -> dict:
    """`over` merged into a copy of `base` as helm merges values files: mappings merge, anything else
    replaces; null stays (helm then deletes the chart's default) unless keep_null is False."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value, keep_null=keep_null)
        elif value is None and not keep_null:
            out.pop(key, None)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply(values: dict, overlay: Overlay | None, model_specs: dict[str, dict]) -> dict:
    """The rendered values with each model's `modelSpec:` and then the global files merged in."""
    merged = values
    if model_specs:
        merged = dict(values)
        engine = dict(merged.get("servingEngineSpec") or {})
        engine["modelSpec"] = [
            merge(item, model_specs[item.get("name")], keep_null=False) if item.get("name") in model_specs else item
            for item in engine.get("modelSpec") or []
        ]
        merged["servingEngineSpec"] = engine
    for file in overlay.files if overlay else []:
        merged = merge(merged, file.values)
    return merged


def apply_to(rendered, overlay: Overlay, models) -> Rendered:
    """A render with the overlay merged in, its values text written out again from the merged values
    (the same text as before when there is nothing to merge)."""
    import dataclasses

    from vllmctl.core.render import header
    from vllmctl.core.yamltext import to_yaml_block

    specs = {m.name: m.modelSpec for m in models if m.enabled and m.modelSpec}
    if not specs and not overlay.files:
        return rendered
    values = apply(rendered.values, overlay, specs)
    # A problem found later in a key a model's modelSpec: set points at that line of models.yaml.
    moved = {name: {**rendered.moved.get(name, {}), **{p: ("modelSpec", *p) for p in _paths(spec)}}
             for name, spec in specs.items()}
    return dataclasses.replace(rendered, values=values, values_text=header(rendered.request) + to_yaml_block(values),
                               moved={**rendered.moved, **moved})


def _paths(node, prefix: tuple = ()):
    for key, value in node.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))

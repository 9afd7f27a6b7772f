"""Routing: every routing logic the chart offers, with the companions each needs
(reference/router-args.md), rendered from VLLM_ROUTING_LOGIC and a model's `lmcache:` block.

What the chart (0.1.8..0.1.12) and the router do, which these rules follow:
- A model's `lmcache:` becomes its `lmcacheConfig`: the chart then adds `--kv-transfer-config`
  (LMCacheConnectorV1) and the LMCACHE_* environment to the engine. The engine image must carry
  LMCache: `lmcache/vllm-openai` does (the chart runs its /opt/venv/bin/vllm), and so do the
  vllm/vllm-openai releases built with the KV connectors (v0.14.0 on).
- kvaware: the router's LMCache controller binds its PULL socket on `--lmcache-controller-port`; the
  chart gives the router container and Service one LMCache port, 9000, in every version, and points
  each engine at `<release>-router-service:<controllerPort>`: so the port is 9000, not a choice. The
  reply and heartbeat ports (router and engine keys from 0.1.11) need Service ports of their own
  (routerSpec.extraPorts). Each engine's LMCache instance id defaults to its pod name, unique per
  replica, which is what the controller needs; a fixed instanceId would be shared by every replica.
  Workers that never send heartbeats are dropped by the controller after 30 s, emptying its index.
- disaggregated_prefill: the router sends every request to the first endpoint whose `model` pod
  label is in --prefill-model-labels (with max_tokens 1), then to the first in
  --decode-model-labels, with the request's model id unchanged; the chart renders neither flag
  (they go in routerSpec.extraArgs). The prefill engine sends its KV cache over NIXL to the decode
  engine's Service (zmq-port 55555 in every version). `lmcacheConfig.enablePD` makes the chart run
  both pods with hostIPC and hostPID, which the Pod Security baseline profile refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from vllmctl.core import chart
from vllmctl.core.quantity import parse_quantity

CONTROLLER_PORT = 9000  # the chart's fixed router `lmcache-port`, container and Service
REPLY_PORT = 9001
HEARTBEAT_PORT = 9002
REPLY_SINCE = "0.1.11"  # routerSpec.lmcacheController{Reply,Heartbeat}Port, lmcacheConfig.controllerReplyPort
ENGINE_LOG_LEVEL_SINCE = "0.1.10"  # modelSpec[].lmcacheConfig.logLevel (0.1.8, 0.1.9: always DEBUG)
PREFIX_MIN_SINCE = "0.1.12"  # routerSpec.prefixMinMatchLength
WORKER_PORTS = "8001"  # the LMCache worker's own port in the engine pod, beside vLLM's 8000
HEARTBEAT_S = "10"  # well inside the controller's 30 s worker timeout
NIXL_PORT = "55555"  # the engine's zmq-port, container and Service, in every version
NIXL_BUFFER = "1073741824"  # 1 GiB of GPU memory for the KV transfer buffer
LMCACHE_IMAGE = "lmcache/vllm-openai"
VLLM_IMAGE = "vllm/vllm-openai"
VLLM_WITH_LMCACHE = (0, 14, 0)
KV_FLAG = "--kv-transfer-config"
ROLE_KV = {"prefill": "kv_producer", "decode": "kv_consumer"}
PD_LOGIC = "disaggregated_prefill"
ORCHESTRATED = "disaggregated_prefill_orchestrated"
PREFILL_FLAG, DECODE_FLAG = "--prefill-model-labels", "--decode-model-labels"
PRIVILEGED = "privileged"


class LMCache(BaseModel):
    """LMCache on this model's engine (`lmcacheConfig`); `role` only for disaggregated prefill."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    cpuOffloadingBufferSize: StrictInt | None = Field(default=None, ge=0, le=1 << 20)  # GB of pod memory
    diskOffloadingBufferSize: StrictInt | None = Field(default=None, ge=1, le=1 << 20)  # GB
    logLevel: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    role: Literal["prefill", "decode"] | None = None


@dataclass(frozen=True)
class Plan:
    """What the routing logic adds to every engine and to the router, from all models at once."""

    logic: str
    version: str
    release: str
    peers: dict[str, str] = field(default_factory=dict)  # disaggregated prefill: model -> its partner

    @property
    def replies(self) -> bool:
        return chart.at_least(self.version, REPLY_SINCE)


def plan(models, settings, version: str) -> Plan:
    enabled = [m for m in models if m.enabled]
    peers: dict[str, str] = {}
    if settings.routing_logic == PD_LOGIC:
        prefill = [m.name for m in enabled if m.lmcache and m.lmcache.role == "prefill"]
        decode = [m.name for m in enabled if m.lmcache and m.lmcache.role == "decode"]
        if len(prefill) == 1 and len(decode) == 1:
            peers = {prefill[0]: decode[0], decode[0]: prefill[0]}
    return Plan(settings.routing_logic, version, settings.release, peers)


# ---------------------------------------------------------------- models.yaml rules
def entry_problems(entry) -> list[tuple[tuple, str]]:
    """Rules across one entry's fields: (path within the entry, message)."""
    cache = entry.lmcache
    if cache is None:
        return []
    out: list[tuple[tuple, str]] = []
    if entry.multiNode is not None:
        out.append((("lmcache",), "LMCache is configured for single-node engines only (the chart's Ray cluster "
                                  "fixes its own KV transfer): drop lmcache or multiNode"))
    args = entry.vllmConfig.extraArgs if entry.vllmConfig else []
    for i, arg in enumerate(args):
        if arg.split("=", 1)[0] == KV_FLAG:
            out.append((("vllmConfig", "extraArgs", i), f"{KV_FLAG} is set by the chart from lmcache: delete it "
                                                        "here (two would fight)"))
    if cache.role is not None:
        for key in ("cpuOffloadingBufferSize", "diskOffloadingBufferSize"):
            if getattr(cache, key) is not None:
                out.append((("lmcache", key), f"a {cache.role} engine moves its KV cache over NIXL, not into an "
                                              "offload buffer (the chart turns local offloading off): delete it"))
        if entry.autoscaling is not None or entry.replicaCount > 1:
            where = ("autoscaling",) if entry.autoscaling is not None else ("replicaCount",)
            out.append((where, f"a {cache.role} engine runs one replica: the router uses the first prefill and the "
                               "first decode endpoint only, and the prefill sends its KV cache to the decode "
                               "Service, which could pick another replica"))
    return out


def release_problems(indexed: list[tuple[int, Any]], settings, version: str) -> list[tuple[int, tuple, str]]:
    """Rules across all models and the settings: (document index, path in the entry, message)."""
    logic = settings.routing_logic
    enabled = [(i, m) for i, m in indexed if m.enabled]
    out: list[tuple[int, tuple, str]] = []
    for i, m in enabled:
        cache = m.lmcache
        if logic == "kvaware" and cache is None:
            out.append((i, ("name",), "VLLM_ROUTING_LOGIC=kvaware routes by the KV cache LMCache reports from every "
                                      "engine: give this model `lmcache: {}` (or another routing logic)"))
        if cache is not None and cache.logLevel and not chart.at_least(version, ENGINE_LOG_LEVEL_SINCE):
            out.append((i, ("lmcache", "logLevel"), f"lmcache.logLevel needs vllm-stack chart "
                                                    f"{ENGINE_LOG_LEVEL_SINCE} or newer (before, the chart fixes "
                                                    f"DEBUG); VLLM_CHART_VERSION is {version}"))
        if cache is not None and cache.role is not None and logic != PD_LOGIC:
            out.append((i, ("lmcache", "role"), f"lmcache.role is for VLLM_ROUTING_LOGIC={PD_LOGIC} (it is "
                                                f"{logic}): delete it, or set that routing logic"))
    if logic == PD_LOGIC:
        out += _pd_problems(enabled, settings)
    return out


def _pd_problems(enabled: list[tuple[int, Any]], settings) -> list[tuple[int, tuple, str]]:
    out: list[tuple[int, tuple, str]] = []
    roles: dict[str, list[tuple[int, Any]]] = {"prefill": [], "decode": []}
    for i, m in enabled:
        if m.lmcache is None or m.lmcache.role is None:
            out.append((i, ("name",), f"VLLM_ROUTING_LOGIC={PD_LOGIC} sends every request to one prefill and one "
                                      "decode engine: give this model `lmcache: {role: prefill}` or "
                                      "`{role: decode}`, or disable it"))
        else:
            roles[m.lmcache.role].append((i, m))
    for role, found in roles.items():
        for i, _ in found[1:]:
            out.append((i, ("lmcache", "role"), f"a second {role} model ({found[0][1].name!r} is the first): the "
                                                "router uses only the first; keep one pair per release"))
    if enabled and (not roles["prefill"] or not roles["decode"]):
        missing = "prefill" if not roles["prefill"] else "decode"
        out.append((enabled[0][0], ("name",), f"VLLM_ROUTING_LOGIC={PD_LOGIC} needs a {missing} model too: give "
                                              f"one model `lmcache: {{role: {missing}}}`"))
    if roles["prefill"] and roles["decode"]:
        (pi, p), (di, d) = roles["prefill"][0], roles["decode"][0]
        if p.modelURL != d.modelURL:
            out.append((di, ("modelURL",), f"the decode model serves {d.modelURL} but the prefill model {p.name!r} "
                                           f"serves {p.modelURL}: both halves must run the same model"))
        if settings.pod_security != PRIVILEGED:
            out.append((pi, ("lmcache", "role"), "the chart runs prefill and decode engines with hostIPC and hostPID, "
                                                 f"which the Pod Security baseline of namespace {settings.namespace!r} "
                                                 "refuses: set VLLM_POD_SECURITY=privileged to label the namespace "
                                                 "privileged for this release"))
    return out


def settings_problems(settings, version: str, models) -> list[str]:
    """Settings that cannot work together, each a line naming the variable to change."""
    out = []
    length, logic = settings.router_prefix_min_match_length, settings.routing_logic
    if logic == ORCHESTRATED:
        out.append(f"VLLM_ROUTING_LOGIC={ORCHESTRATED} (chart 0.1.12's enum; the router hands KV transfer "
                   "parameters to engines running vLLM's own NIXL connector) cannot be configured: the chart renders "
                   f"only LMCache's connector for its engines; use {PD_LOGIC}")
    if length and logic != "prefixaware":
        out.append(f"VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH tunes prefixaware routing, but VLLM_ROUTING_LOGIC is "
                   f"{logic}: unset it or set VLLM_ROUTING_LOGIC=prefixaware")
    elif length and not chart.at_least(version, PREFIX_MIN_SINCE):
        out.append(f"VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH needs vllm-stack chart {PREFIX_MIN_SINCE} or newer (older "
                   f"charts drop it); VLLM_CHART_VERSION is {version}")
    if logic in ("kvaware", PD_LOGIC) and not settings.router_enabled:
        out.append(f"VLLM_ROUTING_LOGIC={logic} needs the router: set VLLM_ROUTER_ENABLED=true")
    roles = any(m.enabled and m.lmcache and m.lmcache.role for m in models)
    if settings.pod_security == PRIVILEGED and not (logic == PD_LOGIC and roles):
        out.append("VLLM_POD_SECURITY=privileged is only for disaggregated prefill (its engines need hostIPC and "
                   "hostPID): set it back to baseline")
    return out


def warnings(entry, settings) -> list[str]:
    if entry.lmcache is None:
        return []
    image, tag = entry.image or settings.model_image, entry.tag or settings.model_tag
    out = []
    if image != LMCACHE_IMAGE and not (image == VLLM_IMAGE and _vllm_with_lmcache(tag)):
        out.append(f"model {entry.name!r} runs LMCache but its image {image}:{tag} is not known to carry it "
                   f"(`{LMCACHE_IMAGE}`, or {VLLM_IMAGE} v0.14.0 and later): without it the engine exits at start")
    offload = entry.lmcache.cpuOffloadingBufferSize
    if offload and offload * 10**9 >= parse_quantity(entry.limitMemory or entry.requestMemory):
        which = "limitMemory" if entry.limitMemory else "requestMemory"
        out.append(f"model {entry.name!r}: lmcache.cpuOffloadingBufferSize {offload} GB is not below its {which} "
                   f"{entry.limitMemory or entry.requestMemory}, and the engine needs memory of its own besides the "
                   f"buffer: raise {which} or shrink the buffer")
    if entry.lmcache.role is not None and settings.pod_security == PRIVILEGED:
        out.append(f"model {entry.name!r} ({entry.lmcache.role}) runs with hostIPC and hostPID: namespace "
                   f"{settings.namespace!r} is labelled Pod Security privileged for it (VLLM_POD_SECURITY)")
    return out


def _vllm_with_lmcache(tag: str) -> bool:
    import re

    if tag in ("latest", "nightly"):
        return True
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag)
    return m is not None and tuple(map(int, m.groups())) >= VLLM_WITH_LMCACHE


# ---------------------------------------------------------------- rendering
def served_names(entry, p: Plan | None) -> list[str]:
    """The API model ids the engine answers to: its name, and a disaggregated partner's (the router
    forwards the request's model id to both halves unchanged)."""
    partner = p.peers.get(entry.name) if p else None
    return [entry.name, partner] if partner else [entry.name]


def engine_values(entry, p: Plan) -> dict | None:
    """The model's `lmcacheConfig`, or None without `lmcache`."""
    cache = entry.lmcache
    if cache is None:
        return None
    values: dict[str, object] = {"enabled": True}
    for key in ("cpuOffloadingBufferSize", "diskOffloadingBufferSize", "logLevel"):
        if getattr(cache, key) is not None:
            values[key] = getattr(cache, key)
    if p.logic == "kvaware":
        values.update(enableController=True, controllerPort=CONTROLLER_PORT, workerPorts=WORKER_PORTS,
                      workerHeartbeatTime=HEARTBEAT_S)
        if p.replies:
            values["controllerReplyPort"] = REPLY_PORT
    if cache.role is not None and entry.name in p.peers:
        prefill = cache.role == "prefill"
        values.update(kvRole=ROLE_KV[cache.role], enablePD=True, enableNixl=True,
                      nixlRole="sender" if prefill else "receiver",
                      nixlPeerHost=f"{p.release}-{p.peers[entry.name]}-engine-service" if prefill else "0.0.0.0",
                      nixlPeerPort=NIXL_PORT, nixlBufferSize=NIXL_BUFFER, nixlBufferDevice="cuda", nixlEnableGc=True)
    return values


def router_values(models, p: Plan, prefix_min_match_length: int) -> dict:
    """routerSpec keys the routing logic needs besides its name and session key."""
    out: dict[str, object] = {}
    if prefix_min_match_length:
        out["prefixMinMatchLength"] = prefix_min_match_length
    if p.logic == "kvaware":
        out["lmcacheControllerPort"] = CONTROLLER_PORT
        if p.replies:
            out.update(lmcacheControllerReplyPort=REPLY_PORT, lmcacheControllerHeartbeatPort=HEARTBEAT_PORT,
                       extraPorts=[{"name": name, "port": port, "targetPort": port, "protocol": "TCP"}
                                   for name, port in (("lmcache-reply", REPLY_PORT),
                                                      ("lmcache-heartbeat", HEARTBEAT_PORT))])
    if p.logic == PD_LOGIC and p.peers:
        by_role = {m.lmcache.role: m.name for m in models if m.name in p.peers}
        out["extraArgs"] = [PREFILL_FLAG, by_role["prefill"], DECODE_FLAG, by_role["decode"]]
    return out


# ---------------------------------------------------------------- the chart check (manifests)
@dataclass(frozen=True)
class Engine:
    """What the chart check read from one engine container."""

    model: str
    kv_role: str | None  # from --kv-transfer-config; None: no LMCache KV transfer
    controller: str  # LMCACHE_CONTROLLER_PULL_URL ("" when absent)
    reply: str  # LMCACHE_CONTROLLER_REPLY_URL
    host_namespaces: bool  # hostIPC or hostPID


def engine_of(model: str, spec: dict, env: dict[str, dict], serve_args: list[str]) -> Engine:
    import json

    role = None
    for i, arg in enumerate(serve_args[:-1]):
        if arg == KV_FLAG:
            try:
                role = str(json.loads(serve_args[i + 1]).get("kv_role") or "kv_both")
            except (ValueError, AttributeError):
                role = "kv_both"
    value = lambda name: str((env.get(name) or {}).get("value") or "")  # noqa: E731
    controller = value("LMCACHE_CONTROLLER_PULL_URL") if value("LMCACHE_ENABLE_CONTROLLER") == "True" else ""
    return Engine(model, role, controller, value("LMCACHE_CONTROLLER_REPLY_URL"),
                  bool(spec.get("hostIPC") or spec.get("hostPID")))


def _flag(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv[:-1] else None


def router_problems(argv: list[str], engines: list[Engine], service_ports: set[int] | None,
                    release: str) -> list[str]:
    """What keeps the routing logic in the router's argv from working with these engines."""
    logic = _flag(argv, "--routing-logic") or ""
    if logic == "session" and _flag(argv, "--session-key") is None:
        return ["routing logic session needs a session key (the request header that identifies a session) and the "
                "router exits at start without one: set VLLM_ROUTER_SESSION_KEY, e.g. x-user-id"]
    if logic == "kvaware":
        return _kvaware_problems(argv, engines, service_ports, release)
    if logic == PD_LOGIC:
        return _pd_router_problems(argv, engines)
    return []


def _kvaware_problems(argv, engines, service_ports, release) -> list[str]:
    port = _flag(argv, "--lmcache-controller-port")
    if port is None:
        return ["routing logic kvaware needs --lmcache-controller-port on the router (its LMCache controller): "
                "render with vllmctl, or set routerSpec.lmcacheControllerPort"]
    out = []
    without = [e.model for e in engines if e.kv_role is None or not e.controller]
    if without:
        out.append(f"routing logic kvaware needs LMCache with the controller on every engine, but {', '.join(without)} "
                   "report nothing to it: give each model `lmcache: {}`")
    wanted = f"{release}-router-service:{port}"
    wrong = [f"{e.model} ({e.controller})" for e in engines if e.controller and e.controller != wanted]
    if wrong:
        out.append(f"the router's LMCache controller listens on {wanted}, but engines push elsewhere: "
                   f"{', '.join(wrong)}")
    reply = _flag(argv, "--lmcache-controller-reply-port")
    if service_ports is not None:
        unreachable = [p for p in (port, reply) if p is not None and p.isdigit() and int(p) not in service_ports]
        if unreachable:
            out.append(f"the router Service has no port {', '.join(unreachable)}, so engines cannot reach the LMCache "
                       "controller there: add it to routerSpec.extraPorts (vllmctl does)")
    return out


def _pd_router_problems(argv, engines) -> list[str]:
    out = []
    by_model = {e.model: e for e in engines}
    for flag, role in ((PREFILL_FLAG, "kv_producer"), (DECODE_FLAG, "kv_consumer")):
        labels = [x for x in (_flag(argv, flag) or "").split(",") if x]
        what = "prefill" if role == "kv_producer" else "decode"
        if not labels:
            out.append(f"routing logic {PD_LOGIC} needs {flag} on the router: give one model "
                       f"`lmcache: {{role: {what}}}`")
            continue
        for label in labels:
            engine = by_model.get(label)
            if engine is None:
                out.append(f"{flag} names {label!r}, which is no engine of this release")
            elif engine.kv_role != role:
                out.append(f"{flag} names {label!r}, whose engine's KV role is {engine.kv_role or 'none'}, not "
                           f"{role}: give it `lmcache: {{role: {what}}}`")
    return out

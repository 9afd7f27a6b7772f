"""Routing, the pure rules: what each routing logic needs of models.yaml and the settings (refused at
the user's line, or naming the variable), and what rendering adds for it to the engines and the router."""

from __future__ import annotations

import pytest

from vllmctl.core import routing
from vllmctl.core.models_file import InvalidModels
from vllmctl.core.pod_security import namespace_labels
from vllmctl.core.render import RenderRequest, render
from vllmctl.core.settings import Settings
from vllmctl.errors import InvalidInput
from vllmctl.workflows.models import validate_text

CHAT = """\
- name: chat
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
"""
KV = CHAT + "  lmcache: {cpuOffloadingBufferSize: 20}\n"
PD = """\
- name: chat-prefill
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  lmcache: {role: prefill}
- name: chat
  modelURL: Qwen/Qwen2.5-0.5B-Instruct
  hfTokenRequired: false
  lmcache: {role: decode}
"""
PD_SETTINGS = {"routing_logic": "disaggregated_prefill", "pod_security": "privileged"}


def refused(text: str, **settings) -> list[str]:
    with pytest.raises(InvalidModels) as e:
        validate_text(text, "models.yaml", Settings(**settings))
    return [str(p) for p in e.value.problems]


def values(text: str, version: str = "0.1.12", **settings) -> dict:
    s = Settings(chart_version=version, **settings)
    loaded = validate_text(text, "models.yaml", s)
    return render(RenderRequest(models=loaded.models, settings=s, chart_version=version, source="models.yaml")).values


# ---------------------------------------------------------------- models.yaml and settings rules
def test_kvaware_needs_lmcache_on_every_engine_at_the_models_line():
    (problem,) = refused(CHAT + KV.replace("name: chat", "name: other"), routing_logic="kvaware")
    assert problem.startswith("models.yaml:1:9: VLLM_ROUTING_LOGIC=kvaware routes by the KV cache") and \
        "give this model `lmcache: {}`" in problem
    assert validate_text(KV, "models.yaml", Settings(routing_logic="kvaware")).models[0].lmcache is not None


@pytest.mark.parametrize(("text", "settings", "expected"), [
    (CHAT + "  lmcache: {role: prefill}\n", {}, "models.yaml:4:19: lmcache.role is for "
                                                "VLLM_ROUTING_LOGIC=disaggregated_prefill (it is roundrobin)"),
    (PD.replace("role: decode", "role: prefill"), PD_SETTINGS, "a second prefill model ('chat-prefill' is the first)"),
    (PD.split("- name: chat\n")[0], PD_SETTINGS, "needs a decode model too"),
    (PD + CHAT.replace("name: chat", "name: plain"), PD_SETTINGS, "models.yaml:9:9: VLLM_ROUTING_LOGIC="
                                                                 "disaggregated_prefill sends every request to one"),
    (PD.replace("0.5B-Instruct\n  hfTokenRequired: false\n  lmcache: {role: decode}",
                "1.5B-Instruct\n  hfTokenRequired: false\n  lmcache: {role: decode}"), PD_SETTINGS,
     "models.yaml:6:13: the decode model serves Qwen/Qwen2.5-1.5B-Instruct but the prefill model 'chat-prefill'"),
    (PD, {"routing_logic": "disaggregated_prefill"}, "models.yaml:4:19: the chart runs prefill and decode engines "
                                                     "with hostIPC and hostPID, which the Pod Security baseline of "
                                                     "namespace 'vllm' refuses: set VLLM_POD_SECURITY=privileged"),
    (PD.replace("{role: decode}", "{role: decode, cpuOffloadingBufferSize: 4}"), PD_SETTINGS,
     "a decode engine moves its KV cache over NIXL, not into an offload buffer"),
    (PD.replace("  lmcache: {role: decode}", "  replicaCount: 2\n  lmcache: {role: decode}"), PD_SETTINGS,
     "models.yaml:8:17: a decode engine runs one replica"),
    (KV.replace("{cpuOffloadingBufferSize: 20}", "{logLevel: INFO}"), {"chart_version": "0.1.9"},
     "models.yaml:4:23: lmcache.logLevel needs vllm-stack chart 0.1.10 or newer"),
    (KV + "  vllmConfig: {extraArgs: ['--kv-transfer-config', '{}']}\n", {}, "models.yaml:5:28: --kv-transfer-config "
                                                                              "is set by the chart from lmcache"),
    (KV + "  requestGPU: 2\n  multiNode: {nodes: 2}\n", {}, "LMCache is configured for single-node engines only"),
])
def test_incomplete_or_contradictory_routing_is_refused_at_its_line(text, settings, expected):
    problems = refused(text, **settings)
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize(("settings", "expected"), [
    ({"router_prefix_min_match_length": 256}, "VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH tunes prefixaware routing, but "
                                              "VLLM_ROUTING_LOGIC is roundrobin"),
    ({"router_prefix_min_match_length": 256, "routing_logic": "prefixaware", "chart_version": "0.1.11"},
     "VLLM_ROUTER_PREFIX_MIN_MATCH_LENGTH needs vllm-stack chart 0.1.12 or newer"),
    ({"pod_security": "privileged"}, "VLLM_POD_SECURITY=privileged is only for disaggregated prefill"),
    ({"routing_logic": "kvaware", "router_enabled": False}, "VLLM_ROUTING_LOGIC=kvaware needs the router"),
    ({"routing_logic": "disaggregated_prefill_orchestrated"}, "cannot be configured: the chart renders only "
                                                              "LMCache's connector"),
])
def test_settings_that_cannot_work_together_name_the_variable(settings, expected):
    with pytest.raises(InvalidInput, match=expected):
        validate_text(KV, "models.yaml", Settings(**settings))


@pytest.mark.parametrize(("image", "warned"), [
    ({}, False),  # vllm/vllm-openai v0.32.0 ships LMCache
    ({"image": "lmcache/vllm-openai", "tag": "v0.3.9post2"}, False),
    ({"image": "vllm/vllm-openai", "tag": "v0.10.1"}, True),
    ({"image": "example.com/my-vllm", "tag": "v1"}, True),
])
def test_an_image_not_known_to_carry_lmcache_is_a_warning(image, warned):
    extra = "".join(f"  {k}: {v}\n" for k, v in image.items())
    loaded = validate_text(KV + extra, "models.yaml", Settings())
    assert any("is not known to carry it" in w for w in loaded.warnings) == warned, loaded.warnings


@pytest.mark.parametrize(("memory", "warned"), [("21Gi", False), ("20G", True), ("16Gi", True)])
def test_a_cpu_offload_buffer_that_leaves_the_engine_no_memory_is_a_warning(memory, warned):
    loaded = validate_text(KV + f"  requestMemory: {memory}\n", "models.yaml", Settings())
    found = [w for w in loaded.warnings if "cpuOffloadingBufferSize 20 GB is not below its requestMemory" in w]
    assert bool(found) == warned, loaded.warnings


def test_the_privileged_opt_in_says_so_for_each_half():
    loaded = validate_text(PD, "models.yaml", Settings(**PD_SETTINGS))
    assert [w for w in loaded.warnings if "hostIPC and hostPID" in w] == [
        "model 'chat-prefill' (prefill) runs with hostIPC and hostPID: namespace 'vllm' is labelled Pod Security "
        "privileged for it (VLLM_POD_SECURITY)",
        "model 'chat' (decode) runs with hostIPC and hostPID: namespace 'vllm' is labelled Pod Security privileged "
        "for it (VLLM_POD_SECURITY)"]
    assert namespace_labels("privileged")["pod-security.kubernetes.io/enforce"] == "privileged"
    assert namespace_labels("privileged")["pod-security.kubernetes.io/warn"] == "baseline"


# ---------------------------------------------------------------- rendering
def test_lmcache_alone_is_offloading_without_the_controller():
    spec = values(KV)["servingEngineSpec"]["modelSpec"][0]
    assert spec["lmcacheConfig"] == {"enabled": True, "cpuOffloadingBufferSize": 20}
    assert "lmcacheControllerPort" not in values(KV)["routerSpec"]


@pytest.mark.parametrize("version", ["0.1.10", "0.1.11"])
def test_kvaware_adds_the_controller_and_its_ports_where_the_chart_has_them(version):
    v = values(KV, version, routing_logic="kvaware")
    config, router = v["servingEngineSpec"]["modelSpec"][0]["lmcacheConfig"], v["routerSpec"]
    assert config["enableController"] is True and config["controllerPort"] == routing.CONTROLLER_PORT == 9000
    assert config["workerHeartbeatTime"] == "10" and "instanceId" not in config  # the pod name: one per replica
    assert router["routingLogic"] == "kvaware" and router["lmcacheControllerPort"] == 9000
    replies = version == "0.1.11"
    assert ("controllerReplyPort" in config) == replies and ("lmcacheControllerReplyPort" in router) == replies
    assert [p["port"] for p in router.get("extraPorts", [])] == ([9001, 9002] if replies else [])


def test_disaggregated_prefill_pairs_the_halves():
    v = values(PD, **PD_SETTINGS)
    prefill, decode = v["servingEngineSpec"]["modelSpec"]
    assert prefill["lmcacheConfig"]["kvRole"] == "kv_producer" and decode["lmcacheConfig"]["kvRole"] == "kv_consumer"
    assert prefill["lmcacheConfig"]["nixlPeerHost"] == "vllm-chat-engine-service"
    assert decode["lmcacheConfig"]["nixlRole"] == "receiver" and decode["lmcacheConfig"]["enablePD"] is True
    # the router forwards the request's model id to both halves unchanged: both answer to both names
    assert prefill["vllmConfig"]["extraArgs"][:3] == ["--served-model-name", "chat-prefill", "chat"]
    assert decode["vllmConfig"]["extraArgs"][:3] == ["--served-model-name", "chat", "chat-prefill"]
    assert v["routerSpec"]["extraArgs"] == ["--prefill-model-labels", "chat-prefill", "--decode-model-labels", "chat"]


def test_prefix_min_match_length_reaches_the_router_values():
    v = values(CHAT, routing_logic="prefixaware", router_prefix_min_match_length=256)
    assert v["routerSpec"]["prefixMinMatchLength"] == 256
    assert "prefixMinMatchLength" not in values(CHAT, routing_logic="prefixaware")["routerSpec"]

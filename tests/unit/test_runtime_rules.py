"""Runtime features, the pure rules: start-up budget, router exposure, GPU vendors, chat templates."""

from __future__ import annotations

import dataclasses
import math

import pytest

from vllmctl.core import exposure, fit, placement, scaling, startup
from vllmctl.core.models import ModelEntry, cross_field_problems
from vllmctl.core.preflight import ClusterFacts, NodeFacts, check, required_apis
from vllmctl.core.settings import Settings

GIB = 1 << 30
GPU = "nvidia.com/gpu"


def entry(**kw) -> ModelEntry:
    return ModelEntry(name="m", modelURL="org/model", **kw)


# ---------------------------------------------------------------- start-up budget
def test_probe_window_covers_the_budget_and_no_more_than_one_period():
    for budget in (616, 900, 2700, 7200):
        window = startup.probe_window_s(startup.startup_probe(budget))
        assert budget <= window < budget + startup.PERIOD_S


def test_chart_default_window_is_the_charts_own():
    assert startup.probe_window_s(startup.startup_probe(startup.CHART_DEFAULT_S)) == 615


def test_explicit_timeout_wins_even_below_the_chart_default():
    b = startup.model_budget("m", 300, "500Gi", "50Mi")
    assert (b.seconds, b.source) == (300, "startupTimeout")


def test_estimate_from_the_cache_volume_bounds_download_and_load():
    b = startup.model_budget("m", None, "100Gi", "100M")
    size = 100 * GIB
    expected = size / 100e6 + size / fit.LOAD_BYTES_PER_SECOND + fit.ENGINE_INIT_SECONDS
    assert b.source == "estimate" and b.seconds == math.ceil(expected)


def test_estimate_never_shortens_the_chart_default():
    assert startup.model_budget("m", None, "1Gi", "1Gi").seconds == startup.CHART_DEFAULT_S


def test_no_cache_volume_and_no_timeout_keeps_the_chart_default():
    b = startup.model_budget("m", None, "", "100M")
    assert (b.seconds, b.source) == (startup.CHART_DEFAULT_S, "chart default")


def test_the_fit_check_compares_with_the_rendered_probe_window():
    from vllmctl.workflows.fit import startup_budget

    values = {"servingEngineSpec": {"startupProbe": startup.startup_probe(2700)}}
    assert 2700 <= startup_budget(values) < 2710
    assert startup_budget({}) == startup.CHART_DEFAULT_S


@pytest.mark.parametrize("value,message", [
    ("59s", "under a minute"), ("soon", "not a duration"), ("10", "not a duration"),
])
def test_startup_timeout_is_a_duration_of_at_least_a_minute(value, message):
    with pytest.raises(ValueError, match=message):
        entry(startupTimeout=value)


def test_startup_timeout_of_a_minute_is_accepted():
    assert entry(startupTimeout="1m").startupTimeout == "1m"


# ---------------------------------------------------------------- placement fields
@pytest.mark.parametrize("field,value,message", [
    ("requestGPUType", "gpu", "extended resource name"),
    ("requestGPUType", "NVIDIA.com/gpu", "extended resource name"),
    ("imagePullSecret", "Reg_Cred", "not a valid Kubernetes name"),
    ("limitCPU", "lots", "limitCPU"),
    ("limitCPU", 0, "limitCPU"),
    ("affinity", {"nodeAffinty": {}}, "Extra inputs"),
])
def test_placement_fields_refuse_what_kubernetes_refuses(field, value, message):
    with pytest.raises(ValueError, match=message):
        entry(**{field: value})


def test_limit_cpu_below_request_is_refused_at_the_boundary():
    assert cross_field_problems(entry(requestCPU=8, limitCPU=8), "vllm") == []
    assert cross_field_problems(entry(requestCPU=8, limitCPU="8000m"), "vllm") == []
    (loc, message), = cross_field_problems(entry(requestCPU=8, limitCPU="7999m"), "vllm")
    assert loc == ("limitCPU",) and "below requestCPU 8" in message


def test_affinity_with_node_selector_terms_is_refused_since_the_chart_ignores_the_terms():
    terms = [{"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}]
    (loc, message), = cross_field_problems(entry(affinity={"nodeAffinity": {}}, nodeSelectorTerms=terms), "vllm")
    assert loc == ("nodeSelectorTerms",) and "ignores nodeSelectorTerms" in message


# ---------------------------------------------------------------- GPU vendors
def test_amd_gpus_under_the_nvidia_runtime_class_are_refused():
    errors, warnings = placement.vendor_problems(entry(requestGPUType="amd.com/gpu"), "nvidia", "vllm/vllm-openai")
    assert errors[0][0] == ("requestGPUType",) and "AMD GPU" in errors[0][1] and "runtimeClassName" in errors[0][1]
    assert "CUDA image" in warnings[0]


def test_amd_gpus_with_their_own_runtime_and_image_pass():
    m = entry(requestGPUType="amd.com/gpu", runtimeClassName="", image="rocm/vllm")
    assert placement.vendor_problems(m, "nvidia", "vllm/vllm-openai") == ([], [])


def test_nvidia_mig_slices_are_nvidias():
    m = entry(requestGPUType="nvidia.com/mig-3g.40gb")
    assert placement.vendor_problems(m, "nvidia", "vllm/vllm-openai") == ([], [])
    assert placement.gpu_resource(m) == "nvidia.com/mig-3g.40gb"


# ---------------------------------------------------------------- chat templates
@pytest.mark.parametrize("name,data,message", [
    ("bad name.jinja", b"x", "ConfigMap key"),
    ("t.jinja", b"\xff\xfe", "not UTF-8"),
    ("t.jinja", b"a\x00b", "control character"),
    ("t.jinja", b"  \n", "empty"),
    ("t.jinja", b"x" * (placement.CHAT_TEMPLATE_MAX + 1), "at most"),
])
def test_chat_template_files_that_cannot_be_mounted(name, data, message):
    assert message in placement.chat_template_problem(name, data)


def test_chat_template_at_the_size_limit_passes():
    assert placement.chat_template_problem("t.jinja", b"x" * placement.CHAT_TEMPLATE_MAX) is None


# ---------------------------------------------------------------- exposure
def settings(**kw) -> Settings:
    return dataclasses.replace(Settings(), **kw)


@pytest.mark.parametrize("kw,fragment", [
    ({"router_expose": "ingress"}, "needs VLLM_ROUTER_HOST"),
    ({"router_expose": "gateway"}, "needs VLLM_GATEWAY"),
    ({"router_expose": "nodeport", "router_enabled": False}, "needs the router"),
    ({"router_host": "a.example.com"}, "needs ingress or gateway"),
    ({"router_expose": "gateway", "gateway": "gw", "router_tls_secret": "tls"}, "Gateway listener"),
    ({"router_expose": "nodeport", "router_node_port": 29999}, "outside the NodePort range"),
    ({"router_expose": "loadbalancer", "router_node_port": 30080}, "VLLM_ROUTER_EXPOSE=nodeport"),
    ({"gateway": "a/b/c", "router_expose": "gateway"}, "NAME or NAMESPACE/NAME"),
    ({"ingress_class": "nginx"}, "VLLM_ROUTER_EXPOSE=ingress"),
])
def test_exposure_settings_that_cannot_work(kw, fragment):
    assert any(fragment in p for p in exposure.problems(settings(**kw), "0.1.12"))


def test_fixed_node_port_and_pull_secrets_are_version_gated():
    s = settings(router_expose="nodeport", router_node_port=30080, router_image_pull_secrets="reg")
    assert exposure.problems(s, "0.1.12") == []
    assert any("0.1.11 or newer" in p for p in exposure.problems(s, "0.1.10"))
    assert any("0.1.9 or newer" in p for p in exposure.problems(s, "0.1.8"))


def test_exposure_values():
    s = settings(router_expose="ingress", router_host="llm.example.com", ingress_class="nginx",
                 router_tls_secret="llm-tls")
    assert exposure.router_values(s)["ingress"] == {
        "enabled": True, "className": "nginx",
        "hosts": [{"host": "llm.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
        "tls": [{"secretName": "llm-tls", "hosts": ["llm.example.com"]}]}
    assert exposure.external_url(s) == "https://llm.example.com/v1"
    gw = exposure.router_values(settings(router_expose="gateway", gateway="infra/edge"))
    assert gw["route"]["main"]["parentRefs"] == [{"name": "edge", "namespace": "infra"}]
    assert exposure.router_values(settings()) == {}


def test_exposed_router_without_api_key_warns():
    assert exposure.warnings(settings(router_expose="loadbalancer", api_key_enabled=False))
    assert exposure.warnings(settings(router_expose="loadbalancer")) == []
    assert exposure.warnings(settings(api_key_enabled=False)) == []


def test_preflight_refuses_a_route_the_cluster_cannot_serve():
    required = required_apis(exposure.ROUTE_API)
    missing = check([], ClusterFacts(), storage_class="", runtime_class="", update_strategy="Recreate",
                    required=required)
    assert [f.rule for f in missing] == ["api-missing"] and "HTTPRoute" in missing[0].message
    served = ClusterFacts(served={exposure.ROUTE_API: frozenset({"HTTPRoute", "Gateway"})})
    assert check([], served, storage_class="", runtime_class="", update_strategy="Recreate",
                 required=required) == []


# ---------------------------------------------------------------- autoscaling and metrics
def test_autoscaling_renders_a_queue_trigger_and_a_wake_trigger_only_for_scale_to_zero():
    m = entry(autoscaling={"minReplicas": 1, "maxReplicas": 4, "targetQueueLength": 8, "idleAfter": "10m"})
    keda = scaling.keda_values("m", m.autoscaling, "http://prom:9090")
    assert (keda["minReplicaCount"], keda["maxReplicaCount"], keda["cooldownPeriod"]) == (1, 4, 600)
    assert [t["metadata"]["query"] for t in keda["triggers"]] == ['sum(vllm:num_requests_waiting{model_name="m"})']
    assert keda["triggers"][0]["metadata"]["threshold"] == "8"
    zero = scaling.keda_values("m", entry(autoscaling={"minReplicas": 0, "maxReplicas": 2}).autoscaling, "u")
    assert "vllm:num_incoming_requests_total{model=\"m\"}" in zero["triggers"][1]["metadata"]["query"]


@pytest.mark.parametrize("kw,loc,fragment", [
    ({"autoscaling": {"minReplicas": 3, "maxReplicas": 2}}, ("autoscaling", "minReplicas"), "above maxReplicas"),
    ({"autoscaling": {"maxReplicas": 2}, "replicaCount": 2}, ("replicaCount",), "not used with autoscaling"),
])
def test_autoscaling_rules(kw, loc, fragment):
    (got_loc, message), = cross_field_problems(entry(**kw), "vllm")
    assert got_loc == loc and fragment in message


def test_autoscaling_at_its_bounds_is_accepted():
    assert cross_field_problems(entry(autoscaling={"minReplicas": 2, "maxReplicas": 2}), "vllm") == []
    with pytest.raises(ValueError, match="duration"):
        entry(autoscaling={"maxReplicas": 2, "idleAfter": "0s"})


def _facts(free: int) -> ClusterFacts:
    return ClusterFacts(nodes=[NodeFacts("n", {GPU: free})], served={scaling.KEDA_API: frozenset({"ScaledObject"})})


def test_preflight_counts_autoscaled_models_at_minimum_and_warns_at_maximum():
    m = entry(requestGPU=1, pvcStorage="", autoscaling={"minReplicas": 1, "maxReplicas": 3})
    required = required_apis(None, autoscaled=True)
    assert check([m], _facts(3), storage_class="", runtime_class="", update_strategy="Recreate",
                 required=required) == []
    (warning,) = check([m], _facts(2), storage_class="", runtime_class="", update_strategy="Recreate",
                       required=required)
    assert warning.rule == "gpu-autoscale-max" and warning.severity == "warning"
    zero = entry(requestGPU=1, pvcStorage="", autoscaling={"minReplicas": 0, "maxReplicas": 1})
    missing = check([zero], ClusterFacts(nodes=[NodeFacts("n", {GPU: 1})]), storage_class="", runtime_class="",
                    update_strategy="Recreate", required=required)
    assert [f.rule for f in missing] == ["api-missing"] and "install KEDA" in missing[0].message


def test_monitoring_needs_chart_0_1_11_and_well_formed_labels():
    assert scaling.monitoring_problems("0.1.11", True, "release=kps") == []
    assert "0.1.11 or newer" in scaling.monitoring_problems("0.1.10", True, "")[0]
    assert "KEY=VALUE" in scaling.monitoring_problems("0.1.12", True, "release")[0]
    assert scaling.monitoring_values({"release": "kps"})[0] == {"enabled": True, "additionalLabels": {"release": "kps"}}

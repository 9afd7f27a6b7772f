"""core.overlay and core.yaml_positions: helm -f merge semantics, the checks, hostile YAML."""

from __future__ import annotations

import pytest

from vllmctl.core import overlay
from vllmctl.core.yaml_positions import MAX_BYTES, YamlProblem, load


def test_merge_is_helm_minus_f():
    base = {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "x": 1}
    over = {"a": {"c": [3], "d": {"f": 2}, "g": None}, "x": None}
    assert overlay.merge(base, over) == {"a": {"b": 1, "c": [3], "d": {"e": 1, "f": 2}, "g": None}, "x": None}
    assert overlay.merge(base, over, keep_null=False) == {"a": {"b": 1, "c": [3], "d": {"e": 1, "f": 2}}}
    assert base == {"a": {"b": 1, "c": [1, 2], "d": {"e": 1}}, "x": 1}  # inputs untouched


def test_apply_merges_model_specs_then_files_in_order():
    values = {"servingEngineSpec": {"modelSpec": [{"name": "a", "tag": "t", "vllmConfig": {"extraArgs": []}},
                                                  {"name": "b"}]}, "routerSpec": {"replicaCount": 1}}
    files = overlay.Overlay([overlay.OverlayFile("1.yaml", "", {"routerSpec": {"serviceType": "NodePort"}}),
                             overlay.OverlayFile("2.yaml", "", {"routerSpec": {"serviceType": "LoadBalancer"}})])
    merged = overlay.apply(values, files, {"a": {"limitCPU": 2, "vllmConfig": {"maxLoras": 3}, "tag": None}})
    assert merged["servingEngineSpec"]["modelSpec"] == [
        {"name": "a", "vllmConfig": {"extraArgs": [], "maxLoras": 3}, "limitCPU": 2}, {"name": "b"}]
    assert merged["routerSpec"] == {"replicaCount": 1, "serviceType": "LoadBalancer"}
    assert values["servingEngineSpec"]["modelSpec"][0]["tag"] == "t"


@pytest.mark.parametrize(("values", "phrase"), [
    ({"routerSpec": {"serviceTyp": "x"}}, "did you mean 'serviceType'"),
    ({"routerSpec": {"servicePort": "80"}}, "remove the quotes"),
    ({"routerSpec": {"serviceDiscovery": "dns"}}, "must be one of k8s"),
    ({"routerSpec": {"serviceType": "NodePort"}}, "VLLM_ROUTER_EXPOSE"),
    ({"routerSpec": {"nodePort": 30080}}, "VLLM_ROUTER_NODE_PORT"),
    ({"servingEngineSpec": {"startupProbe": {"failureThreshold": 90}}}, "startupTimeout"),
    ({"routerSpec": {"routingLogic": "session"}}, "VLLM_ROUTING_LOGIC"),
    ({"routerSpec": {"resources": None}}, "would delete keys vllmctl sets"),
    ({"routerSpec": {"extraArgs": ["--api-key", "sk-abcdefghijklmnopqrst"]}}, "looks like a token"),
    ({"servingEngineSpec": {"env": [{"name": "HF_TOKEN", "valueFrom": {}}]}}, "set by vllmctl from a Secret"),
    ({"loraAdapters": [{"adapterSource": {"credentials": "s3cr3t"}}]}, "reference a Secret"),
    ({"routerSpec": {"route": {"extra": {"enabeld": True}}}}, "did you mean 'enabled'"),
])
def test_check_values_refuses(values, phrase):
    found = overlay.check_values(values, "0.1.12")
    assert found and phrase in found[0].message, found


def test_check_values_accepts_free_form_and_null():
    values = {"routerSpec": {"resources": {"limits": {"cpu": "2", "nvidia.com/gpu": 1}},
                             "affinity": {"anything": {"goes": [1]}}, "priorityClassName": None,
                             "route": {"extra": {"enabled": True}}},
              "servingEngineSpec": {"containerSecurityContext": None, "labels": {"a.b/c": "d"}}}
    assert overlay.check_values(values, "0.1.12") == []


def test_model_spec_names_the_first_class_field():
    [finding] = overlay.check_model_spec({"vllmConfig": {"maxModelLen": 4}}, "0.1.12")
    assert "use `vllmConfig.maxModelLen` instead" in finding.message
    assert finding.loc == ("vllmConfig", "maxModelLen")
    assert overlay.check_model_spec({"vllmConfig": {"maxLoras": 4}, "serviceAccountName": "sa"}, "0.1.12") == []
    [keda] = overlay.check_model_spec({"keda": {"enabled": True}}, "0.1.12")
    assert "use `autoscaling` instead" in keda.message


def test_positions_of_keys_and_values():
    located = load("a:\n  b: [1, {c: 2}]\n")
    assert located.value == {"a": {"b": [1, {"c": 2}]}}
    assert located.locate(("a", "b", 1, "c"), key=True) == (2, 11)
    assert located.locate(("a", "b", 1, "c")) == (2, 14)
    assert located.locate(("a", "missing")) == (2, 3)


@pytest.mark.parametrize(("text", "phrase"), [
    ("a: &x [1]\nb: *x\n", "anchors and aliases"),
    ("base: &b {x: 1}\nother:\n  <<: *b\n", "merge keys"),
    ("a: !!python/object:os.system x\n", "not allowed"),
    ("a: !custom 1\n", "not allowed"),
    ("? [1, 2]\n: x\n", "not text"),
    ("1: x\n", "not text"),
    ("a: 1\na: 2\n", "duplicate key 'a' (first on line 1)"),
    ("a: [1\n", "invalid YAML"),
    ("---\na: 1\n---\nb: 2\n", "invalid YAML"),
    ("a:" + " [" * 70 + " ]" * 70 + "\n", "deeper than"),
])
def test_hostile_yaml_is_one_problem(text, phrase):
    with pytest.raises(YamlProblem) as err:
        load(text)
    assert phrase in err.value.message


def test_size_cap():
    with pytest.raises(YamlProblem, match="larger than"):
        load("a: " + "x" * MAX_BYTES + "\n")
